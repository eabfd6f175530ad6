/**
 * `regwatch test`: exit 0 when every test passes, 1 when any fails, 2 for a bad test file;
 * table, json and junit outputs.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

let dir: string;

const ALLOWLIST = `version: 1
rules:
  - id: hub
    registry: docker.io
    repository: library/*
  - id: no-latest
    effect: deny
    registry: "**"
    tags: [latest]
  - id: pinned
    image: ghcr.io/acme/**
    namespaces: ["*", "!kube-system"]
    requireDigest: true
`;

const MANIFEST = `apiVersion: apps/v1
kind: Deployment
metadata: { name: api, namespace: payments }
spec:
  template:
    spec:
      initContainers: [{ name: init, image: "busybox:1.36" }]
      containers:
        - { name: api, image: "ghcr.io/acme/api:1.2" }
---
apiVersion: v1
kind: Pod
metadata: { name: debug }
spec:
  containers: [{ name: sh, image: nginx }]
`;

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'regwatch-test-'));
  write('allowlist.yaml', ALLOWLIST);
  write('deploy/all.yaml', MANIFEST);
  write(
    'ok/passing.regwatch-test.yaml',
    `name: passing
allowlist: ../allowlist.yaml
tests:
  - name: deployment
    manifest: ../deploy/all.yaml
    objects: [Deployment/api]
    cluster: prod
    expect:
      busybox:1.36: allowed
      ghcr.io/acme/api:1.2: [unpinned-image]
  - name: debug pod
    manifest: ../deploy/all.yaml
    objects: [debug]
    namespace: default
    expect:
      nginx: denied-source
  - name: inline
    images: ["ghcr.io/acme/api@sha256:${'a'.repeat(64)}", "quay.io/x/y:1"]
    namespace: web
    expect:
      "ghcr.io/acme/api@sha256:${'a'.repeat(64)}": allowed
      quay.io/x/y:1: [untrusted-source]
`,
  );
  write(
    'bad-expect/failing.regwatch-test.yaml',
    `allowlist: ../allowlist.yaml
tests:
  - name: wrong <expectation>
    images: [nginx:1.27, "evil\\u001b[31m"]
    expect:
      nginx:1.27: [untrusted-source]
      redis:7: allowed
  - name: right
    images: [nginx:1.27]
    expect:
      nginx:1.27: allowed
`,
  );
  write(
    'broken/broken.regwatch-test.yaml',
    `allowlist: ../allowlist.yaml
tests:
  - name: x
    images: [nginx]
    manifest: a.yaml
    expect:
      nginx: permitted
`,
  );
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('regwatch test', () => {
  it('passes, with exit 0, when every expectation holds', async () => {
    // Act
    const run = await runCli(['test', path.join(dir, 'ok')]);
    // Assess
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('3 test(s) in 1 file(s): 3 passed, 0 failed');
  });

  it('fails with exit 1, naming each wrong or missing image, and escapes control characters', async () => {
    const run = await runCli(['test', path.join(dir, 'bad-expect')]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('FAIL wrong <expectation>');
    expect(run.stdout).toContain('nginx:1.27: expected ["untrusted-source"], got "allowed"');
    expect(run.stdout).toContain('redis:7: expected, but no resource of the test holds it');
    expect(run.stdout).toContain('evil\\u001b[31m');
    expect(run.stdout).not.toContain('\u001b');
    expect(run.stdout).toContain('2 test(s) in 1 file(s): 1 passed, 1 failed');
  });

  it('refuses a bad test file with exit 2 and names the field', async () => {
    const run = await runCli(['test', path.join(dir, 'broken')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('is not a valid test file');
    expect(run.stderr).toContain('tests.0.expect.nginx');
    // Checks across fields run once the fields themselves are valid.
    write(
      'broken2/b.regwatch-test.yaml',
      'allowlist: ../allowlist.yaml\ntests:\n  - name: x\n    images: [nginx]\n    manifest: a.yaml\n    expect:\n      nginx: allowed\n',
    );
    const both = await runCli(['test', path.join(dir, 'broken2')]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give either manifest or images');
  });

  it('refuses an empty directory with exit 2', async () => {
    mkdirSync(path.join(dir, 'empty'), { recursive: true });
    const run = await runCli(['test', path.join(dir, 'empty')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('no *.regwatch-test.yaml files');
  });

  it('writes JSON and JUnit XML', async () => {
    // Act
    const json = await runCli(['test', path.join(dir, 'bad-expect'), '-o', 'json']);
    const junit = await runCli(['test', path.join(dir, 'bad-expect'), '-o', 'junit']);
    // Assess
    const parsed = JSON.parse(json.stdout) as { summary: { tests: number; failed: number } };
    expect(parsed.summary).toEqual({ tests: 2, passed: 1, failed: 1 });
    expect(junit.code).toBe(1);
    expect(junit.stdout).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites/);
    expect(junit.stdout).toContain('tests="2" failures="1"');
    expect(junit.stdout).toContain(
      '<testcase classname="failing.regwatch-test.yaml" name="wrong &lt;expectation&gt;">',
    );
    expect(junit.stdout).toContain(
      '<testcase classname="failing.regwatch-test.yaml" name="right"/>',
    );
    // XML 1.0 cannot hold ESC: it is shown escaped, never raw.
    expect(junit.stdout).not.toContain('\u001b');
    const bad = await runCli(['test', dir, '-o', 'sarif']);
    expect(bad.code).toBe(2);
  });
});

describe('regwatch allowlist convert', () => {
  it('exits 0 with the allowlist on stdout and the closed bypasses on stderr', async () => {
    // Prepare
    const file = write(
      'gk.yaml',
      `kind: K8sAllowedRepos
metadata: { name: r }
spec: { parameters: { repos: ["docker.io"] } }
`,
    );
    // Act
    const run = await runCli(['allowlist', 'convert', '--from', 'gatekeeper', file]);
    // Assess
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('registry: docker.io');
    expect(run.stderr).toContain('closed on purpose');
    expect(run.stderr).toContain('docker.io.evil.com');
  });

  it('exits 1 when something does not convert, 2 for a bad peer name or YAML', async () => {
    const file = write('kw.yaml', 'images:\n  allow: ["not-a-valid-image-tag:1.0.0+rc1"]\n');
    const run = await runCli(['allowlist', 'convert', '--from', 'kubewarden', file]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('settings-1 images.allow[0]');
    expect((await runCli(['allowlist', 'convert', '--from', 'opa', file])).code).toBe(2);
    const broken = write('broken.yaml', 'a: [\n');
    const yaml = await runCli(['allowlist', 'convert', '--from', 'kyverno', broken]);
    expect(yaml.code).toBe(2);
    expect(yaml.stderr).toContain('broken.yaml:');
  });
});
