/**
 * Pod informers (all namespaces, or one per listed namespace) turned into pod events:
 * `added` the first time a pod (by uid) is seen, `running` whenever its statuses carry an
 * `imageID` not sent before (containers starting, ephemeral containers added later, a
 * container restarted on a new image). The informer stops on errors it does not handle
 * itself (dropped connections, failed lists): each is started again with backoff.
 */
import { CoreV1Api, type KubeConfig, ListWatch, type V1Pod, Watch } from '@kubernetes/client-node';
import { Backoff } from './backoff.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

export type PodChange = 'added' | 'running';

export interface PodWatcherOptions {
  kubeConfig: KubeConfig;
  /** Empty: every namespace. */
  namespaces: readonly string[];
  onPod: (pod: V1Pod, change: PodChange) => void;
  logger: Logger;
  metrics: Metrics;
  restartBaseMs?: number;
  restartMaxMs?: number;
  /** List page size (`limit`); pages are joined into one consistent list. */
  pageSize?: number;
  /** The informer's own delay between watch reconnects (client-node's default when unset). */
  reconnectDelay?: (ms: number) => Promise<void>;
  now?: () => number;
}

interface Seen {
  uid: string;
  imageIDs: Set<string>;
}

interface Slot {
  namespace: string | null;
  informer: ListWatch<V1Pod>;
  ready: boolean;
  backoff: Backoff;
  restartTimer: NodeJS.Timeout | undefined;
  lastStartAt: number;
  errorsSinceStart: number;
}

/** `kind/name=imageID` for every status that carries an imageID. */
export function imageIdsOf(pod: V1Pod): string[] {
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

const keyOf = (pod: V1Pod) => `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;

export class PodWatcher {
  readonly #o: PodWatcherOptions;
  readonly #slots: Slot[];
  readonly #seen = new Map<string, Seen>();
  readonly #now: () => number;
  #stopped = false;

  constructor(opts: PodWatcherOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
    const api = opts.kubeConfig.makeApiClient(CoreV1Api);
    const watch = new Watch(opts.kubeConfig);
    const namespaces = opts.namespaces.length > 0 ? [...opts.namespaces] : [null];
    const pageSize = opts.pageSize ?? 500;
    this.#slots = namespaces.map((namespace) => {
      const path =
        namespace === null
          ? '/api/v1/pods'
          : `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
      const listFn = async () => {
        // All pages of one list share the first page's resourceVersion (a consistent snapshot).
        const first =
          namespace === null
            ? await api.listPodForAllNamespaces({ limit: pageSize })
            : await api.listNamespacedPod({ namespace, limit: pageSize });
        let cont = first.metadata?._continue;
        while (cont) {
          const page =
            namespace === null
              ? await api.listPodForAllNamespaces({ limit: pageSize, _continue: cont })
              : await api.listNamespacedPod({ namespace, limit: pageSize, _continue: cont });
          for (const item of page.items) first.items.push(item);
          cont = page.metadata?._continue;
        }
        return first;
      };
      const informer = new ListWatch<V1Pod>(
        path,
        watch,
        listFn,
        false,
        undefined,
        undefined,
        opts.reconnectDelay ? { delayFn: opts.reconnectDelay } : undefined,
      );
      const slot: Slot = {
        namespace,
        informer,
        ready: false,
        backoff: new Backoff({
          baseMs: opts.restartBaseMs ?? 1_000,
          maxMs: opts.restartMaxMs ?? 30_000,
        }),
        restartTimer: undefined,
        lastStartAt: 0,
        errorsSinceStart: 0,
      };
      informer.on('add', (pod) => this.#onPod(pod));
      informer.on('update', (pod) => this.#onPod(pod));
      informer.on('delete', (pod) => this.#onDelete(pod));
      informer.on('error', (err) => this.#onError(slot, err));
      return slot;
    });
  }

  /** Starts every informer; failures are retried in the background. */
  start(): void {
    for (const slot of this.#slots) void this.#startSlot(slot);
  }

  /** True when every informer has listed and is watching. */
  get ready(): boolean {
    return !this.#stopped && this.#slots.every((s) => s.ready);
  }

  /** Every pod in the informers' caches. */
  pods(): V1Pod[] {
    return this.#slots.flatMap((s) => [...s.informer.list()]);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const slot of this.#slots) {
      clearTimeout(slot.restartTimer);
      slot.ready = false;
      await slot.informer.stop();
    }
    this.#o.metrics.ready.set(0);
  }

  async #startSlot(slot: Slot): Promise<void> {
    if (this.#stopped) return;
    slot.errorsSinceStart = 0;
    slot.lastStartAt = this.#now();
    try {
      await slot.informer.start();
    } catch (err) {
      // Thrown only for a kubeconfig without a current cluster; errors on the wire come
      // through the error callback.
      this.#onError(slot, err);
      return;
    }
    if (slot.errorsSinceStart === 0 && !this.#stopped) {
      if (!slot.ready) {
        this.#o.logger.info('watching pods', { namespace: slot.namespace ?? '*' });
      }
      slot.ready = true;
      this.#o.metrics.ready.set(this.ready ? 1 : 0);
    }
  }

  #onError(slot: Slot, err: unknown): void {
    slot.errorsSinceStart++;
    slot.ready = false;
    this.#o.metrics.ready.set(0);
    if (this.#stopped || slot.restartTimer !== undefined) return;
    // A watch that ran for a while before failing starts over from short delays.
    if (this.#now() - slot.lastStartAt > 60_000) slot.backoff.reset();
    const delay = Math.max(slot.backoff.next(), 100);
    this.#o.metrics.watchRestarts.inc();
    this.#o.logger.warn('pod informer stopped; restarting', {
      namespace: slot.namespace ?? '*',
      err,
      retryInMs: delay,
    });
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      void this.#startSlot(slot);
    }, delay);
  }

  #onPod(pod: V1Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid) return;
    const key = keyOf(pod);
    const ids = imageIdsOf(pod);
    const seen = this.#seen.get(key);
    if (!seen || seen.uid !== uid) {
      this.#seen.set(key, { uid, imageIDs: new Set(ids) });
      this.#o.onPod(pod, 'added');
      return;
    }
    let fresh = false;
    for (const id of ids) {
      if (!seen.imageIDs.has(id)) {
        seen.imageIDs.add(id);
        fresh = true;
      }
    }
    if (fresh) this.#o.onPod(pod, 'running');
  }

  #onDelete(pod: V1Pod): void {
    const key = keyOf(pod);
    if (this.#seen.get(key)?.uid === pod.metadata?.uid) this.#seen.delete(key);
  }
}
