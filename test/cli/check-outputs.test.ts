import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import AjvModule from 'ajv-draft-04';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, runCli } from '../helpers/cli.ts';

// CommonJS modules: `.default` is the class / plugin under Node's ESM interop.
const Ajv = AjvModule.default;
const addFormats = addFormatsModule.default;

// The official OASIS SARIF 2.1.0 schema (errata01), vendored: see test/fixtures/sarif/README.md.
const SARIF_SCHEMA = JSON.parse(
  readFileSync(
    path.resolve(import.meta.dirname, '../fixtures/sarif/sarif-schema-2.1.0.json'),
    'utf8',
  ),
);

const ALLOWLIST = `version: 1
rules:
  - id: company-ecr
    registry: "444455556666.dkr.ecr.*.amazonaws.com"
  - id: dockerhub-official
    image: "docker.io/library/*"
    denyTags: ["latest"]
`;

// Line numbers matter below: the image values are on lines 9, 10 and 17.
const MANIFESTS = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      containers:
        - name: app
          image: "444455556666.dkr.ecr.eu-central-1.amazonaws.com/shop/web:1.2"
        - {name: side, image: "evil.example/x:1"}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: canary, namespace: shop}
spec:
  template:
    spec: {containers: [{name: app, image: "nginx:latest"}]}
`;

describe('regwatch check -o (CI outputs)', () => {
  let dir: string;
  let allowlist: string;
  const check = (args: string[], opts: { env?: NodeJS.ProcessEnv } = {}) =>
    runCli(['check', '--allowlist', allowlist, ...args], { cwd: dir, ...opts });

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'regwatch-outputs-'));
    allowlist = path.join(dir, 'allowlist.yaml');
    writeFileSync(allowlist, ALLOWLIST);
    mkdirSync(path.join(dir, 'k8s'));
    writeFileSync(path.join(dir, 'k8s', 'app.yaml'), MANIFESTS);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('SARIF validates against the official 2.1.0 schema, with rules, locations and fingerprints', async () => {
    // Act
    const run = await check(['-f', 'k8s', '-o', 'sarif']);
    // Assess
    expect(run.code).toBe(1);
    const sarif = JSON.parse(run.stdout);
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    const validate = ajv.compile(SARIF_SCHEMA);
    expect(validate(sarif), JSON.stringify(validate.errors)).toBe(true);
    const runObj = sarif.runs[0];
    const ruleIds = runObj.tool.driver.rules.map((r: { id: string }) => r.id);
    expect(ruleIds).toEqual(expect.arrayContaining(['untrusted-source', 'mutable-tag']));
    expect(new Set(ruleIds).size).toBe(ruleIds.length);
    for (const rule of runObj.tool.driver.rules) {
      expect(rule.help.text.length).toBeGreaterThan(20);
      expect(rule.helpUri).toMatch(/^https:\/\/.+docs\/rules\.md#/);
    }
    expect(runObj.results).toHaveLength(2);
    const [side, canary] = runObj.results;
    expect(side).toMatchObject({
      ruleId: 'untrusted-source',
      level: 'error',
      locations: [
        {
          physicalLocation: {
            artifactLocation: { uri: 'k8s/app.yaml' },
            region: { startLine: 10, startColumn: 31 },
          },
        },
      ],
    });
    expect(runObj.tool.driver.rules[side.ruleIndex].id).toBe('untrusted-source');
    expect(canary).toMatchObject({
      ruleId: 'mutable-tag',
      level: 'warning',
      locations: [{ physicalLocation: { region: { startLine: 17, startColumn: 44 } } }],
      properties: { judgedBy: 'shape', workload: 'Rollout/canary' },
    });
    expect(canary.message.text).toContain('judged by shape');
  });

  it('SARIF fingerprints are stable across runs and when unrelated lines move', async () => {
    const a = JSON.parse((await check(['-f', 'k8s', '-o', 'sarif'])).stdout);
    writeFileSync(path.join(dir, 'k8s', 'app.yaml'), `# a comment moves every line\n${MANIFESTS}`);
    try {
      const b = JSON.parse((await check(['-f', 'k8s', '-o', 'sarif'])).stdout);
      const fp = (s: { runs: { results: { partialFingerprints: unknown }[] }[] }) =>
        s.runs[0]?.results.map((r) => r.partialFingerprints);
      expect(fp(b)).toEqual(fp(a));
      expect(b.runs[0].results[0].locations[0].physicalLocation.region.startLine).toBe(11);
      const values = Object.values(fp(a)?.[0] as Record<string, string>);
      expect(values[0]).toMatch(/^[0-9a-f]{64}$/);
      expect(fp(a)?.[0]).not.toEqual(fp(a)?.[1]);
    } finally {
      writeFileSync(path.join(dir, 'k8s', 'app.yaml'), MANIFESTS);
    }
  });

  it('SARIF for a clean run or an unreadable file is still a valid document', async () => {
    writeFileSync(path.join(dir, 'bad.yaml'), 'kind: Pod\nspec: [\n');
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    const validate = ajv.compile(SARIF_SCHEMA);
    const bad = await check(['-f', 'bad.yaml', '-o', 'sarif']);
    expect(bad.code).toBe(2);
    const sarif = JSON.parse(bad.stdout);
    expect(validate(sarif), JSON.stringify(validate.errors)).toBe(true);
    expect(sarif.runs[0].invocations[0]).toMatchObject({
      executionSuccessful: false,
      toolExecutionNotifications: [
        { level: 'error', locations: [{ physicalLocation: { region: { startLine: 3 } } }] },
      ],
    });
    const clean = await check(['-o', 'sarif', 'nginx:1.27']);
    expect(clean.code).toBe(0);
    expect(validate(JSON.parse(clean.stdout))).toBe(true);
  });

  it('-o github: one annotation per violating container with file, line and col', async () => {
    const run = await check(['-f', 'k8s', '-o', 'github']);
    expect(run.code).toBe(1);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /^::error file=k8s\/app\.yaml,line=10,col=31,title=regwatch untrusted-source%3A evil\.example\/x%3A1::Deployment\/web container side: untrusted-source \(high\): /,
    );
    expect(lines[1]).toMatch(
      /^::warning file=k8s\/app\.yaml,line=17,col=44,title=.*::Rollout\/canary .*judged by shape/,
    );
    expect(lines.filter((l) => l.startsWith('::'))).toHaveLength(2);
  });

  it('-o github escapes %, CR, LF, : and , so a name cannot end or start a command', async () => {
    // Prepare: an image from an argument can hold anything; it is judged invalid.
    const evil = 'x%0A,y:z\r\n::error::forged';
    // Act
    const run = await check(['-o', 'github', evil]);
    // Assess
    expect(run.code).toBe(1);
    const annotations = run.stdout.split('\n').filter((l) => l.startsWith('::'));
    expect(annotations).toHaveLength(1);
    const [head, ...rest] = (annotations[0] ?? '').split('::').filter(Boolean);
    expect(head).toMatch(
      /^error title=regwatch invalid-reference%3A x%250A%2Cy%3Az\\x0d\\x0a%3A%3Aerror%3A%3Aforged$/,
    );
    expect(rest.join('::')).not.toMatch(/[\r\n]/);
  });

  it('-o junit: one testcase per container, failures with file and line, XML-safe', async () => {
    const run = await check(['-f', 'k8s', '-o', 'junit']);
    expect(run.code).toBe(1);
    const xml = run.stdout;
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
    expect(xml.match(/<testcase /g)).toHaveLength(3);
    expect(xml.match(/<failure /g)).toHaveLength(2);
    expect(xml).toContain('tests="3" failures="2" errors="0"');
    expect(xml).toMatch(
      /<testcase name="Deployment\/web container side: evil\.example\/x:1" classname="k8s\/app\.yaml" file="k8s\/app\.yaml" line="10">/,
    );
    const hostile = await check(['-o', 'junit', '<x a="1">&\u001b]']);
    expect(hostile.stdout).toContain('&lt;x a=&quot;1&quot;&gt;&amp;\\x1b]');
    expect(hostile.stdout).not.toContain('\u001b');
  });

  it('--fail-on: exit 1 only for a violation at or above the threshold', async () => {
    // mutable-tag is medium, untrusted-source high.
    const medium = await check(['--fail-on', 'medium', '-o', 'json', 'nginx:latest']);
    const high = await check(['--fail-on', 'high', '-o', 'json', 'nginx:latest']);
    const critical = await check(['--fail-on', 'critical', '-f', 'k8s', '-o', 'json']);
    const bad = await check(['--fail-on', 'severe', 'nginx']);
    expect([medium.code, high.code, critical.code, bad.code]).toEqual([1, 0, 0, 2]);
    expect(jsonLines(high.stdout)).toMatchObject([{ allowed: false }]);
    expect(bad.stderr).toContain('--fail-on: expected one of low, medium, high, critical');
  });

  it('-o json carries file, line, column, path and how the kind was judged; --json is its alias', async () => {
    const run = await check(['-f', 'k8s', '-o', 'json']);
    const alias = await check(['-f', 'k8s', '--json']);
    expect(alias.stdout).toBe(run.stdout);
    const rows = jsonLines(run.stdout) as { source: Record<string, unknown> }[];
    expect(rows[2]?.source).toEqual({
      file: 'k8s/app.yaml',
      kind: 'Rollout',
      name: 'canary',
      namespace: 'shop',
      container: 'app',
      containerKind: 'container',
      judgedBy: 'shape',
      document: 1,
      path: 'spec.template.spec.containers[0].image',
      line: 17,
      column: 44,
    });
    const both = await check(['-f', 'k8s', '--json', '-o', 'yaml']);
    expect(both.code).toBe(2);
  });

  it('-o yaml and -o csv', async () => {
    const yaml = await check(['-f', 'k8s', '-o', 'yaml']);
    expect(yaml.stdout.match(/^---$/gm)).toHaveLength(3);
    const csv = await check(['-f', 'k8s', '-o', 'csv']);
    const lines = csv.stdout.trim().split('\r\n');
    expect(lines[0]).toBe('result,image,where,file,path,matchedRule,violations');
    expect(lines).toHaveLength(4);
  });
});

describe('regwatch check -f: what it reads and how it ends', () => {
  let dir: string;
  let allowlist: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'regwatch-manifests-'));
    allowlist = path.join(dir, 'allowlist.yaml');
    writeFileSync(allowlist, ALLOWLIST);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a manifest set without workloads exits 0 with "no images found"', async () => {
    mkdirSync(path.join(dir, 'config'));
    writeFileSync(
      path.join(dir, 'config', 'cm.yaml'),
      'kind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n',
    );
    const run = await runCli(['check', '--allowlist', allowlist, '-f', 'config'], { cwd: dir });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('no images found in 1 manifest file(s)');
  });

  it('one unparseable file in a directory is reported with its line; the others are judged; exit 2', async () => {
    mkdirSync(path.join(dir, 'mixed'));
    writeFileSync(path.join(dir, 'mixed', 'a-broken.yaml'), 'kind: Pod\nspec:\n  containers: [\n');
    writeFileSync(
      path.join(dir, 'mixed', 'b-pod.yaml'),
      'kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: "evil.example/x:1"}]}\n',
    );
    const run = await runCli(['check', '--allowlist', allowlist, '-f', 'mixed', '-o', 'json'], {
      cwd: dir,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/mixed\/a-broken\.yaml:\d+:\d+: not valid YAML/);
    expect(jsonLines(run.stdout)).toMatchObject([{ image: 'evil.example/x:1', allowed: false }]);
  });

  it('a YAML alias bomb is a named error for that file, bounded, exit 2, others still judged', async () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (const [i, name] of ['b', 'c', 'd', 'e', 'f', 'g', 'h'].entries()) {
      levels.push(`${name}: &${name} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(',')}]`);
    }
    mkdirSync(path.join(dir, 'bomb'));
    writeFileSync(path.join(dir, 'bomb', 'bomb.yaml'), `${levels.join('\n')}\n`);
    writeFileSync(
      path.join(dir, 'bomb', 'pod.yaml'),
      'kind: Pod\nspec: {containers: [{name: c, image: "evil.example/x:1"}]}\n',
    );
    const run = await runCli(['check', '--allowlist', allowlist, '-f', 'bomb'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /bomb\/bomb\.yaml:1:1: document 1: aliases expand to more than \d+ nodes \(a YAML alias bomb\?\); expand the anchors or split the file/,
    );
    expect(run.stdout).toContain('evil.example/x:1');
    expect(run.stderr).not.toContain('unexpected error');
  });

  it('--manifests takes the arguments as files (pre-commit passes file names)', async () => {
    writeFileSync(
      path.join(dir, 'one.yaml'),
      'kind: Pod\nspec: {containers: [{name: a, image: "evil.example/1:1"}]}\n',
    );
    writeFileSync(
      path.join(dir, 'two.yaml'),
      'kind: Pod\nspec: {containers: [{name: a, image: "evil.example/2:1"}]}\n',
    );
    writeFileSync(path.join(dir, 'words.yaml'), '- just\n- a list\n');
    const run = await runCli(
      [
        'check',
        '--allowlist',
        allowlist,
        '--manifests',
        '-o',
        'json',
        'one.yaml',
        'two.yaml',
        'words.yaml',
      ],
      { cwd: dir },
    );
    expect(run.code).toBe(1);
    expect((jsonLines(run.stdout) as { image: string }[]).map((r) => r.image)).toEqual([
      'evil.example/1:1',
      'evil.example/2:1',
    ]);
    expect(run.stderr).toContain(
      'note: words.yaml: document 1 is not a Kubernetes object (skipped)',
    );
  });

  it('image null, empty or a number is invalid-reference, never skipped', async () => {
    const run = await runCli(['check', '--allowlist', allowlist, '-f', '-', '-o', 'json'], {
      stdin:
        'kind: Pod\nspec:\n  containers:\n    - {name: a, image: ~}\n    - {name: b, image: ""}\n    - {name: c, image: 42}\n',
    });
    expect(run.code).toBe(1);
    expect(jsonLines(run.stdout)).toMatchObject([
      { allowed: false, violations: [{ rule: 'invalid-reference', message: 'image is null' }] },
      { allowed: false, violations: [{ rule: 'invalid-reference', message: 'image is empty' }] },
      {
        allowed: false,
        image: '42',
        violations: [{ rule: 'invalid-reference', message: 'image is a number, not a string: 42' }],
      },
    ]);
  });

  it('merge keys and !!binary images are judged as kubectl would send them', async () => {
    const run = await runCli(['check', '--allowlist', allowlist, '-f', '-', '-o', 'json'], {
      stdin: [
        'kind: Deployment',
        'metadata: {name: d}',
        'x-base: &base {image: "evil.example/merged:1"}',
        'spec:',
        '  template:',
        '    spec:',
        '      containers:',
        '        - name: a',
        '          <<: *base',
        '        - name: b',
        '          image: !!binary ZXZpbC5leGFtcGxlL2JpbmFyeToy',
      ].join('\n'),
    });
    expect((jsonLines(run.stdout) as { image: string }[]).map((r) => r.image)).toEqual([
      'evil.example/merged:1',
      'evil.example/binary:2',
    ]);
  });
});
