/**
 * `regwatch local --data` as a child process, killed with SIGKILL right after a 2xx: the
 * inventory entries that answer covered are in the folder at the next start (local mode writes
 * them in batches, flushed before it answers), and the restarted process, which reloads its
 * index from the folder, keeps them right (a pod deleted after the restart resolves its finding).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { localDynamoClient } from '../../lambdas/adapters/dynamodb/embedded.ts';
import { LOCAL_TABLE_NAMES, regwatchTables } from '../../lambdas/adapters/dynamodb/index.ts';
import {
  type LocalChild,
  type LocalReady,
  localReady,
  spawnLocal,
} from '../helpers/local-child.ts';
import { podEvent } from './builders.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ALLOWLIST = path.join(ROOT, 'test/fixtures/local/allowlist.yaml');

const dirs: string[] = [];
const children: ChildProcess[] = [];
const killAll = () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
};
process.once('exit', killAll);
afterAll(() => {
  killAll();
  process.off('exit', killAll);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Running extends LocalChild, LocalReady {}

async function start(data: string, readyFile: string): Promise<Running> {
  const local = spawnLocal(['--data', data, '--allowlist', ALLOWLIST], readyFile);
  children.push(local.child);
  return { ...local, ...(await localReady(local, readyFile)) };
}

interface Answer {
  status: number;
  report: { findings: { new: number; resolved?: number } };
}

async function post(url: string, body: unknown): Promise<Answer> {
  const res = await fetch(`${url}/v1/pod-events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, report: (await res.json()) as Answer['report'] };
}

const pod = (name: string, reason?: string) => ({
  ...podEvent({ cluster: 'kill-prod-1', name, containers: { app: 'evil.io/kept:1' } }),
  ...(reason ? { reason } : {}),
});

describe('regwatch local --data, killed after a 2xx', () => {
  it('has every answered entry at the next start, and keeps them right after it', async () => {
    // Prepare
    const dir = mkdtempSync(path.join(tmpdir(), 'regwatch-inventory-kill-'));
    dirs.push(dir);
    const data = path.join(dir, 'data');
    const readyFile = path.join(dir, 'ready.json');

    // Act: three new workloads answered, then SIGKILL (no shutdown of any kind).
    const first = await start(data, readyFile);
    const answered = await post(first.url, [pod('k-a'), pod('k-b'), pod('k-c')]);
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await start(data, readyFile);
    const client = localDynamoClient(second.dynamodbEndpoint);
    const entries = [];
    try {
      for await (const s of regwatchTables(client, LOCAL_TABLE_NAMES).inventory.query({
        cluster: 'kill-prod-1',
      }))
        entries.push(s.entry);
    } finally {
      client.destroy();
    }
    const gone = await post(second.url, [pod('k-b', 'deleted')]);
    second.child.kill('SIGTERM');

    // Assess
    expect(answered.status).toBe(200);
    expect(answered.report.findings.new).toBe(3);
    expect(entries.map((e) => e.pods).sort()).toEqual([['k-a'], ['k-b'], ['k-c']]);
    expect(gone.status).toBe(200);
    expect(gone.report.findings.resolved).toBe(1);
  }, 120_000);
});
