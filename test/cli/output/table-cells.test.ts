import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  fitWidths,
  formatTable,
  type TableOptions,
  textWidth,
  truncate,
} from '../../../cli/table.ts';
import { visible } from '../../../lambdas/core/visible.ts';

/**
 * The table as it was written before the printable-ASCII shortcut: every cell through
 * `visible`, `textWidth`, `truncate` and the padding, columns fitted by the same `fitWidths`.
 */
function referenceTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  opts: TableOptions,
): string {
  const maxWidth = opts.maxWidth ?? 100;
  const cells = rows.map((r) => header.map((_, i) => visible(r[i] ?? '')));
  const natural = header.map((h, i) => {
    let w = textWidth(h);
    for (const r of cells) w = Math.max(w, textWidth(r[i] ?? ''));
    return w;
  });
  const minimums = header.map((h) => Math.max(textWidth(h), 6));
  const widths = Number.isFinite(maxWidth) ? fitWidths(natural, minimums, maxWidth) : natural;
  const pad = (t: string, w: number) => t + ' '.repeat(Math.max(0, w - textWidth(t)));
  const line = (row: readonly string[], style: (t: string, c: number) => string) =>
    row
      .map((c, i) => {
        const w = widths[i] ?? 0;
        const cut = truncate(c, w);
        return style(i === row.length - 1 ? cut : pad(cut, w), i);
      })
      .join('  ')
      .trimEnd();
  return [
    line(header, (t) => (opts.styleHeader ? opts.styleHeader(t) : t)),
    ...cells.map((r, ri) => line(r, (t, ci) => (opts.styleCell ? opts.styleCell(t, ci, ri) : t))),
  ].join('\n');
}

// Mostly printable ASCII (the shortcut), with controls, escapes, combining marks, wide
// characters, "…" and empty or missing cells mixed in.
const cell = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: fc.constantFrom(...'abc-/:.@ ~'), maxLength: 30 }) },
  {
    weight: 2,
    arbitrary: fc.string({
      unit: fc.constantFrom('a', ' ', '~', '…', '\x7f', '\x1b', '\n', '\u0301', '漢', '👍', 'ü'),
      maxLength: 20,
    }),
  },
  { weight: 1, arbitrary: fc.constant('') },
);

describe('formatTable: the printable-ASCII shortcut', () => {
  it('lays out every cell as the visible/textWidth/truncate path does, cut or not', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: fc.constantFrom(...'ABC XYZ'), minLength: 1, maxLength: 8 }), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.array(fc.array(cell, { maxLength: 7 }), { maxLength: 25 }),
        fc.oneof(fc.constant(undefined), fc.constant(Number.POSITIVE_INFINITY), fc.nat(120)),
        fc.boolean(),
        (header, rows, maxWidth, styled) => {
          // Prepare
          const opts: TableOptions = {
            ...(maxWidth === undefined ? {} : { maxWidth }),
            ...(styled
              ? {
                  styleHeader: (t: string) => `<${t}>`,
                  styleCell: (t: string, c: number, r: number) => `[${r}.${c}:${t}]`,
                }
              : {}),
          };

          // Act
          const got = formatTable(header, rows, opts);

          // Assess
          expect(got).toBe(referenceTable(header, rows, opts));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
