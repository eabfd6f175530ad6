/**
 * The `http` sink: `POST <url>` with a JSON array of pod events, as regwatch's local mode
 * (`/v1/pod-events`) accepts them. 2xx accepts the batch; 4xx other than 408/429 means the
 * batch is bad and is dropped; 5xx, 408, 429 and network errors are retried, honouring
 * `Retry-After`.
 */
import type { BufferedEvent } from '../buffer.ts';
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
  return {
    kind: 'http',
    maxBatchEvents,
    maxBatchBytes,
    maxEventBytes: maxBatchBytes - 1,
    entrySize: (e) => e.bytes + 1,
    async send(batch: readonly BufferedEvent[], signal: AbortSignal): Promise<SinkOutcome> {
      const body = `[${batch.map((e) => e.json).join(',')}]`;
      let res: Response;
      try {
        res = await fetch(opts.url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
        });
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause;
        const why = cause?.code ?? (err instanceof Error ? err.name : 'error');
        throw new SinkUnavailableError(`http sink unreachable (${why})`, undefined, { cause: err });
      }
      // Read the body so the connection can be reused; keep a little of it for the log.
      const text = (await res.text().catch(() => '')).slice(0, 300);
      if (res.ok) return { retry: [], rejected: [] };
      const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
      if (retryable) {
        throw new SinkUnavailableError(
          `http sink answered ${res.status}`,
          parseRetryAfter(res.headers.get('retry-after'), now()),
        );
      }
      return {
        retry: [],
        rejected: batch.map((_, i) => i),
        detail: `http sink answered ${res.status}: ${text}`,
      };
    },
  };
}
