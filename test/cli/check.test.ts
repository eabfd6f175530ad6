import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, runCli } from '../helpers/cli.ts';

const ALLOWLIST = `version: 1
rules:
  - id: company-ecr
    registry: "444455556666.dkr.ecr.*.amazonaws.com"
  - id: dockerhub-official
    image: "docker.io/library/*"
    denyTags: ["latest"]
  - id: prod-pinned
    registry: "registry.k8s.io"
    clusters: ["prod-*"]
    requireDigest: true
`;

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      initContainers: [{name: init, image: "busybox:1.36"}]
      containers:
        - {name: app, image: "444455556666.dkr.ecr.eu-central-1.amazonaws.com/shop/web:1.2"}
        - {name: sidecar, image: "docker.io.evil.com/library/nginx:1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: b}
`;

describe('regwatch check', () => {
  let dir: string;
  let allowlist: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'regwatch-check-'));
    allowlist = path.join(dir, 'allowlist.yaml');
    writeFileSync(allowlist, ALLOWLIST);
    mkdirSync(path.join(dir, 'manifests', 'nested'), { recursive: true });
    writeFileSync(path.join(dir, 'manifests', 'nested', 'deploy.yaml'), DEPLOYMENT);
    writeFileSync(path.join(dir, 'manifests', 'README.md'), 'not a manifest');
  });

  it('judges images given as arguments and exits 1 on a violation', async () => {
    // Act
    const run = await runCli(['check', '--allowlist', allowlist, '--json', 'nginx:1.27', 'nginx']);
    // Assess
    expect(run.code).toBe(1);
    const [pinned, latest] = jsonLines(run.stdout) as Record<string, unknown>[];
    expect(pinned).toEqual({
      image: 'nginx:1.27',
      allowed: true,
      reference: 'docker.io/library/nginx:1.27',
      matchedRule: 'dockerhub-official',
      violations: [],
    });
    expect(latest).toMatchObject({
      image: 'nginx',
      allowed: false,
      matchedRule: 'dockerhub-official',
      violations: [{ rule: 'mutable-tag', severity: expect.any(String) }],
    });
  });

  it('exits 0 when everything is allowed, reading images from stdin', async () => {
    const run = await runCli(['check', '--allowlist', allowlist], {
      stdin:
        'alpine:3.20\n444455556666.dkr.ecr.us-east-1.amazonaws.com/x@sha256:' +
        'b'.repeat(64) +
        '\n',
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('2 image(s) checked, 0 with violations');
  });

  it('reads every container kind of the manifests in a directory, with their source', async () => {
    const run = await runCli(
      ['check', '--allowlist', allowlist, '-f', path.join(dir, 'manifests'), '--json'],
      {
        cwd: dir,
      },
    );
    expect(run.code).toBe(1);
    const out = jsonLines(run.stdout) as Record<string, unknown>[];
    expect(out.map((o) => [o.image, o.allowed])).toEqual([
      ['444455556666.dkr.ecr.eu-central-1.amazonaws.com/shop/web:1.2', true],
      ['docker.io.evil.com/library/nginx:1', false],
      ['busybox:1.36', true],
    ]);
    expect(out[2]).toMatchObject({ source: { container: 'init', containerKind: 'initContainer' } });
    expect(out[1]).toMatchObject({
      violations: [{ rule: 'untrusted-source' }],
      source: {
        file: path.join('manifests', 'nested', 'deploy.yaml'),
        kind: 'Deployment',
        name: 'web',
        namespace: 'shop',
        container: 'sidecar',
      },
    });
  });

  it('reads manifests from stdin with -f -', async () => {
    const run = await runCli(['check', '--allowlist', allowlist, '-f', '-', '--json'], {
      stdin: DEPLOYMENT,
    });
    expect(jsonLines(run.stdout)).toHaveLength(3);
  });

  it('applies cluster-scoped rules only when the cluster is given and matches', async () => {
    const image = `registry.k8s.io/pause:3.10@sha256:${'c'.repeat(64)}`;
    const withoutCluster = await runCli(['check', '--allowlist', allowlist, '--json', image]);
    const inProd = await runCli([
      'check',
      '--allowlist',
      allowlist,
      '--cluster',
      'prod-eu',
      '--json',
      image,
    ]);
    expect(withoutCluster.code).toBe(1);
    expect(inProd.code).toBe(0);
  });

  it('fails closed on an invalid reference', async () => {
    const run = await runCli(['check', '--allowlist', allowlist, '--json', 'library/UPPER']);
    expect(run.code).toBe(1);
    expect(jsonLines(run.stdout)[0]).toMatchObject({
      allowed: false,
      reference: null,
      violations: [{ rule: 'invalid-reference' }],
    });
  });

  it('exits 2 with the rule and field named for a bad allowlist', async () => {
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      'version: 1\nrules:\n  - id: typo\n    registry: "ghcr.io"\n    namspaces: ["x"]\n',
    );
    const run = await runCli(['check', '--allowlist', bad, 'nginx']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('typo');
    expect(run.stderr).toContain('namspaces');
  });

  it('exits 2 on a broken manifest, naming file and line', async () => {
    const broken = path.join(dir, 'broken.yaml');
    writeFileSync(broken, 'kind: Pod\nspec:\n  containers: [\n');
    const run = await runCli(['check', '--allowlist', allowlist, '-f', broken]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/broken\.yaml:\d+:\d+: not valid YAML/);
  });

  it('exits 2 without an allowlist', async () => {
    const run = await runCli(['check', 'nginx'], { cwd: `${dir}/manifests` });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('no allowlist');
  });
});
