/**
 * The allowlist YAML subset reader against the YAML library it stands in for: whenever it
 * returns a value, the library reads the same text without errors and gives an equal value
 * (same keys in the same order); for the plain files allowlists are, it does return one.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineCounter, parseDocument } from 'yaml';
import { parseYamlSubset } from '../../../lambdas/core/allowlist/yaml-subset.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');

/** What `parseAllowlist` takes from the library: the value, or null when it reports errors. */
function library(text: string): { ok: true; json: string } | { ok: false } {
  const doc = parseDocument(text, {
    prettyErrors: false,
    uniqueKeys: true,
    lineCounter: new LineCounter(),
  });
  if (doc.errors.length > 0) return { ok: false };
  return { ok: true, json: JSON.stringify(doc.toJS({ maxAliasCount: 100 })) };
}

/** The property every text must have: a value from the subset is the library's value. */
function agrees(text: string): boolean {
  const subset = parseYamlSubset(text);
  if (subset === undefined) return true;
  const lib = library(text);
  return lib.ok && lib.json === JSON.stringify(subset);
}

describe('parseYamlSubset reads the allowlists people write', () => {
  it.each([
    'examples/allowlist.yaml',
    'test/fixtures/local/allowlist.yaml',
    'test/peers/kyverno/other-vpol-allowed-image-repos/allowlist.yaml',
  ])('%s: the library’s value', (file) => {
    // Prepare
    const text = readFileSync(path.join(ROOT, file), 'utf8');
    // Act
    const value = parseYamlSubset(text);
    // Assess
    expect(value).toBeDefined();
    expect(JSON.stringify(value)).toBe((library(text) as { json: string }).json);
    // The same file with Windows line ends.
    const crlf = text.replaceAll('\n', '\r\n');
    expect(JSON.stringify(parseYamlSubset(crlf))).toBe((library(crlf) as { json: string }).json);
  });

  it.each([
    ['version: 1\nrules: []\n', { version: 1, rules: [] }],
    [
      'version: 1\nrules:\n- id: a\n  tags: [x, "y", \'z\']\n',
      { version: 1, rules: [{ id: 'a', tags: ['x', 'y', 'z'] }] },
    ],
    ['a:\n  - x # c\n  -   y\n  -\n    b: c\nd: ~\n', { a: ['x', 'y', { b: 'c' }], d: null }],
    [
      "k: 'it''s'\nn: null\nt: True\nf: FALSE\nz: 0\ns: 2026-03-31\nu: 1_000\n",
      { k: "it's", n: null, t: true, f: false, z: 0, s: '2026-03-31', u: '1_000' },
    ],
    [
      'a: "x # not a comment"\nb: x, y [1]\nc: https://h/p:1\nd: "\u00a0x"\ne: \u00a0x\n',
      { a: 'x # not a comment', b: 'x, y [1]', c: 'https://h/p:1', d: '\u00a0x', e: '\u00a0x' },
    ],
    ['"quoted key": 1\nplain-key.x/y_z: -foo\n', { 'quoted key': 1, 'plain-key.x/y_z': '-foo' }],
    ['a: x # c\r\nb:\r\n  - "y"\r\n', { a: 'x', b: ['y'] }],
  ])('reads %j', (text, expected) => {
    expect(parseYamlSubset(text)).toEqual(expected);
    expect(agrees(text)).toBe(true);
  });
});

describe('parseYamlSubset on large input', () => {
  it('reads a flow sequence of 20,000 quoted items on one line', () => {
    const items = Array.from({ length: 20_000 }, (_, i) => `'t${i}'`);
    const value = parseYamlSubset(`tags: [${items.join(', ')}]\n`) as { tags: string[] };
    expect(value.tags).toHaveLength(20_000);
    expect(value.tags[19_999]).toBe('t19999');
  });
});

describe('parseYamlSubset leaves everything else to the library', () => {
  it.each([
    ['an anchor and alias', 'a: &x 1\nb: *x\n'],
    ['a tag', 'a: !!str 1\n'],
    ['a directive', '%YAML 1.2\n---\na: 1\n'],
    ['a document marker', '---\na: 1\n'],
    ['two documents', 'a: 1\n---\nb: 2\n'],
    ['a block scalar', 'a: |\n  x\n'],
    ['a flow mapping', 'a: {b: 1}\n'],
    ['a multi-line plain scalar', 'a: x\n  y\n'],
    ['a multi-line quoted scalar', 'a: "x\n  y"\n'],
    ['an escape', 'a: "x\\ty"\n'],
    ['a tab', 'a:\t1\n'],
    ['a CR alone', 'a: 1\rb: 2\n'],
    ['a BOM', '\ufeffa: 1\n'],
    ['a duplicate key', 'a: 1\na: 2\n'],
    ['a duplicate key, quoted', 'a: 1\n"a": 2\n'],
    ['a __proto__ key', '__proto__: 1\n'],
    ['hex', 'a: 0x1F\n'],
    ['a float', 'a: 1.5\n'],
    ['a signed int', 'a: -1\n'],
    ['a leading zero', 'a: 01\n'],
    ['inf', 'a: .inf\n'],
    ['a bool key', 'true: 1\n'],
    ['a top-level sequence', '- a\n- b\n'],
    ['a top-level scalar', 'a\n'],
    ['an indented document', '  a: 1\n'],
    ['inconsistent indentation', 'a:\n    b: 1\n  c: 2\n'],
    ['a sequence after entries', 'a: 1\n- b\n'],
    ['a nested compact sequence', 'a:\n- - x\n'],
    ['a compact mapping value', 'a: b: c\n'],
    ['a sequence on the key line', 'a: - b\n'],
    ['text after a quoted scalar', 'a: "b" c\n'],
    ['an unclosed flow sequence', 'a: [b,\n  c]\n'],
    ['a trailing comma', 'a: [b, ]\n'],
    ['a nested flow sequence', 'a: [[b]]\n'],
    ['a colon in a flow scalar', 'a: [b: c]\n'],
    ['a hash in a plain scalar', 'a: b#c\n'],
    [
      'nesting deeper than 32 levels',
      `${Array.from({ length: 40 }, (_, i) => `${' '.repeat(i)}k:`).join('\n')} 1\n`,
    ],
    ['a key longer than 512 characters', `${'k'.repeat(600)}: 1\n`],
    ['an empty text', ''],
    ['only comments', '# x\n'],
  ])('%s', (_what, text) => {
    expect(parseYamlSubset(text)).toBeUndefined();
  });
});

/* ------------------------------------------------------------ generated documents */

const KEYS = ['id', 'image', 'registry', 'a', 'b-c', 'x.y', 'tags', 'k_1', 'Version', 'e1'];
const SCALARS = [
  'nginx',
  'docker.io/library/*',
  '**',
  '*',
  '*-prod-*',
  'latest',
  'sha256:abc',
  '2026-03-31T23:59:59Z',
  'a b',
  'x, y',
  "it's",
  'say "hi"',
  'a #b',
  'a: b',
  'a:',
  ':a',
  '-a',
  '- a',
  '-',
  '?a',
  '&a',
  '!a',
  '|',
  '>',
  '%a',
  '@a',
  '`a',
  '[a]',
  '{a}',
  '#',
  '1',
  '0',
  '01',
  '-1',
  '+1',
  '1.5',
  '.5',
  '1e3',
  '0x1F',
  '0o7',
  '.inf',
  '.NaN',
  '~',
  'null',
  'Null',
  'NULL',
  'true',
  'True',
  'FALSE',
  'yes',
  'no',
  'on',
  '123456789012345678',
  '\u00a0x',
  'caf\u00e9',
  'x\\y',
  'a\tb',
  '',
  ' ',
];

type Tree = string | Tree[] | { [key: string]: Tree };

const tree: fc.Arbitrary<Tree> = fc.letrec<{ node: Tree }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...SCALARS),
    fc.array(tie('node'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom(...KEYS), tie('node'), { maxKeys: 4 }),
  ),
})).node;

const style = fc.record({
  quote: fc.constantFrom('plain', 'double', 'single'),
  indent: fc.constantFrom(1, 2, 4),
  zeroIndentSequences: fc.boolean(),
  flowScalarLists: fc.boolean(),
  comments: fc.boolean(),
});
type Style = typeof style extends fc.Arbitrary<infer S> ? S : never;

function scalar(text: string, s: Style): string {
  if (s.quote === 'double') return JSON.stringify(text);
  if (s.quote === 'single') return `'${text.replaceAll("'", "''")}'`;
  return text;
}

/** Block YAML for a mapping at the top, in one of several styles (some of them not valid YAML). */
function render(value: { [key: string]: Tree }, s: Style): string {
  const out: string[] = [];
  const comment = s.comments ? ' # note' : '';
  const block = (node: Tree, indent: number, lead: string): void => {
    const pad = ' '.repeat(indent);
    if (typeof node === 'string') {
      out.push(`${lead}${scalar(node, s)}${comment}`);
    } else if (Array.isArray(node)) {
      if (node.length === 0 || (s.flowScalarLists && node.every((n) => typeof n === 'string'))) {
        out.push(`${lead}[${node.map((n) => scalar(n as string, s)).join(', ')}]`);
        return;
      }
      out.push(lead.trimEnd());
      for (const item of node) block(item, indent + s.indent, `${pad}${' '.repeat(s.indent)}- `);
    } else {
      const entries = Object.entries(node);
      if (entries.length === 0) {
        out.push(`${lead}{}`);
        return;
      }
      out.push(lead.trimEnd());
      for (const [key, child] of entries) {
        const inner = indent + s.indent;
        const childPad = ' '.repeat(inner);
        if (Array.isArray(child) && child.length > 0 && s.zeroIndentSequences) {
          out.push(`${childPad}${key}:`);
          for (const item of child) block(item, inner, `${childPad}- `);
        } else {
          block(child, inner, `${childPad}${key}: `);
        }
      }
    }
  };
  for (const [key, child] of Object.entries(value)) block(child, 0, `${key}: `);
  return `${out.join('\n')}\n`;
}

const EDITS = [
  ' ',
  '  ',
  '-',
  '- ',
  ':',
  ': ',
  '#',
  ' #',
  '"',
  "'",
  '[',
  ']',
  ',',
  '*',
  '&',
  '\n',
  '\t',
  '\\',
];

describe('parseYamlSubset agrees with the library on generated text', () => {
  it('a value only where the library gives the same value (documents in many styles)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...KEYS), tree, { minKeys: 1, maxKeys: 5 }),
        style,
        (value, s) => {
          const text = render(value, s);
          expect(agrees(text)).toBe(true);
          expect(agrees(text.replaceAll('\n', '\r\n'))).toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('a value only where the library gives the same value (edited documents)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...KEYS), tree, { minKeys: 1, maxKeys: 5 }),
        style,
        fc.array(fc.tuple(fc.nat(), fc.nat(3), fc.constantFrom(...EDITS)), {
          minLength: 1,
          maxLength: 3,
        }),
        (value, s, edits) => {
          let text = render(value, s);
          for (const [at, kind, piece] of edits) {
            const i = at % (text.length + 1);
            if (kind === 0) text = text.slice(0, i) + piece + text.slice(i);
            else if (kind === 1) text = text.slice(0, i) + text.slice(i + 1);
            else if (kind === 2) text = text.slice(0, i) + piece + text.slice(i + piece.length);
            else {
              const lines = text.split('\n');
              const l = i % lines.length;
              lines.splice(l, 0, lines[l] ?? '');
              text = lines.join('\n');
            }
          }
          expect(agrees(text)).toBe(true);
          expect(agrees(text.replaceAll('\n', '\r\n'))).toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('reads the documents a plain style writes (the subset is not empty by accident)', () => {
    let read = 0;
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...KEYS), tree, { minKeys: 1, maxKeys: 5 }),
        style,
        (value, s) => {
          const text = render(value, { ...s, quote: 'double' });
          if (library(text).ok && !/[\\\t]/.test(text) && !text.includes('{}')) {
            expect(parseYamlSubset(text)).toBeDefined();
            read++;
          }
        },
      ),
      { numRuns: 500 },
    );
    expect(read).toBeGreaterThan(100);
  });
});
