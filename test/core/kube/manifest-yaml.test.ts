import { describe, expect, it } from 'vitest';
import { ManifestError } from '../../../lambdas/core/errors.ts';
import {
  ALIAS_EXPANSION_BUDGET,
  parseManifestYaml,
} from '../../../lambdas/core/kube/manifest-yaml.ts';

type Loose = Record<string, unknown>;

function first(documents: { value: unknown }[]): Loose {
  const v = documents[0]?.value;
  if (v === null || typeof v !== 'object') throw new Error('no object document');
  return v as Loose;
}

describe('parseManifestYaml (YAML as kubectl reads it)', () => {
  it('applies << merge keys: own keys win, earlier sources win over later ones', () => {
    // Prepare
    const text = [
      'a: &a {image: evil.example/a:1, name: from-a}',
      'b: &b {image: evil.example/b:1, pull: always}',
      'c:',
      '  <<: [*a, *b]',
      '  name: own',
    ].join('\n');
    // Act
    const { documents, problems } = parseManifestYaml(text);
    // Assess
    expect(problems).toEqual([]);
    const c = first(documents).c as Loose;
    expect({ ...c }).toEqual({ name: 'own', image: 'evil.example/a:1', pull: 'always' });
  });

  it('a quoted "<<" is an ordinary key, not a merge', () => {
    const { documents } = parseManifestYaml('x: &x {image: a}\nz:\n  "<<": *x\n');
    const z = first(documents).z as Loose;
    expect(Object.keys(z)).toEqual(['<<']);
  });

  it('reads YAML 1.1 scalars as go-yaml v2 does (y, no, on are booleans)', () => {
    const { documents } = parseManifestYaml('image: no\ny: 1\n');
    expect({ ...first(documents) }).toEqual({ image: false, true: 1 });
  });

  it('decodes !!binary to the text kubectl would see', () => {
    const { documents } = parseManifestYaml('image: !!binary ZXZpbC5leGFtcGxlL3g6MQ==\n');
    expect(first(documents).image).toBe('evil.example/x:1');
  });

  it('keeps a timestamp-looking scalar as its text, like go-yaml into interface{}', () => {
    const { documents } = parseManifestYaml('image: 2001-12-14\n');
    expect(first(documents).image).toBe('2001-12-14');
  });

  it('reports a duplicate key with its line and keeps the shadowed value and its position', () => {
    // Prepare
    const text = 'c:\n  image: nginx:1.27\n  image: evil.example/x:1\n';
    // Act
    const { documents, problems, source } = parseManifestYaml(text);
    // Assess
    const c = first(documents).c as Loose;
    expect(c.image).toBe('evil.example/x:1');
    expect(problems).toEqual([
      expect.objectContaining({
        line: 3,
        col: 3,
        message: expect.stringContaining('duplicate key "image"'),
      }),
    ]);
    expect(source.shadowed(c, 'image')).toEqual([
      { value: 'nginx:1.27', pos: { line: 2, col: 10 } },
    ]);
    expect(source.at(c, 'image')).toEqual({ line: 3, col: 10 });
  });

  it('records the line and column of every value, through aliases to the anchor', () => {
    const text = '---\nkind: Pod\nspec:\n  containers:\n    - name: a\n      image: "nginx:1"\n';
    const { documents, source } = parseManifestYaml(text);
    const pod = first(documents);
    const container = ((pod.spec as Loose).containers as Loose[])[0] as Loose;
    expect(source.at(container, 'image')).toEqual({ line: 6, col: 14 });
    expect(source.of(container)).toEqual({ line: 5, col: 7 });
  });

  it('a billion-laughs document is a named error for that document only, bounded', () => {
    // Prepare: 9^7 ≈ 4.8 million strings if expanded.
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (const [i, name] of ['b', 'c', 'd', 'e', 'f', 'g'].entries()) {
      const prev = 'abcdefg'[i];
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const text = `kind: ConfigMap\n---\n${levels.join('\n')}\n`;
    // Act
    const { documents, problems } = parseManifestYaml(text);
    // Assess
    expect(documents.map((d) => d.index)).toEqual([0]);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(/alias bomb/);
    expect(problems[0]?.message).toContain(String(ALIAS_EXPANSION_BUDGET).slice(0, 3));
  });

  it('an alias to its own anchor and nesting past the bound are named errors', () => {
    const self = parseManifestYaml('a: &a\n  b: *a\n');
    expect(self.problems[0]?.message).toMatch(/refers to itself/);
    let deep = '';
    for (let i = 0; i < 300; i++) deep += `${' '.repeat(i)}a:\n`;
    expect(parseManifestYaml(deep).problems[0]?.message).toMatch(/nested deeper/);
  });

  it('a syntax error names its line and the other documents are still read', () => {
    const { documents, problems } = parseManifestYaml('kind: A\n---\nkind: [\n---\nkind: C\n');
    expect(documents.map((d) => (d.value as Loose).kind)).toEqual(['A', 'C']);
    expect(problems[0]).toMatchObject({
      line: expect.any(Number),
      message: expect.stringMatching(/^not valid YAML/),
    });
  });

  it('prototype keys are own data, never the prototype', () => {
    const { documents } = parseManifestYaml('__proto__: {image: x}\nconstructor: 1\n');
    const v = documents[0]?.value as Loose;
    expect(Object.getPrototypeOf(v)).toBeNull();
    expect(Object.hasOwn(v, '__proto__')).toBe(true);
    expect(({} as Loose).image).toBeUndefined();
  });

  it('ManifestError is what the bounds throw', () => {
    expect(new ManifestError('x').code).toBe('MANIFEST_INVALID');
  });
});
