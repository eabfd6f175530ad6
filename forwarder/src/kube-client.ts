/**
 * The two API calls the forwarder makes, list and watch of pods, with bounds client-node's
 * `ListWatch` does not have: a list page is streamed item by item (one item at most held,
 * up to a byte cap), a watch line is read up to a length cap, and neither is turned into
 * `V1Pod` objects (the caller trims each pod as it arrives, so only what evaluation needs is
 * ever kept). Authentication and TLS come from `KubeAccess`; requests go through Node's own
 * http/https clients (`http-request.ts`).
 */
import type { IncomingMessage } from 'node:http';
import { readSome, request } from './http-request.ts';
import type { KubeAccess } from './kube-access.ts';
import { KubeApiError, KubeResponseTooLargeError } from './kube-errors.ts';
import { ListSplitter } from './list-stream.ts';

export { KubeApiError, KubeResponseTooLargeError } from './kube-errors.ts';
export { ITEM_TOO_LARGE } from './list-stream.ts';

export type Query = Record<string, string | number | boolean | undefined>;

async function get(
  kc: KubeAccess,
  path: string,
  query: Query,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  const url = new URL(kc.server + path);
  for (const [k, v] of Object.entries(query))
    if (v !== undefined) url.searchParams.set(k, String(v));
  const { headers, agent } = await kc.prepare(url.toString());
  const res = await request(url, {
    method: 'GET',
    headers: { ...headers, accept: 'application/json' },
    ...(agent ? { agent } : {}),
    signal,
  });
  if (res.statusCode !== 200) {
    // A Status body names the reason; read a little of it, never all.
    const text = await readSome(res, 4096).catch(() => '');
    res.destroy();
    let message = `${res.statusCode}`;
    try {
      const status = JSON.parse(text) as { message?: unknown; reason?: unknown };
      if (typeof status.reason === 'string') message += ` ${status.reason}`;
      if (typeof status.message === 'string') message += `: ${status.message.slice(0, 200)}`;
    } catch {
      // Not a Status: the status code says enough.
    }
    throw new KubeApiError(res.statusCode ?? 0, `GET ${url.pathname} answered ${message}`);
  }
  return res;
}

/** What a list page says about itself; its items went to `onItem`. */
export interface ListPageMeta {
  resourceVersion: string | null;
  continue: string | null;
}

/**
 * One list page, streamed: each item is parsed alone and handed to `onItem` as it arrives
 * (an item over `maxItemBytes` as `ITEM_TOO_LARGE`, its bytes never kept), so memory is
 * bounded by one item however large the page. A response that is not a list fails.
 */
export async function listPage(
  kc: KubeAccess,
  path: string,
  query: Query,
  signal: AbortSignal,
  opts: { maxItemBytes: number; onItem: (item: unknown) => void },
): Promise<ListPageMeta> {
  const res = await get(kc, path, query, signal);
  const splitter = new ListSplitter({ maxItemBytes: opts.maxItemBytes, maxFieldBytes: 64 * 1024 });
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      for (const item of splitter.push(chunk)) opts.onItem(item);
    }
    splitter.end();
  } finally {
    res.destroy();
  }
  if (!splitter.sawItems) {
    throw new KubeApiError(0, `list of ${path} is not a list (no items array)`);
  }
  const md = splitter.fields.get('metadata');
  const field = (k: string): string | null => {
    if (md === null || typeof md !== 'object') return null;
    const v = Object.hasOwn(md, k) ? (md as Record<string, unknown>)[k] : undefined;
    return typeof v === 'string' && v !== '' ? v : null;
  };
  return { resourceVersion: field('resourceVersion'), continue: field('continue') };
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
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for await (const raw of res as AsyncIterable<Buffer>) {
      arm();
      let chunk = raw;
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
