/**
 * Plain text tables for people. Every cell is attacker-reachable text (image, pod, user
 * names), so each is passed through `visible` first: no control, bidi or zero-width character
 * reaches the terminal and a newline can never forge a row. Tables fit `maxWidth` columns
 * (default 100) by cutting the widest cells with "…"; `-o wide` passes `Infinity`.
 */
import { visible } from '../lambdas/core/visible.ts';

export const TABLE_WIDTH = 100;
const GAP = 2;
/** No column is cut narrower than this (or its header). */
const MIN_COLUMN = 6;

export interface TableOptions {
  /** Total width to fit; `Infinity` shows every cell whole. */
  maxWidth?: number;
  /** Styles the header row and, per cell, e.g. a severity (colour on a terminal). */
  styleHeader?: (text: string) => string;
  styleCell?: (text: string, column: number, row: number) => string;
}

/** Terminal columns a code point takes: 0 for combining marks, 2 for East Asian wide ones. */
function charWidth(code: number): number {
  if (
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x1f300 && code <= 0x1f64f) ||
    (code >= 0x1f900 && code <= 0x1f9ff) ||
    (code >= 0x20000 && code <= 0x3fffd)
  )
    return 2;
  return 1;
}

const COMBINING = /\p{M}/u;

/** Printable ASCII only: one column per character (most cells; a large replay has thousands). */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** The same, or such a cell after `truncate` (its "…" is one column too). */
const PRINTABLE_ASCII_CUT = /^[\x20-\x7e]*\u2026?$/;

export function textWidth(text: string): number {
  return PRINTABLE_ASCII_CUT.test(text) ? text.length : widthByCodePoint(text);
}

/** `textWidth` one code point at a time (what the ASCII shortcut must equal). */
export function widthByCodePoint(text: string): number {
  let w = 0;
  for (const c of text) w += COMBINING.test(c) ? 0 : charWidth(c.codePointAt(0) ?? 0);
  return w;
}

/** `text` cut to `width` columns, ending in "…" when cut. */
export function truncate(text: string, width: number): string {
  if (PRINTABLE_ASCII.test(text)) {
    return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
  }
  return truncateByCodePoint(text, width);
}

/** `truncate` one code point at a time (what the ASCII shortcut must equal). */
export function truncateByCodePoint(text: string, width: number): string {
  if (widthByCodePoint(text) <= width) return text;
  let out = '';
  let w = 0;
  for (const c of text) {
    const cw = COMBINING.test(c) ? 0 : charWidth(c.codePointAt(0) ?? 0);
    if (w + cw > width - 1) break;
    out += c;
    w += cw;
  }
  return `${out}…`;
}

function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - textWidth(text)));
}

/** Column widths: natural, then the widest shrunk one at a time until the row fits. */
export function fitWidths(natural: number[], minimums: number[], maxWidth: number): number[] {
  const widths = [...natural];
  const total = () => widths.reduce((a, b) => a + b, 0) + GAP * (widths.length - 1);
  let excess = total() - maxWidth;
  while (excess > 0) {
    let widest = -1;
    for (let i = 0; i < widths.length; i++) {
      if ((widths[i] ?? 0) <= (minimums[i] ?? 0)) continue;
      if (widest < 0 || (widths[i] ?? 0) > (widths[widest] ?? 0)) widest = i;
    }
    if (widest < 0) break; // cannot shrink further: the row overflows rather than lose headers
    const current = widths[widest] ?? 0;
    // Down to the next-widest column at once (ties: one column at a time).
    const next = Math.max(minimums[widest] ?? 0, ...widths.filter((_, i) => i !== widest));
    const step = Math.max(1, Math.min(excess, current - next));
    widths[widest] = current - step;
    excess -= step;
  }
  return widths;
}

/** A table: columns padded to their widest cell, the last column left ragged. */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  opts: TableOptions = {},
): string {
  const maxWidth = opts.maxWidth ?? TABLE_WIDTH;
  const n = header.length;
  // Printable ASCII (nearly every cell of a large replay) is its own visible form, one column
  // per character: such cells skip `visible` and the width regexes. Plain loops: this runs
  // once per process over tens of thousands of cells, mostly before the JIT has warmed up.
  const cells: string[][] = [];
  const ascii: boolean[][] = [];
  const natural = header.map((h) => textWidth(h));
  for (const r of rows) {
    const row: string[] = [];
    const plain: boolean[] = [];
    for (let i = 0; i < n; i++) {
      const raw = r[i] ?? '';
      const isAscii = PRINTABLE_ASCII.test(raw);
      const c = isAscii ? raw : visible(raw);
      row.push(c);
      plain.push(isAscii);
      const w = isAscii ? c.length : textWidth(c);
      if (w > (natural[i] ?? 0)) natural[i] = w;
    }
    cells.push(row);
    ascii.push(plain);
  }
  const minimums = header.map((h) => Math.max(textWidth(h), MIN_COLUMN));
  const widths = Number.isFinite(maxWidth) ? fitWidths(natural, minimums, maxWidth) : natural;
  const gap = ' '.repeat(GAP);
  const line = (
    row: readonly string[],
    plain: readonly boolean[] | undefined,
    style: (text: string, col: number) => string,
  ) => {
    let out = '';
    for (let i = 0; i < row.length; i++) {
      const c = row[i] ?? '';
      const w = widths[i] ?? 0;
      const last = i === row.length - 1;
      let padded: string;
      if (plain?.[i]) padded = asciiCell(c, w, last);
      else padded = last ? truncate(c, w) : pad(truncate(c, w), w);
      out += i === 0 ? style(padded, i) : gap + style(padded, i);
    }
    return out.trimEnd();
  };
  const headerStyle = opts.styleHeader ?? ((t: string) => t);
  const lines = [line(header, undefined, (t) => headerStyle(t))];
  for (let ri = 0; ri < cells.length; ri++) {
    lines.push(
      line(cells[ri] ?? [], ascii[ri], (t, ci) => (opts.styleCell ? opts.styleCell(t, ci, ri) : t)),
    );
  }
  return lines.join('\n');
}

/** `truncate` then `pad` (unless `last`) of a printable-ASCII cell: one column per character. */
function asciiCell(text: string, width: number, last: boolean): string {
  const cut = text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
  return last ? cut : cut + ' '.repeat(Math.max(0, width - cut.length));
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
