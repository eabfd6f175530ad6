import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTables,
  LOCAL_TABLE_NAMES,
  regwatchTables,
} from '../../lambdas/adapters/dynamodb/index.ts';
import { fingerprint } from '../../lambdas/core/fingerprint.ts';
import type { FindingCandidate } from '../../lambdas/core/types.ts';
import { jsonLines, runCli } from '../helpers/cli.ts';
import { type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ALLOWLIST = 'version: 1\nrules:\n  - id: hub\n    image: "docker.io/library/*"\n';
const HOSTILE = 'evil.example/x:1\u001b[2J\u202e\u200b';

/** Raw characters that must never reach a terminal (newlines aside, which end lines). */
const RAW = new Set(['\u001b', '\u202e', '\u200b', '\u0007', '\r']);
const rawHidden = (text: string) => [...text].filter((c) => RAW.has(c));

/** A port nothing listens on: bound, read, closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('human output never passes control, bidi or zero-width characters through', () => {
  let dir: string;
  let allowlist: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'regwatch-hygiene-'));
    allowlist = path.join(dir, 'allowlist.yaml');
    writeFileSync(allowlist, ALLOWLIST);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('check (table, from a manifest) and ref escape them visibly, one row per image', async () => {
    // Prepare: a container name with a newline that would forge an ALLOWED row.
    const manifest = `kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: "a\\nALLOWED  nginx:1.27"\n      image: ${JSON.stringify(HOSTILE)}\n`;
    // Act
    const check = await runCli(['check', '--allowlist', allowlist, '-f', '-', '-o', 'wide'], {
      stdin: manifest,
    });
    const ref = await runCli(['ref', HOSTILE]);
    // Assess
    for (const out of [check.stdout, ref.stdout]) {
      expect(rawHidden(out)).toEqual([]);
      expect(out).toContain('\\x1b[2J\\u202e\\u200b');
    }
    const rows = check.stdout.split('\n').filter((l) => /^(ALLOWED|VIOLATION)/.test(l));
    expect(rows).toHaveLength(1);
    expect(check.stdout).toContain('a\\x0aALLOWED');
  });

  it('error messages quoting input are escaped too', async () => {
    const run = await runCli(['check', '--allowlist', allowlist, '-f', 'missing\u001b[2J\n.yaml']);
    expect(run.code).toBe(2);
    expect(rawHidden(run.stderr)).toEqual([]);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('missing\\x1b[2J\\x0a.yaml');
  });

  it('an invalid allowlist: one headline, then each issue once on its own line', async () => {
    // Prepare: a YAML error, and three schema issues (one quoting a hostile rule id).
    const yamlError = path.join(dir, 'dup.yaml');
    writeFileSync(
      yamlError,
      'version: 1\nrules:\n  - id: a\n    registry: x.io\n    registry: y.io\n',
    );
    const schemaErrors = path.join(dir, 'bad.yaml');
    writeFileSync(
      schemaErrors,
      'version: 1\nrules:\n  - id: a\n    registry: x.io\n    nope: 1\n  - id: "b\\nc"\n',
    );

    for (const [file, issues] of [
      [yamlError, 1],
      [schemaErrors, 3],
    ] as const) {
      // Act
      const run = await runCli(['check', '--allowlist', file, 'x.io/a:1']);

      // Assess
      expect(run.code).toBe(2);
      const lines = run.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1 + issues);
      expect(lines[0]).toMatch(/^regwatch: .* \(\d+ issues?\):$/);
      expect(lines[0]).not.toContain('\\x0a');
      expect(lines.slice(1).every((l) => l.startsWith('  '))).toBe(true);
    }
  });

  it('colour only when forced (FORCE_COLOR) or on a terminal; NO_COLOR and pipes get none', async () => {
    const forced = await runCli(['check', '--allowlist', allowlist, 'evil.example/x:1'], {
      env: { FORCE_COLOR: '1' },
    });
    const piped = await runCli(['check', '--allowlist', allowlist, 'evil.example/x:1']);
    const noColor = await runCli(['check', '--allowlist', allowlist, 'evil.example/x:1'], {
      env: { NO_COLOR: '1' },
    });
    expect(forced.stdout).toContain('\u001b[31mVIOLATION');
    expect(piped.stdout).not.toContain('\u001b');
    expect(noColor.stdout).not.toContain('\u001b');
  });
});

describe('findings show and list with hostile stored values', () => {
  let dynamo: LocalDynamo;
  let id: string;
  beforeAll(async () => {
    dynamo = await startDynalite();
    await createTables(dynamo.client, LOCAL_TABLE_NAMES);
    const { findings } = regwatchTables(dynamo.doc, LOCAL_TABLE_NAMES);
    const base = {
      cluster: 'prod',
      namespace: 'web',
      workload: { kind: 'Deployment', name: 'shop\n  image:             nginx:1.27' },
      container: 'app',
      rule: 'untrusted-source' as const,
      image: HOSTILE,
    };
    const candidate: FindingCandidate = {
      ...base,
      fingerprint: fingerprint(base),
      containerKind: 'container',
      reference: null,
      repository: null,
      digest: null,
      severity: 'high',
      message: 'not trusted',
      matchedRule: null,
      actor: {
        username: 'mallory\u202eresu',
        groups: ['dev\nsource IPs: 10.0.0.1'],
        sourceIPs: ['198.51.100.7'],
        userAgent: 'kubectl\u001b]8;;http://evil\u0007',
        auditID: 'a',
      },
      source: 'audit',
      observedAt: '2026-11-24T10:00:00Z',
      eventId: 'e-1',
    };
    const result = await findings.upsert(candidate, { now: new Date('2026-11-25T00:00:00Z') });
    id = result.finding.id;
  });
  afterAll(() => dynamo.stop());

  it('show: every value escaped on its own, no forged line', async () => {
    const run = await runCli(['findings', 'show', id, '--dynamodb-endpoint', dynamo.endpoint]);
    expect(run.code).toBe(0);
    expect(rawHidden(run.stdout)).toEqual([]);
    expect(run.stdout.match(/^ {2}image:/gm)).toHaveLength(1);
    expect(run.stdout.match(/source IPs:/g)).toHaveLength(2); // the real one and the escaped fake
    expect(run.stdout).toContain('dev\\x0asource IPs: 10.0.0.1');
    expect(run.stdout).toContain('mallory\\u202eresu');
  });

  it('list: table escaped; -o wide, -o yaml and --csv work', async () => {
    const target = ['--dynamodb-endpoint', dynamo.endpoint];
    const table = await runCli(['findings', 'list', ...target]);
    expect(rawHidden(table.stdout)).toEqual([]);
    expect(table.stdout.trim().split('\n')).toHaveLength(2);
    for (const line of table.stdout.trim().split('\n'))
      expect(line.length).toBeLessThanOrEqual(100);
    const wide = await runCli(['findings', 'list', ...target, '-o', 'wide']);
    expect(wide.stdout).toContain('\\x1b[2J\\u202e\\u200b');
    const yaml = await runCli(['findings', 'list', ...target, '-o', 'yaml']);
    expect(yaml.stdout).toMatch(/^---\n/);
    const csv = await runCli(['findings', 'list', ...target, '--csv']);
    expect(csv.stdout.split('\r\n')[0]).toMatch(/^id,status,severity/);
    const json = await runCli(['findings', 'list', ...target, '-o', 'json']);
    expect(jsonLines(json.stdout)).toHaveLength(1);
  });
});

describe('machine-side failures are named errors (exit 2), not "unexpected error"', () => {
  it('an unreachable DynamoDB endpoint (ECONNREFUSED)', async () => {
    const port = await closedPort();
    const run = await runCli([
      'findings',
      'list',
      '--dynamodb-endpoint',
      `http://127.0.0.1:${port}`,
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      new RegExp(
        `^regwatch: cannot reach 127\\.0\\.0\\.1:${port} \\(connection refused\\): check the endpoint`,
      ),
    );
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a missing kubeconfig, given or by default', async () => {
    const given = await runCli([
      'forward',
      '--cluster',
      'c',
      '--sink',
      'http://127.0.0.1:1/x',
      '--kubeconfig',
      '/nonexistent/kubeconfig',
    ]);
    expect(given.code).toBe(2);
    expect(given.stderr).toContain('kubeconfig /nonexistent/kubeconfig: no such file');
    const none = await runCli(['forward', '--cluster', 'c', '--sink', 'http://127.0.0.1:1/x'], {
      env: { HOME: '/nonexistent' },
    });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no kubeconfig found');
    expect(`${given.stderr}${none.stderr}`).not.toContain('unexpected error');
  });
});

describe('a closed stdout (| head) ends the CLI quietly', () => {
  it('ref with a long input: stderr stays empty, the process ends', async () => {
    // Prepare: far more output than a pipe buffer holds.
    const input = 'nginx:1.27\n'.repeat(200_000);
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/regwatch.ts'), 'ref'], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.stdin.end(input);
    // Act: read the first chunk, then close our end like `head` does.
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) =>
      child.on('close', (c) => resolve(c)),
    );
    // Assess
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('check keeps its exit code (1: violations) when stdout closes mid-output', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'regwatch-epipe-'));
    try {
      writeFileSync(path.join(dir, 'allowlist.yaml'), ALLOWLIST);
      const child = spawn(
        process.execPath,
        [
          path.join(ROOT, 'bin/regwatch.ts'),
          'check',
          '--allowlist',
          'allowlist.yaml',
          '-o',
          'json',
        ],
        { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      child.stdin.end('evil.example/x:1\n'.repeat(100_000));
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      child.stdout.destroy();
      const code = await new Promise<number | null>((resolve) =>
        child.on('close', (c) => resolve(c)),
      );
      expect(stderr).toBe('');
      expect(code).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
