/**
 * End to end: `regwatch local` as a child process on free ports, with a loopback Slack stub
 * that answers 429 + Retry-After the first time. Real bodies go in over HTTP; findings come out
 * through `regwatch findings list`; Slack gets exactly one message per new finding.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../lambdas/core/types.ts';
import { jsonLines, runCli } from '../helpers/cli.ts';
import { type LocalChild, localReady, spawnLocal } from '../helpers/local-child.ts';
import { auditPodCreate, ecrPush, eventList, podEvent } from './builders.ts';

const ALLOWLIST = path.resolve(import.meta.dirname, '../fixtures/local/allowlist.yaml');
const HOSTILE_POD = 'pwn-<!channel>-<https://evil.example|click here>';
const HOSTILE_IMAGE = 'ghcr.io/evil/tool:1<!here>&';

interface SlackPost {
  body: { text: string; blocks: unknown[] };
}

let slack: Server;
const slackPosts: SlackPost[] = [];
let slackAttempts = 0;
let child: ChildProcess | undefined;
let local: LocalChild | undefined;
let exited: Promise<number | null>;
const childOut = () => local?.output() ?? '';
let dir: string;
let ready: { url: string; dynamodbEndpoint: string };

function killChild(): void {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

async function _waitFor<T>(what: string, probe: () => T | undefined, limitMs = 30_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`gave up waiting for ${what}; child said:\n${childOut()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  slack = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      slackAttempts++;
      if (slackAttempts === 1) {
        res.writeHead(429, { 'retry-after': '1' }).end('rate_limited');
        return;
      }
      slackPosts.push({ body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => slack.listen(0, '127.0.0.1', resolve));
  const slackUrl = `http://127.0.0.1:${(slack.address() as AddressInfo).port}/services/T0/B0/x`;

  dir = mkdtempSync(path.join(tmpdir(), 'regwatch-local-e2e-'));
  const readyFile = path.join(dir, 'ready.json');
  // A failing test must not leave the child behind.
  process.once('exit', killChild);
  local = spawnLocal(['--allowlist', ALLOWLIST, '--slack-webhook', slackUrl], readyFile);
  child = local.child;
  exited = local.exited;
  ready = await localReady(local, readyFile, 30_000);
}, 60_000);

afterAll(async () => {
  killChild();
  process.off('exit', killChild);
  await new Promise<void>((resolve) => slack?.close(() => resolve()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function post(
  route: string,
  body: unknown,
): Promise<{ status: number; report: Record<string, unknown> }> {
  const res = await fetch(`${ready.url}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, report: (await res.json()) as Record<string, unknown> };
}

async function listFindings(): Promise<Finding[]> {
  const run = await runCli([
    'findings',
    'list',
    '--json',
    '--dynamodb-endpoint',
    ready.dynamodbEndpoint,
  ]);
  expect(run.stderr).toBe('');
  return jsonLines(run.stdout) as Finding[];
}

describe('regwatch local, end to end', () => {
  it('stores findings once, alerts once per new finding, escapes hostile names, keeps good records', async () => {
    // Prepare
    const pods = [
      podEvent({
        cluster: 'e2e-prod-1',
        name: 'api',
        containers: { api: '444455556666.dkr.ecr.eu-central-1.amazonaws.com/shop/api:3.1' },
      }),
      podEvent({ cluster: 'e2e-prod-1', name: HOSTILE_POD, containers: { tool: HOSTILE_IMAGE } }),
    ];
    const audit = eventList([
      auditPodCreate({
        auditID: 'e2e-1',
        namespace: 'qa',
        name: 'curl',
        image: 'curlimages/curl:8.8.0',
      }),
    ]);
    const push = ecrPush({
      id: 'e2e-push-1',
      account: '111122223333',
      repository: 'vendor/agent',
      tag: '5.0',
      time: new Date().toISOString(),
    });
    const malformed = [
      podEvent({ cluster: 'e2e-prod-2', name: 'late', containers: { late: 'evil.io/late:1' } }),
      { cluster: 'e2e-prod-2', observedAt: 'yesterday', reason: 'running', pod: {} },
    ];

    // Act
    const first = [
      await post('/v1/pod-events', pods),
      await post('/v1/audit?cluster=e2e-prod-1', audit),
      await post('/v1/events', push),
    ];
    const afterFirst = await listFindings();
    const again = [
      await post('/v1/pod-events', pods),
      await post('/v1/audit?cluster=e2e-prod-1', audit),
      await post('/v1/events', push),
    ];
    const bad = await post('/v1/pod-events', malformed);
    const findings = await listFindings();
    child?.kill('SIGTERM');
    const code = await exited;

    // Assess: every request answered; re-posts changed nothing
    expect(first.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(again.map((r) => r.status)).toEqual([200, 200, 200]);
    for (const r of again) expect(r.report.findings).toMatchObject({ new: 0, reopened: 0 });
    expect(afterFirst.map((f) => f.rule).sort()).toEqual([
      'invalid-reference',
      'untrusted-source',
      'untrusted-source',
    ]);
    expect(afterFirst.every((f) => f.count === 1)).toBe(true);

    // the malformed batch: 400 naming record 1; its good record and the earlier ones are stored
    expect(bad.status).toBe(400);
    expect((bad.report.failed as { index: number }[]).map((f) => f.index)).toEqual([1]);
    expect(findings).toHaveLength(4);
    expect(findings.map((f) => f.image)).toContain('evil.io/late:1');
    expect(findings.filter((f) => afterFirst.some((a) => a.id === f.id))).toHaveLength(3);

    // Slack: exactly one message per finding (the first attempt got 429 and was retried)
    expect(code).toBe(0);
    expect(slackAttempts).toBe(findings.length + 1);
    const perFinding = findings.map(
      (f) => slackPosts.filter((p) => JSON.stringify(p.body).includes(f.id)).length,
    );
    expect(perFinding).toEqual(findings.map(() => 1));

    // hostile strings arrive escaped, never as Slack control sequences
    const hostile = slackPosts.find((p) => JSON.stringify(p.body).includes('pwn-'));
    const text = JSON.stringify(hostile?.body);
    expect(text).toContain('pwn-&lt;!channel&gt;-&lt;https://evil.example|click here&gt;');
    expect(text).toContain('1&lt;!here&gt;&amp;');
    expect(text).not.toContain('<!channel>');
    expect(text).not.toContain('<!here>');
    expect(childOut()).toContain('regwatch local stopped.');
  }, 60_000);
});
