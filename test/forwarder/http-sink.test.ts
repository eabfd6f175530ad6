/**
 * The http sink against a loopback server whose body limit is smaller than the forwarder's
 * batches (a proxy's 1 MiB default, `regwatch local --max-body-bytes`): a 413 splits the batch
 * instead of dropping it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BufferedEvent } from '../../forwarder/src/buffer.ts';
import { createHttpSink } from '../../forwarder/src/sinks/http.ts';
import { SinkUnavailableError } from '../../forwarder/src/sinks/types.ts';

interface Limits {
  maxBody: number;
  /** Answer 503 to the request with this number (1-based), if set. */
  failRequest?: number;
}

let server: Server;
let url: string;
let limits: Limits;
let requests = 0;
let stored: number[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests++;
      const body = Buffer.concat(chunks);
      if (requests === limits.failRequest) {
        res.writeHead(503).end('busy');
      } else if (body.length > limits.maxBody) {
        res.writeHead(413).end('body too large');
      } else {
        for (const e of JSON.parse(body.toString('utf8')) as Array<{ n: number }>) stored.push(e.n);
        res.writeHead(200).end('{}');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/pod-events`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  requests = 0;
  stored = [];
});

/** Events of `size` bytes of JSON each, numbered from 0. */
function events(count: number, size: number): BufferedEvent[] {
  return Array.from({ length: count }, (_, n) => {
    const head = `{"n":${n},"pad":"`;
    const json = `${head}${'x'.repeat(size - head.length - 2)}"}`;
    return { json, bytes: json.length } as unknown as BufferedEvent;
  });
}

const signal = new AbortController().signal;

describe('http sink and 413', () => {
  it('splits a batch the server refuses as too large until every part fits, in order', async () => {
    // Prepare: 100 events of 1,000 bytes (≈ 100 KB) against a 30,000-byte limit.
    limits = { maxBody: 30_000 };
    const sink = createHttpSink({ url });

    // Act
    const outcome = await sink.send(events(100, 1000), signal);

    // Assess: all stored once, in order, and no more than 2n − 1 requests.
    expect(outcome).toEqual({ retry: [], rejected: [] });
    expect(stored).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(requests).toBeGreaterThan(4);
    expect(requests).toBeLessThanOrEqual(199);
  });

  it('drops only the single event that alone is over the limit', async () => {
    // Prepare: event 2 is too large by itself.
    limits = { maxBody: 5_000 };
    const batch = [...events(5, 500)];
    const big = events(1, 8_000)[0] as BufferedEvent;
    batch[2] = { json: big.json.replace('"n":0', '"n":2'), bytes: big.bytes } as BufferedEvent;
    const sink = createHttpSink({ url });

    // Act
    const outcome = await sink.send(batch, signal);

    // Assess
    expect(outcome.rejected).toEqual([2]);
    expect(outcome.retry).toEqual([]);
    expect(outcome.detail).toContain('413');
    expect(stored).toEqual([0, 1, 3, 4]);
  });

  it('sends only the undecided rest again when the server fails after part was stored', async () => {
    // Prepare: the first request is 413, the two halves follow; the second half gets a 503.
    limits = { maxBody: 6_000, failRequest: 3 };
    const sink = createHttpSink({ url });

    // Act
    const outcome = await sink.send(events(10, 1000), signal);

    // Assess: the first half is stored, the second is to be retried, nothing dropped.
    expect(stored).toEqual([0, 1, 2, 3, 4]);
    expect(outcome.retry).toEqual([5, 6, 7, 8, 9]);
    expect(outcome.rejected).toEqual([]);
    expect(outcome.detail).toContain('503');
  });

  it('still fails the whole call when the server is unavailable before anything is stored', async () => {
    // Prepare
    limits = { maxBody: 1_000_000, failRequest: 1 };
    const sink = createHttpSink({ url });

    // Act / Assess
    await expect(sink.send(events(3, 100), signal)).rejects.toBeInstanceOf(SinkUnavailableError);
    expect(stored).toEqual([]);
  });
});
