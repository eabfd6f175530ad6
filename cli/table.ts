/** A plain text table: columns padded to their widest cell, the last column left ragged. */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** The columns a finding shows in every table: `findings list` and `replay` add their own around them. */
export const FINDING_COLUMNS = [
  'SEVERITY',
  'RULE',
  'WHERE',
  'WORKLOAD',
  'CONTAINER',
  'IMAGE',
  'COUNT',
  'ACTOR',
] as const;

export interface FindingCellsInput {
  severity: string;
  rule: string;
  cluster: string;
  namespace: string;
  workload: { kind: string; name: string };
  container: string;
  image: string;
  count: number;
  actor: { username: string } | null;
}

export function findingCells(f: FindingCellsInput): string[] {
  return [
    f.severity.toUpperCase(),
    f.rule,
    `${f.cluster}/${f.namespace}`,
    `${f.workload.kind}/${f.workload.name}`,
    f.container,
    f.image,
    String(f.count),
    f.actor?.username ?? '-',
  ];
}
