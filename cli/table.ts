/** A plain text table: columns padded to their widest cell, the last column left ragged. */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  // A loop, not Math.max(...cells): a spread of every row overflows the stack on large outputs.
  const widths = header.map((h, i) => {
    let w = h.length;
    for (const r of rows) w = Math.max(w, (r[i] ?? '').length);
    return w;
  });
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
