/**
 * Local mode's expiry warning as an alert: a console line and the Slack message through the
 * alert outbox (stored before it is sent, removed once Slack took it), as findings alert.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileOutbox } from '../../lambdas/adapters/outbox.ts';
import { expiryWarning } from '../../lambdas/core/alerts/expiry-warning.ts';
import {
  LocalExpiryWarningNotifier,
  type PendingAlert,
  SlackAlerter,
} from '../../lambdas/local/alerts.ts';

let server: Server;
let url = '';
const posts: { text: string }[] = [];
let dir = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T/B/x`;
  dir = mkdtempSync(path.join(tmpdir(), 'regwatch-warning-outbox-'));
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

const warning = (severity: 'high' | 'low') =>
  expiryWarning(
    { id: 'tools', registry: 'ghcr.io', repository: 'tools/**', expiresAt: '2026-06-08T10:00:00Z' },
    { severities: { 'expired-exception': severity } },
    {
      dependents: [
        {
          cluster: 'prod',
          namespace: 'ops',
          workload: { kind: 'Deployment', name: 'jq\u001b[2J' },
          container: 'app',
          image: 'ghcr.io/tools/jq:1',
        },
      ],
      total: 1,
      complete: true,
    },
    new Date('2026-06-02T10:00:00Z'),
    7,
  );

describe('the local expiry warning notifier', () => {
  it('prints a terminal-safe line and sends the Slack message through the outbox', async () => {
    // Prepare
    const outbox = new FileOutbox<PendingAlert>(dir);
    const slack = new SlackAlerter(url, { outbox, maxAttempts: 1 });
    const lines: string[] = [];
    const notifier = new LocalExpiryWarningNotifier((l) => lines.push(l), slack, 'high');

    // Act
    const id = await notifier.send(warning('high'));
    const stored = outbox.size;
    await slack.drain();

    // Assess
    expect(id).toBe('console+slack');
    expect(stored).toBe(1);
    expect(outbox.size).toBe(0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ALERT EXPIRY-WARNING HIGH rule=tools /);
    expect(lines[0]).not.toContain('\u001b');
    expect(posts).toHaveLength(1);
    expect(posts[0]?.text).toContain('Exception tools expires');
  });

  it('below the minimum alert severity sends nothing', async () => {
    const slack = new SlackAlerter(url);
    const lines: string[] = [];
    const before = posts.length;
    const id = await new LocalExpiryWarningNotifier((l) => lines.push(l), slack, 'high').send(
      warning('low'),
    );
    await slack.drain();
    expect(id).toBeNull();
    expect(lines).toEqual([]);
    expect(posts.length).toBe(before);
  });
});
