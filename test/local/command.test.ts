/**
 * `regwatch local` in-process: the example replay (what `npm start` shows a newcomer) goes
 * through every route without an invalid record, and `--data` keeps findings across restarts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { makeRegisterLocal } from '../../cli/commands/local.ts';
import { main } from '../../cli/main.ts';
import { localDynamoClient } from '../../lambdas/adapters/dynamodb/embedded.ts';
import { LOCAL_TABLE_NAMES, regwatchTables } from '../../lambdas/adapters/dynamodb/index.ts';
import type { Finding } from '../../lambdas/core/types.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Runs `regwatch local …` until `ready` says so, then stops it like Ctrl-C would. */
async function runLocal(
  args: string[],
  whileRunning: (ready: { url: string; dynamodbEndpoint: string }) => Promise<void>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'regwatch-local-cmd-'));
  dirs.push(dir);
  const readyFile = path.join(dir, 'ready.json');
  let stop: (signal: string) => void = () => {};
  const stopped = new Promise<string>((resolve) => {
    stop = resolve;
  });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  stderr.on('data', (c: Buffer) => {
    err += c.toString('utf8');
  });
  const running = main(
    ['local', '--port', '0', '--dynamodb-port', '0', '--ready-file', readyFile, ...args],
    { stdin: Readable.from([]), stdout, stderr, env: {}, cwd: process.cwd() },
    [makeRegisterLocal(() => stopped)],
  );
  // The ready file is written after the banner and before the example replay; the replay
  // summary line says the replay is over.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const done = args.includes('--example') ? /open finding|No open findings/.test(out) : true;
    let ready: { url: string; dynamodbEndpoint: string } | undefined;
    try {
      ready = JSON.parse(readFileSync(readyFile, 'utf8'));
    } catch {}
    if (ready && done) {
      await whileRunning(ready);
      break;
    }
    if (Date.now() > deadline) throw new Error(`regwatch local did not get ready:\n${out}\n${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  stop('SIGINT');
  return { code: await running, stdout: out, stderr: err };
}

describe('regwatch local --example', () => {
  it('replays every bundled example without an invalid record and reports findings', async () => {
    // Act
    const run = await runLocal(['--example'], async () => {});

    // Assess
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('regwatch local is running');
    expect(run.stdout).toMatch(
      /npx regwatch findings list --dynamodb-endpoint http:\/\/127\.0\.0\.1:\d+/,
    );
    const answers = [...run.stdout.matchAll(/← (\S+): HTTP (\d+)/g)].map((m) => [m[1], m[2]]);
    expect(answers.length).toBeGreaterThanOrEqual(4);
    expect(answers.filter(([, status]) => status !== '200')).toEqual([]);
    expect(run.stdout).toMatch(/\d+ open findings?: .*untrusted-source/);
    expect(run.stdout).toMatch(/^ALERT NEW /m);
    expect(run.stdout).toContain('regwatch local stopped.');
  }, 90_000);
});

describe('regwatch local --data', () => {
  it('keeps findings across a restart', async () => {
    // Prepare
    const data = mkdtempSync(path.join(tmpdir(), 'regwatch-local-data-'));
    dirs.push(data);
    const allowlist = path.resolve(import.meta.dirname, '../fixtures/local/allowlist.yaml');
    const batch = [
      {
        cluster: 'persist-prod-1',
        observedAt: '2026-01-10T10:00:00Z',
        reason: 'running',
        pod: {
          metadata: { name: 'p', namespace: 'n', uid: 'uid-p' },
          spec: { containers: [{ name: 'c', image: 'evil.io/keep:1' }] },
        },
      },
    ];

    // Act: store a finding, stop, start again on the same folder and read it back
    const first = await runLocal(['--data', data, '--allowlist', allowlist], async ({ url }) => {
      const res = await fetch(`${url}/v1/pod-events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(batch),
      });
      expect(res.status).toBe(200);
    });
    const seen: Finding[] = [];
    const second = await runLocal(
      ['--data', data, '--allowlist', allowlist],
      async ({ dynamodbEndpoint }) => {
        const client = localDynamoClient(dynamodbEndpoint);
        for await (const f of regwatchTables(client, LOCAL_TABLE_NAMES).findings.query({})) {
          seen.push(f);
        }
        client.destroy();
      },
    );

    // Assess
    expect(first.code).toBe(0);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('(unchanged)');
    expect(seen.map((f) => [f.cluster, f.image])).toEqual([['persist-prod-1', 'evil.io/keep:1']]);
  }, 90_000);
});
