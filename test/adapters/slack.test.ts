import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { postToSlack, retryAfterMs, SlackDeliveryError } from '../../lambdas/adapters/slack.ts';

type Reply = { status: number; headers?: Record<string, string>; body?: string };

describe('postToSlack against a loopback Slack stub', () => {
  let server: Server;
  let url: string;
  let replies: Reply[] = [];
  let received: unknown[] = [];

  const bodyOf = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  };

  beforeAll(async () => {
    server = createServer(async (req, res) => {
      received.push(await bodyOf(req));
      const reply = replies.shift() ?? { status: 200, body: 'ok' };
      res.writeHead(reply.status, reply.headers ?? {});
      res.end(reply.body ?? '');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/hook`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    replies = [];
    received = [];
  });

  it('waits as Retry-After says on 429, then delivers once', async () => {
    // Prepare
    replies = [{ status: 429, headers: { 'retry-after': '2' }, body: 'rate_limited' }];
    const waits: number[] = [];
    // Act
    const result = await postToSlack(
      url,
      { text: 'hi' },
      { sleep: async (ms) => void waits.push(ms) },
    );
    // Assess
    expect(result.attempts).toBe(2);
    expect(waits).toEqual([2000]);
    expect(received).toEqual([{ text: 'hi' }, { text: 'hi' }]);
  });

  it('backs off exponentially on 5xx', async () => {
    replies = [{ status: 500 }, { status: 503 }];
    const waits: number[] = [];
    const result = await postToSlack(
      url,
      { text: 'x' },
      {
        baseDelayMs: 100,
        sleep: async (ms) => void waits.push(ms),
      },
    );
    expect(result.attempts).toBe(3);
    expect(waits).toEqual([100, 200]);
  });

  it('fails at once on a 4xx that will not get better', async () => {
    replies = [{ status: 404, body: 'no_service' }];
    const waits: number[] = [];
    const err = await postToSlack(url, {}, { sleep: async (ms) => void waits.push(ms) }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SlackDeliveryError);
    expect((err as SlackDeliveryError).status).toBe(404);
    expect(waits).toEqual([]);
    expect(received).toHaveLength(1);
  });

  it('gives up after maxAttempts and caps a hostile Retry-After', async () => {
    replies = [
      { status: 429, headers: { 'retry-after': '86400' } },
      { status: 429, headers: { 'retry-after': '86400' } },
    ];
    const waits: number[] = [];
    const err = await postToSlack(
      url,
      {},
      {
        maxAttempts: 2,
        maxWaitMs: 5000,
        sleep: async (ms) => void waits.push(ms),
      },
    ).catch((e: unknown) => e);
    expect((err as SlackDeliveryError).status).toBe(429);
    expect(waits).toEqual([5000]);
  });

  it('retries network errors', async () => {
    const waits: number[] = [];
    const err = await postToSlack(
      'http://127.0.0.1:1/closed',
      {},
      {
        maxAttempts: 2,
        baseDelayMs: 10,
        sleep: async (ms) => void waits.push(ms),
      },
    ).catch((e: unknown) => e);
    expect((err as SlackDeliveryError).retryable).toBe(true);
    expect(waits).toEqual([10]);
  });
});

describe('retryAfterMs', () => {
  it('reads seconds and HTTP dates, ignores junk', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs('Wed, 25 Nov 2026 00:00:10 GMT', Date.parse('2026-11-25T00:00:00Z'))).toBe(
      10_000,
    );
    expect(retryAfterMs('soon')).toBeNull();
    expect(retryAfterMs(null)).toBeNull();
  });
});
