/**
 * The `http` sink: `POST <url>` with a JSON array of pod events, as regwatch's local mode
 * (`/v1/pod-events`) accepts them. 2xx accepts the batch; 4xx other than 408/429 means the
 * batch is bad and is dropped; 5xx, 408, 429 and network errors are retried, honouring
 * `Retry-After`. A 413 (a server or proxy with a smaller body limit than ours) splits the batch
 * in halves until the parts fit; only a single event refused with 413 is dropped.
 */
import type { IncomingMessage } from 'node:http';
import type { BufferedEvent } from '../buffer.ts';
import { HttpRequestError, readSome, request } from '../http-request.ts';
import { type Sink, type SinkOutcome, SinkUnavailableError } from './types.ts';

export interface HttpSinkOptions {
  url: string;
  token?: string | undefined;
  maxBatchEvents?: number;
  maxBatchBytes?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** For `Retry-After` dates. */
  now?: () => number;
}

interface Answer {
  status: number;
  text: string;
}

/** `Retry-After` as seconds or an HTTP date → milliseconds from now. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function createHttpSink(opts: HttpSinkOptions): Sink {
  const maxBatchEvents = opts.maxBatchEvents ?? 1000;
  const maxBatchBytes = opts.maxBatchBytes ?? 1024 * 1024;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const now = opts.now ?? Date.now;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'regwatch-forwarder',
  };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const url = new URL(opts.url);

  /** One POST: resolves with a final answer, or rejects with `SinkUnavailableError`. */
  async function post(events: readonly BufferedEvent[], signal: AbortSignal): Promise<Answer> {
    const body = `[${events.map((e) => e.json).join(',')}]`;
    const timeout = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
    let res: IncomingMessage;
    let text: string;
    try {
      res = await request(url, { method: 'POST', headers, body, signal: timeout });
      // Read the body so the connection can be reused; keep a little of it for the log.
      text = await readSome(res, 64 * 1024);
    } catch (err) {
      const why =
        err instanceof HttpRequestError
          ? timeout.aborted && !signal.aborted
            ? 'TimeoutError'
            : err.code
          : err instanceof Error
            ? err.name
            : 'error';
      throw new SinkUnavailableError(`http sink unreachable (${why})`, undefined, { cause: err });
    }
    const status = res.statusCode ?? 0;
    const retryable = status >= 500 || status === 408 || status === 429;
    if (retryable) {
      const after = res.headers['retry-after'];
      throw new SinkUnavailableError(
        `http sink answered ${status}`,
        parseRetryAfter(typeof after === 'string' ? after : null, now()),
      );
    }
    return { status, text };
  }

  return {
    kind: 'http',
    maxBatchEvents,
    maxBatchBytes,
    maxEventBytes: maxBatchBytes - 1,
    entrySize: (e) => e.bytes + 1,
    async send(batch: readonly BufferedEvent[], signal: AbortSignal): Promise<SinkOutcome> {
      const outcome: SinkOutcome = { retry: [], rejected: [] };
      // Halves of a 413'd range, first half first so events keep their order; at most
      // 2n − 1 requests for n events.
      const pending: Array<[number, number]> = [[0, batch.length]];
      for (let range = pending.pop(); range; range = pending.pop()) {
        const [from, to] = range;
        let answer: Answer;
        try {
          answer = await post(batch.slice(from, to), signal);
        } catch (err) {
          // Ranges run in order, so everything before `from` is decided and nothing after it.
          // Nothing decided yet: the whole call failed (backoff, no attempt counted).
          if (from === 0) throw err;
          for (let i = from; i < batch.length; i++) outcome.retry.push(i);
          outcome.detail = err instanceof Error ? err.message : String(err);
          return outcome;
        }
        if (answer.status >= 200 && answer.status < 300) continue;
        if (answer.status === 413 && to - from > 1) {
          const mid = from + Math.floor((to - from) / 2);
          pending.push([mid, to], [from, mid]);
          continue;
        }
        for (let i = from; i < to; i++) outcome.rejected.push(i);
        outcome.detail = `http sink answered ${answer.status}: ${answer.text.slice(0, 300)}`;
      }
      return outcome;
    },
  };
}
