/**
 * Adversarial manifests for `regwatch check -f`: each shape an attacker (or a careless chart)
 * can use to make an image disappear from judgement must end as a violation or a reported
 * failure (exit 2), never as silence.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, runCli } from '../helpers/cli.ts';

const ALLOWLIST =
  'version: 1\nrules:\n  - id: trusted\n    registry: "registry.trusted.example"\n    repository: "**"\n';
const EVIL = 'evil.example/miner:1';
const GOOD = 'registry.trusted.example/app:1';

interface Row {
  image: string;
  allowed: boolean;
  violations: { rule: string }[];
  source?: { judgedBy: string; path: string };
}

describe('adversarial manifests: no untrusted image goes unjudged', () => {
  let dir: string;
  let allowlist: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'regwatch-adv-'));
    allowlist = path.join(dir, 'allowlist.yaml');
    writeFileSync(allowlist, ALLOWLIST);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const check = async (manifest: string) => {
    const run = await runCli(['check', '--allowlist', allowlist, '-f', '-', '-o', 'json'], {
      stdin: manifest,
    });
    return { ...run, rows: jsonLines(run.stdout) as Row[] };
  };
  const evilJudged = (rows: Row[]) => rows.some((r) => r.image === EVIL && !r.allowed);

  it('an image hidden behind a << merge of the whole pod spec', async () => {
    const run = await check(
      [
        'kind: Deployment',
        'metadata: {name: d}',
        `x-spec: &spec {containers: [{name: a, image: "${EVIL}"}]}`,
        'spec:',
        '  template:',
        '    spec:',
        '      <<: *spec',
      ].join('\n'),
    );
    expect(run.code).toBe(1);
    expect(evilJudged(run.rows)).toBe(true);
  });

  it('an image written as !!binary', async () => {
    const b64 = Buffer.from(EVIL).toString('base64');
    const run = await check(
      `kind: Pod\nspec:\n  containers:\n    - {name: a, image: !!binary ${b64}}\n`,
    );
    expect(evilJudged(run.rows)).toBe(true);
  });

  it('a duplicate image key: the shadowed value is judged too, and the file is reported', async () => {
    const run = await check(
      `kind: Pod\nspec:\n  containers:\n    - name: a\n      image: "${EVIL}"\n      image: "${GOOD}"\n`,
    );
    expect(run.code).toBe(2);
    expect(run.rows.map((r) => [r.image, r.allowed])).toEqual([
      [EVIL, false],
      [GOOD, true],
    ]);
    expect(run.stderr).toMatch(/-:6:7: duplicate key "image"/);
  });

  it('a duplicate containers key in JSON: the first list is judged too', async () => {
    const json = `{"kind":"Pod","spec":{"containers":[{"name":"a","image":"${EVIL}"}],"containers":[{"name":"a","image":"${GOOD}"}]}}`;
    const run = await check(json);
    expect(run.code).toBe(2);
    expect(evilJudged(run.rows)).toBe(true);
  });

  it('unknown kinds with pod specs at odd depths, under prototype-named keys too', async () => {
    const run = await check(
      [
        'apiVersion: x.example/v1',
        'kind: Pipeline',
        'spec:',
        '  __proto__:',
        `    stages: [{pod: {ephemeralContainers: [{name: d, image: "${EVIL}"}]}}]`,
        '  constructor: {prototype: {containers: [{name: e, image: "evil.example/b:2"}]}}',
      ].join('\n'),
    );
    expect(run.code).toBe(1);
    expect(run.rows.map((r) => [r.image, r.source?.judgedBy])).toEqual([
      [EVIL, 'shape'],
      ['evil.example/b:2', 'shape'],
    ]);
    expect(run.stderr).toContain('note: kind(s) Pipeline not known to regwatch');
  });

  it('image values that are not strings, and containers that are not a list', async () => {
    const run = await check(
      [
        'kind: Deployment',
        'metadata: {name: d}',
        'spec:',
        '  template:',
        '    spec:',
        '      containers:',
        '        - {name: a, image: null}',
        '        - {name: b, image: 12}',
        '        - {name: c, image: no}', // YAML 1.1: the boolean false
        '        - {name: d, image: {repository: evil.example/x}}',
        '        - {name: e}',
        '      initContainers: {name: f, image: "evil.example/x:1"}',
      ].join('\n'),
    );
    expect(run.code).toBe(1);
    expect(run.rows).toHaveLength(6);
    for (const r of run.rows)
      expect(r.violations.map((v) => v.rule)).toEqual(['invalid-reference']);
  });

  it('CRLF line endings, a BOM and tabs in values still read', async () => {
    const run = await check(
      `\uFEFFkind: Pod\r\nspec:\r\n  containers:\r\n    - name: a\r\n      image: "${EVIL}"\r\n`,
    );
    expect(evilJudged(run.rows)).toBe(true);
  });

  it('List and typed lists, items without kind', async () => {
    const run = await check(
      `kind: PodList\nitems:\n  - metadata: {name: p}\n    spec: {containers: [{name: a, image: "${EVIL}"}]}\n`,
    );
    expect(run.rows).toMatchObject([
      { image: EVIL, allowed: false, source: { path: 'items[0].spec.containers[0].image' } },
    ]);
  });

  it('an alias bomb, a self-referencing alias and deep nesting are reported, never a pass', async () => {
    const bomb = ['a: &a [x,x,x,x,x,x,x,x,x,x]'];
    for (const [i, n] of ['b', 'c', 'd', 'e', 'f', 'g'].entries())
      bomb.push(`${n}: &${n} [${Array(10).fill(`*${'abcdefg'[i]}`).join(',')}]`);
    let deep = '';
    for (let i = 0; i < 300; i++) deep += `${' '.repeat(i)}k:\n`;
    for (const text of [bomb.join('\n'), 'a: &a\n  b: *a\n', deep]) {
      const run = await check(
        `${text}\n---\nkind: Pod\nspec: {containers: [{name: a, image: "${EVIL}"}]}\n`,
      );
      expect(run.code).toBe(2);
      expect(run.stderr).not.toContain('unexpected error');
      expect(evilJudged(run.rows)).toBe(true);
    }
  });

  it('a syntax error in one document does not hide the next one', async () => {
    const run = await check(
      `kind: [\n---\nkind: Pod\nspec: {containers: [{name: a, image: "${EVIL}"}]}\n`,
    );
    expect(run.code).toBe(2);
    expect(evilJudged(run.rows)).toBe(true);
  });
});
