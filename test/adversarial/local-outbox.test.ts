/**
 * Local mode with `--data DIR`: an alert not yet delivered to Slack survives `kill -9` of
 * `regwatch local` and is delivered at the next start, then leaves the outbox.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalChild, localReady, spawnLocal } from '../helpers/local-child.ts';
import { podEvent } from '../local/builders.ts';

const ALLOWLIST = path.resolve(import.meta.dirname, '../fixtures/local/allowlist.yaml');

let slack: Server;
let slackUrl = '';
let slackMode: 'stall' | 'ok' = 'stall';
const stalled: ServerResponse[] = [];
const delivered: string[] = [];
let requests = 0;
let dir = '';
const children: ChildProcess[] = [];

async function waitFor<T>(what: string, probe: () => T | undefined, limitMs = 30_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function startLocal(data: string, readyFile: string): LocalChild {
  const local = spawnLocal(
    ['--data', data, '--allowlist', ALLOWLIST, '--slack-webhook', slackUrl],
    readyFile,
  );
  children.push(local.child);
  return local;
}

const outboxFiles = (data: string) => {
  try {
    return readdirSync(path.join(data, 'alert-outbox')).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
};

beforeAll(async () => {
  slack = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests++;
      if (slackMode === 'stall') {
        stalled.push(res);
        return;
      }
      delivered.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => slack.listen(0, '127.0.0.1', resolve));
  slackUrl = `http://127.0.0.1:${(slack.address() as AddressInfo).port}/services/T0/B0/x`;
  dir = mkdtempSync(path.join(tmpdir(), 'regwatch-outbox-'));
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const r of stalled) r.destroy();
  slack.closeAllConnections();
  await new Promise<void>((resolve) => slack.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

describe('regwatch local --data: the alert outbox', () => {
  it('delivers at the next start an alert whose Slack call was cut by kill -9', async () => {
    // Prepare: Slack accepts the connection and never answers, so the alert stays pending.
    const data = path.join(dir, 'data');
    const first = startLocal(data, path.join(dir, 'ready-1.json'));
    const { url } = await localReady(first, path.join(dir, 'ready-1.json'));
    const res = await fetch(`${url}/v1/pod-events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        podEvent({ cluster: 'outbox-1', name: 'miner', containers: { m: 'ghcr.io/evil/miner:1' } }),
      ]),
    });
    expect(res.status).toBe(200);
    await waitFor('the Slack call', () => (requests > 0 ? true : undefined));
    const pendingBeforeKill = outboxFiles(data);

    // Act
    const killed = new Promise((resolve) =>
      first.child.once('exit', (_code, signal) => resolve(signal)),
    );
    first.child.kill('SIGKILL');
    expect(await killed).toBe('SIGKILL');
    slackMode = 'ok';
    const second = startLocal(data, path.join(dir, 'ready-2.json'));
    await localReady(second, path.join(dir, 'ready-2.json'));
    await waitFor('the resumed delivery', () => (delivered.length > 0 ? true : undefined));
    await waitFor('the outbox to empty', () => (outboxFiles(data).length === 0 ? true : undefined));

    // Assess
    expect(pendingBeforeKill).toHaveLength(1);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toContain('ghcr.io/evil/miner:1');
    expect(second.output()).toContain('left undelivered by the last run');
    const stopped = new Promise((resolve) => second.child.once('exit', resolve));
    second.child.kill('SIGTERM');
    await stopped;
  }, 120_000);
});
