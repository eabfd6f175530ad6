/**
 * Pod list/watch (all namespaces, or one loop per listed namespace) turned into pod changes:
 * `added` the first time a pod (by uid) is seen, `running` whenever its statuses carry an
 * `imageID` not sent before (containers starting, ephemeral containers added later, a
 * container restarted on a new image), `deleted` when it is gone (a watch DELETED, or missing
 * from a relist).
 *
 * Its own list/watch rather than client-node's informer: the cache holds the trimmed pod only
 * (what evaluation needs), never whole `V1Pod`s, so 10,000 pods fit in the forwarder's memory
 * limit; and every input is bounded and checked (list pages by bytes, watch lines by length,
 * `object: null` or malformed objects skipped and counted, not thrown).
 */
import { type TrimmedPod, trimPod } from '../../lambdas/core/kube/pod-event.ts';
import { Backoff, sleep } from './backoff.ts';
import type { KubeAccess } from './kube-access.ts';
import {
  ITEM_TOO_LARGE,
  KubeApiError,
  KubeResponseTooLargeError,
  listPage,
  type Query,
  watchLines,
} from './kube-client.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

export type PodChange = 'added' | 'running' | 'deleted';

export interface PodWatcherOptions {
  kube: KubeAccess;
  /** Empty: every namespace. */
  namespaces: readonly string[];
  onPod: (pod: TrimmedPod, change: PodChange) => void;
  logger: Logger;
  metrics: Metrics;
  restartBaseMs?: number;
  restartMaxMs?: number;
  /** List page size (`limit`); pages are joined into one consistent list. */
  pageSize?: number;
  /**
   * A watch line longer than this ends the watch, which reconnects; a list item longer than
   * this is skipped and counted (the same object either way).
   */
  maxLineBytes?: number;
  /** The server-side watch timeout; the client gives up 30 s after it without a byte. */
  watchTimeoutSeconds?: number;
  /** Delay between a watch the server closed cleanly and the next one. */
  reconnectDelay?: (ms: number) => Promise<void>;
  now?: () => number;
}

/**
 * A cached pod kept as its UTF-8 JSON outside the V8 heap: flat bytes cost a fraction of the
 * object graph they parse into, most cached pods are only read again at a resync, and bytes
 * off the heap let the heap limit (what bounds RSS in a burst) stay small as the cache grows.
 */
interface Cached {
  data: Buffer;
  uid: string;
  /** `kind/name=imageID` already sent (an `added` or `running` carried them). */
  sent: string[];
}

/** Its own allocation, not a slice of Node's shared pool (one live slice pins a whole slab). */
function bytesOf(json: string): Buffer {
  const data = Buffer.allocUnsafeSlow(Buffer.byteLength(json));
  data.write(json, 'utf8');
  return data;
}

const podOf = (c: Cached): TrimmedPod => JSON.parse(c.data.toString('utf8')) as TrimmedPod;

interface Slot {
  namespace: string | null;
  path: string;
  /** namespace/name → cached pod. */
  cache: Map<string, Cached>;
  resourceVersion: string | null;
  ready: boolean;
  backoff: Backoff;
  loop: Promise<void> | null;
}

/** Valid `kind/name=imageID` for every status of the trimmed pod that carries an imageID. */
export function imageIdsOf(pod: TrimmedPod): string[] {
  const out: string[] = [];
  const st = pod.status;
  const add = (kind: string, list: { name: string; imageID?: string }[] | undefined) => {
    for (const s of list ?? []) if (s.imageID) out.push(`${kind}/${s.name}=${s.imageID}`);
  };
  add('c', st?.containerStatuses);
  add('i', st?.initContainerStatuses);
  add('e', st?.ephemeralContainerStatuses);
  return out;
}

type Loose = Record<string, unknown>;
const isObj = (v: unknown): v is Loose => v !== null && typeof v === 'object' && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v !== '';

/** The pod's identity when `object` is pod-shaped enough to cache, else null. */
function identityOf(object: unknown): { key: string; uid: string; rv: string | null } | null {
  if (!isObj(object) || !isObj(object.metadata)) return null;
  const md = object.metadata;
  if (!nonEmpty(md.name) || !nonEmpty(md.namespace) || !nonEmpty(md.uid)) return null;
  if (object.spec !== undefined && !isObj(object.spec)) return null;
  return {
    key: `${md.namespace}/${md.name}`,
    uid: md.uid,
    rv: nonEmpty(md.resourceVersion) ? md.resourceVersion : null,
  };
}

/** Why a watch loop ended and what comes next. */
class RelistNeeded extends Error {}

export class PodWatcher {
  readonly #o: PodWatcherOptions;
  readonly #slots: Slot[];
  readonly #now: () => number;
  readonly #stop = new AbortController();
  readonly #pageSize: number;
  readonly #maxLineBytes: number;
  readonly #watchTimeout: number;
  #lastSkipLog = Number.NEGATIVE_INFINITY;
  #skipsUnlogged = 0;

  constructor(opts: PodWatcherOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
    this.#pageSize = opts.pageSize ?? 500;
    // etcd refuses objects over 1.5 MiB: a longer line is not a pod from a sane API server.
    this.#maxLineBytes = opts.maxLineBytes ?? 4 * 1024 ** 2;
    this.#watchTimeout = opts.watchTimeoutSeconds ?? 300;
    const namespaces = opts.namespaces.length > 0 ? [...opts.namespaces] : [null];
    this.#slots = namespaces.map((namespace) => ({
      namespace,
      path:
        namespace === null
          ? '/api/v1/pods'
          : `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
      cache: new Map(),
      resourceVersion: null,
      ready: false,
      backoff: new Backoff({
        baseMs: opts.restartBaseMs ?? 1_000,
        maxMs: opts.restartMaxMs ?? 30_000,
      }),
      loop: null,
    }));
  }

  /** Starts every list/watch loop; failures are retried in the background. */
  start(): void {
    for (const slot of this.#slots) slot.loop ??= this.#run(slot);
  }

  /** True when every loop has listed and is watching. */
  get ready(): boolean {
    return !this.#stop.signal.aborted && this.#slots.every((s) => s.ready);
  }

  /** How many pods are cached. */
  get size(): number {
    let n = 0;
    for (const s of this.#slots) n += s.cache.size;
    return n;
  }

  /** Every cached pod (trimmed), parsed one at a time as the caller iterates. */
  *pods(): Generator<TrimmedPod> {
    for (const s of this.#slots) for (const c of s.cache.values()) yield podOf(c);
  }

  /** Stops at once: open requests are aborted, so an idle watch does not hold shutdown. */
  async stop(): Promise<void> {
    this.#stop.abort();
    for (const slot of this.#slots) slot.ready = false;
    this.#o.metrics.ready.set(0);
    await Promise.all(this.#slots.map((s) => s.loop));
  }

  async #run(slot: Slot): Promise<void> {
    const signal = this.#stop.signal;
    let relist = true;
    while (!signal.aborted) {
      const startedAt = this.#now();
      try {
        if (relist) {
          await this.#list(slot, signal);
          relist = false;
        }
        await this.#watch(slot, signal);
        // The server closed the watch (its timeout): reconnect from the last resourceVersion.
        await (this.#o.reconnectDelay ?? ((ms) => sleep(ms, signal)))(50);
      } catch (err) {
        if (signal.aborted) break;
        slot.ready = false;
        this.#o.metrics.ready.set(0);
        if (err instanceof RelistNeeded || (err instanceof KubeApiError && err.expired)) {
          // Expired resourceVersion: relist at once (the informer's behaviour), no backoff.
          relist = true;
          slot.resourceVersion = null;
          this.#o.logger.info('resourceVersion expired; listing pods again', {
            namespace: slot.namespace ?? '*',
          });
          continue;
        }
        // A watch that ran for a while before failing starts over from short delays.
        if (this.#now() - startedAt > 60_000) slot.backoff.reset();
        const delay = Math.max(slot.backoff.next(), 100);
        if (err instanceof KubeResponseTooLargeError) {
          this.#o.metrics.watchSkipped.inc({ cause: 'line_too_long' });
        }
        this.#o.metrics.watchRestarts.inc();
        this.#o.logger.warn('pod list/watch stopped; restarting', {
          namespace: slot.namespace ?? '*',
          err,
          retryInMs: delay,
        });
        // A watch error keeps the cache and resumes from the resourceVersion; a list error
        // lists again.
        if (slot.resourceVersion === null) relist = true;
        await sleep(delay, signal);
      }
    }
  }

  /**
   * Lists every page (one consistent snapshot), caching each pod as it streams in, then says
   * which cached pods the list no longer has. Only keys are kept for the whole list: no page,
   * and no set of listed pods, is ever held as objects.
   */
  async #list(slot: Slot, signal: AbortSignal): Promise<void> {
    const listed = new Set<string>();
    let cont: string | undefined;
    let rv: string | null = null;
    const onItem = (item: unknown) => {
      if (item === ITEM_TOO_LARGE) {
        this.#skipped('item_too_large', undefined);
        return;
      }
      const id = identityOf(item);
      if (!id) {
        this.#skipped('malformed', item);
        return;
      }
      listed.add(id.key);
      this.#upsert(slot, id.key, trimPod(item));
    };
    do {
      const query: Query = { limit: this.#pageSize, continue: cont };
      const page = await listPage(this.#o.kube, slot.path, query, signal, {
        maxItemBytes: this.#maxLineBytes,
        onItem,
      });
      rv ??= page.resourceVersion;
      cont = page.continue ?? undefined;
    } while (cont);
    if (rv === null) throw new KubeApiError(0, `list of ${slot.path} has no resourceVersion`);
    // Pods gone while we were not watching are deleted.
    for (const [key, cached] of slot.cache) {
      if (listed.has(key)) continue;
      slot.cache.delete(key);
      this.#o.onPod(podOf(cached), 'deleted');
    }
    slot.resourceVersion = rv;
    slot.backoff.reset();
  }

  async #watch(slot: Slot, signal: AbortSignal): Promise<void> {
    const timeoutSeconds = this.#watchTimeout;
    const lines = watchLines(
      this.#o.kube,
      slot.path,
      {
        resourceVersion: slot.resourceVersion ?? undefined,
        allowWatchBookmarks: true,
        timeoutSeconds,
      },
      signal,
      {
        maxLineBytes: this.#maxLineBytes,
        idleMs: (timeoutSeconds + 30) * 1000,
        onConnected: () => {
          if (!slot.ready) {
            this.#o.logger.info('watching pods', { namespace: slot.namespace ?? '*' });
          }
          slot.ready = true;
          this.#o.metrics.ready.set(this.ready ? 1 : 0);
        },
      },
    );
    for await (const line of lines) {
      let event: unknown;
      try {
        event = JSON.parse(line);
      } catch {
        this.#skipped('malformed', undefined);
        continue;
      }
      this.#onEvent(slot, event);
    }
  }

  #onEvent(slot: Slot, event: unknown): void {
    if (!isObj(event) || typeof event.type !== 'string') {
      this.#skipped('malformed', undefined);
      return;
    }
    const object = event.object;
    switch (event.type) {
      case 'BOOKMARK': {
        const md = isObj(object) && isObj(object.metadata) ? object.metadata : {};
        if (nonEmpty(md.resourceVersion)) slot.resourceVersion = md.resourceVersion;
        return;
      }
      case 'ERROR': {
        const code = isObj(object) && typeof object.code === 'number' ? object.code : 0;
        if (code === 410) throw new RelistNeeded('resourceVersion expired');
        const message = isObj(object) && typeof object.message === 'string' ? object.message : '';
        throw new KubeApiError(code, `watch ERROR ${code}: ${message.slice(0, 200)}`);
      }
      case 'ADDED':
      case 'MODIFIED':
      case 'DELETED': {
        const id = identityOf(object);
        if (!id) {
          this.#skipped(
            object === null || object === undefined ? 'null_object' : 'malformed',
            object,
          );
          return;
        }
        if (id.rv) slot.resourceVersion = id.rv;
        if (event.type === 'DELETED') {
          const cached = slot.cache.get(id.key);
          slot.cache.delete(id.key);
          // The cached pod is what was sent; the deleted object may be the newer one.
          const pod = cached && cached.uid === id.uid ? podOf(cached) : trimPod(object);
          this.#o.onPod(pod, 'deleted');
          return;
        }
        this.#upsert(slot, id.key, trimPod(object));
        return;
      }
      default:
        this.#skipped('unknown_type', undefined);
    }
  }

  #upsert(slot: Slot, key: string, pod: TrimmedPod): void {
    const ids = imageIdsOf(pod);
    const cached = slot.cache.get(key);
    const data = bytesOf(JSON.stringify(pod));
    if (!cached || cached.uid !== pod.metadata.uid) {
      // A pod replaced under the same name (StatefulSet) is a new pod; the old one is gone.
      if (cached) this.#o.onPod(podOf(cached), 'deleted');
      slot.cache.set(key, { data, uid: pod.metadata.uid, sent: [...new Set(ids)] });
      this.#o.onPod(pod, 'added');
      return;
    }
    cached.data = data;
    let fresh = false;
    const have = new Set(cached.sent);
    for (const id of ids) {
      if (!have.has(id)) {
        have.add(id);
        cached.sent.push(id);
        fresh = true;
      }
    }
    if (fresh) this.#o.onPod(pod, 'running');
  }

  #skipped(
    cause: 'malformed' | 'null_object' | 'unknown_type' | 'item_too_large',
    object: unknown,
  ): void {
    this.#o.metrics.watchSkipped.inc({ cause });
    // At most one line a second: a hostile stream can send thousands of these.
    const now = this.#now();
    if (now - this.#lastSkipLog < 1_000) {
      this.#skipsUnlogged++;
      return;
    }
    this.#lastSkipLog = now;
    const md = isObj(object) && isObj(object.metadata) ? object.metadata : {};
    const part = (v: unknown) => (typeof v === 'string' ? v.slice(0, 253) : '?');
    this.#o.logger.warn('skipped a watch event or list item that is not a pod', {
      cause,
      pod: `${part(md.namespace)}/${part(md.name)}`,
      alsoSkippedSinceLastLine: this.#skipsUnlogged,
    });
    this.#skipsUnlogged = 0;
  }
}
