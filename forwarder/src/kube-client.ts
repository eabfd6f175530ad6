/**
 * The two API calls the forwarder makes, list and watch of pods, with bounds client-node's
 * `ListWatch` does not have: a list page is read up to a byte cap, a watch line up to a length
 * cap, and neither is turned into `V1Pod` objects (the caller trims each pod as it arrives, so
 * only what evaluation needs is ever kept). Authentication and TLS come from `KubeAccess`.
 */
import { fetch } from 'undici';
import type { KubeAccess } from './kube-access.ts';

/** The API server answered with an error status (HTTP, or an `ERROR` watch event). */
export class KubeApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KubeApiError';
    this.status = status;
  }
  /** 410 Gone: the resourceVersion (or continue token) expired; list again. */
  get expired(): boolean {
    return this.status === 410;
  }
}

/** A response or watch line larger than the bound: the input is refused, not buffered. */
export class KubeResponseTooLargeError extends Error {
  readonly limit: number;
  constructor(what: string, limit: number) {
    super(`${what} exceeds ${limit} bytes`);
    this.name = 'KubeResponseTooLargeError';
    this.limit = limit;
  }
}

export type Query = Record<string, string | number | boolean | undefined>;

async function get(kc: KubeAccess, path: string, query: Query, signal: AbortSignal) {
  const url = new URL(kc.server + path);
  for (const [k, v] of Object.entries(query))
    if (v !== undefined) url.searchParams.set(k, String(v));
  const { headers, dispatcher } = await kc.prepare(url.toString());
  const res = await fetch(url, {
    method: 'GET',
    headers: { ...headers, accept: 'application/json' },
    ...(dispatcher ? { dispatcher } : {}),
    signal,
  });
  if (res.status !== 200) {
    // A Status body names the reason; read a little of it, never all.
    const text = await readCapped(res.body, 4096, true).catch(() => '');
    let message = `${res.status}`;
    try {
      const status = JSON.parse(text) as { message?: unknown; reason?: unknown };
      if (typeof status.reason === 'string') message += ` ${status.reason}`;
      if (typeof status.message === 'string') message += `: ${status.message.slice(0, 200)}`;
    } catch {
      // Not a Status: the status code says enough.
    }
    throw new KubeApiError(res.status, `GET ${url.pathname} answered ${message}`);
  }
  return res;
}

async function readCapped(
  body: AsyncIterable<Uint8Array> | null,
  max: number,
  truncate = false,
): Promise<string> {
  if (!body) return '';
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.byteLength;
    if (total > max) {
      if (truncate) {
        chunks.push(Buffer.from(chunk).subarray(0, chunk.byteLength - (total - max)));
        break;
      }
      throw new KubeResponseTooLargeError('list page', max);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** One list page as parsed JSON; larger than `maxBytes` → `KubeResponseTooLargeError`. */
export async function listPage(
  kc: KubeAccess,
  path: string,
  query: Query,
  signal: AbortSignal,
  maxBytes: number,
): Promise<unknown> {
  const res = await get(kc, path, query, signal);
  return JSON.parse(await readCapped(res.body, maxBytes));
}

/**
 * A watch stream as lines (without the newline). A line longer than `maxLineBytes` ends the
 * stream with `KubeResponseTooLargeError`: the caller reconnects instead of buffering it.
 * `idleMs` without a byte aborts the stream (a half-open connection would otherwise hang).
 */
export async function* watchLines(
  kc: KubeAccess,
  path: string,
  query: Query,
  signal: AbortSignal,
  opts: { maxLineBytes: number; idleMs: number; onConnected?: () => void },
): AsyncGenerator<string> {
  const local = new AbortController();
  const both = AbortSignal.any([signal, local.signal]);
  let idle: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(idle);
    idle = setTimeout(() => local.abort(new Error('watch idle')), opts.idleMs);
    idle.unref();
  };
  try {
    arm();
    const res = await get(kc, path, { ...query, watch: true }, both);
    opts.onConnected?.();
    if (!res.body) return;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for await (const raw of res.body) {
      arm();
      let chunk = Buffer.from(raw);
      let nl = chunk.indexOf(0x0a);
      while (nl !== -1) {
        const head = chunk.subarray(0, nl);
        if (pendingBytes + head.byteLength > opts.maxLineBytes) {
          throw new KubeResponseTooLargeError('watch line', opts.maxLineBytes);
        }
        pending.push(head);
        const line = Buffer.concat(pending).toString('utf8');
        pending = [];
        pendingBytes = 0;
        if (line.trim() !== '') yield line;
        chunk = chunk.subarray(nl + 1);
        nl = chunk.indexOf(0x0a);
      }
      pendingBytes += chunk.byteLength;
      if (pendingBytes > opts.maxLineBytes) {
        throw new KubeResponseTooLargeError('watch line', opts.maxLineBytes);
      }
      if (chunk.byteLength > 0) pending.push(chunk);
    }
  } catch (err) {
    // An idle abort is a normal end: the caller reconnects from its resourceVersion.
    if (local.signal.aborted && !signal.aborted) return;
    throw err;
  } finally {
    clearTimeout(idle);
    local.abort();
  }
}
