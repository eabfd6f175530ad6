import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvCell } from '../../../cli/format.ts';
import { colorEnabled } from '../../../cli/output/color.ts';
import { outputFormat } from '../../../cli/output/format.ts';
import {
  formatTable,
  textWidth,
  truncate,
  truncateByCodePoint,
  widthByCodePoint,
} from '../../../cli/table.ts';
import { visible } from '../../../lambdas/core/visible.ts';

describe('visible', () => {
  it('escapes C0, C1, ESC, DEL, bidi controls, zero-width and separators', () => {
    const cases: [string, string][] = [
      ['\u001b[31m', '\\x1b[31m'],
      ['a\nb\rc\td', 'a\\x0ab\\x0dc\\x09d'],
      ['\u007f\u0085\u009b', '\\x7f\\x85\\x9b'],
      ['\u202eevil\u202c', '\\u202eevil\\u202c'],
      [
        '\u2066\u2067\u2068\u2069\u200e\u200f\u061c',
        '\\u2066\\u2067\\u2068\\u2069\\u200e\\u200f\\u061c',
      ],
      ['a\u200bb\u200c\u200d\u2060\ufeff', 'a\\u200bb\\u200c\\u200d\\u2060\\ufeff'],
      ['\u2028\u2029', '\\u2028\\u2029'],
      ['tag\u{e0041}', 'tag\\u{e0041}'],
      [`lone${String.fromCharCode(0xd800)}`, 'lone\\ud800'],
    ];
    for (const [input, expected] of cases) expect(visible(input)).toBe(expected);
  });

  it('leaves ordinary text alone, including non-Latin scripts and emoji', () => {
    const text = 'docker.io/library/nginx:1.27 naïve 漢字 👍 ü';
    expect(visible(text)).toBe(text);
  });
});

describe('formatTable', () => {
  it('a newline in a cell never forges a row', () => {
    const out = formatTable(['A', 'B'], [['x\nVIOLATION  fake', 'y']]);
    expect(out.split('\n')).toHaveLength(2);
    expect(out).toContain('x\\x0aVIOLATION');
  });

  it('fits 100 columns, cutting the widest cells with "…"; Infinity shows all', () => {
    const long = `registry.example/${'a'.repeat(150)}:1`;
    const rows = [
      ['VIOLATION', long, 'Deployment/web app', '-', 'untrusted-source (high): '.repeat(5)],
    ];
    const header = ['RESULT', 'IMAGE', 'WHERE', 'RULE', 'VIOLATIONS'];
    const fit = formatTable(header, rows);
    for (const line of fit.split('\n')) expect(textWidth(line)).toBeLessThanOrEqual(100);
    expect(fit).toContain('…');
    expect(fit).toContain('Deployment/web app');
    const wide = formatTable(header, rows, { maxWidth: Number.POSITIVE_INFINITY });
    expect(wide).toContain(long);
    expect(wide).not.toContain('…');
  });

  it('counts East Asian wide characters as two columns', () => {
    expect(textWidth('漢字')).toBe(4);
    const out = formatTable(
      ['A', 'B'],
      [
        ['漢字', 'x'],
        ['ab', 'y'],
      ],
    );
    // The second column starts at the same screen column on every line.
    expect(out.split('\n').map((l) => textWidth(l.slice(0, -1)))).toEqual([6, 6, 6]);
  });
});

describe('colour', () => {
  const tty = Object.assign(new PassThrough(), { isTTY: true });
  const pipe = new PassThrough();
  it('on a terminal, none when piped or with NO_COLOR, forced with FORCE_COLOR', () => {
    expect(colorEnabled({}, tty)).toBe(true);
    expect(colorEnabled({}, pipe)).toBe(false);
    expect(colorEnabled({ NO_COLOR: '1' }, tty)).toBe(false);
    expect(colorEnabled({ FORCE_COLOR: '1' }, pipe)).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: '0' }, tty)).toBe(false);
    expect(colorEnabled({ TERM: 'dumb' }, tty)).toBe(false);
  });
});

describe('csvCell', () => {
  it('neutralises formulas, also after leading whitespace', () => {
    for (const text of [
      '=1+1',
      '+1',
      '-1',
      '@SUM(A1)',
      '\t=1',
      ' =HYPERLINK("x")',
      '\u00a0 +1',
      '\r\n=1',
    ]) {
      const cell = csvCell(text);
      expect(cell.replace(/^"/, '').startsWith("'"), text).toBe(true);
    }
    expect(csvCell('nginx:1.27')).toBe('nginx:1.27');
    expect(csvCell('a "b"')).toBe('"a ""b"""');
  });
});

describe('outputFormat', () => {
  const formats = ['table', 'json', 'csv'] as const;
  it('takes -o, --json as its alias, and refuses what the command does not offer', () => {
    expect(outputFormat({}, formats)).toBe('table');
    expect(outputFormat({ json: true }, formats)).toBe('json');
    expect(outputFormat({ output: 'CSV' }, formats)).toBe('csv');
    expect(() => outputFormat({ output: 'sarif' }, formats)).toThrow(
      /expected one of table, json, csv/,
    );
    expect(() => outputFormat({ output: 'csv', json: true }, formats)).toThrow(/not both/);
  });
});

describe('table widths: the printable-ASCII shortcut', () => {
  // Mostly ASCII (the shortcut), with controls, combining marks and wide characters mixed in.
  const text = fc.oneof(
    fc.string({ unit: fc.constantFrom(...'abc-/:.@ ~'), maxLength: 40 }),
    fc.string({ unit: fc.constantFrom(...'abc-/:.@ ~'), maxLength: 40 }).map((t) => `${t}…`),
    fc.string({
      unit: fc.constantFrom('a', ' ', '~', '…', '\x7f', '\x1f', '\u0301', '漢', '👍', 'ü'),
      maxLength: 40,
    }),
  );

  it('measures and cuts exactly like the code-point walk', () => {
    fc.assert(
      fc.property(text, fc.integer({ min: -2, max: 50 }), (t, width) => {
        expect(textWidth(t)).toBe(widthByCodePoint(t));
        expect(truncate(t, width)).toBe(truncateByCodePoint(t, width));
      }),
      { numRuns: 2000 },
    );
  });
});
