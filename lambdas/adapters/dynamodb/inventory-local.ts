/**
 * Local mode's Inventory adapter: the same table, items and plans as `InventoryStore`, for a
 * process that is the table's only writer (`regwatch local` owns its embedded DynamoDB: with
 * `--data` dynalite holds the folder's LevelDB lock, without it the store lives in this process).
 *
 * A single writer needs no conditional writes: an in-memory index of the whole inventory,
 * loaded once with a paginated Scan, answers "what does this workload have" without a Query,
 * and the writes are queued and sent with `BatchWriteItem` (25 a call, unprocessed items
 * retried) when `flush()` is called. Ingest flushes before it answers a request, so a 2xx is
 * only sent once its entries are durable; a plan that removes entries flushes before its
 * findings are resolved, as the conditional path writes before it resolves.
 *
 * Bounded: past `maxEntries` or `maxBytes` (at the load or later) the index is dropped, what is
 * queued is flushed, and every call goes to the conditional path from then on (told once).
 * Reads that span workloads (index queries, scans) flush first, then read the table.
 */
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConflictError } from '../../core/errors.ts';
import {
  entryKey,
  type InventoryEntry,
  type InventoryEvent,
  type JudgedViolation,
  planInventory,
  workloadKey,
} from '../../core/inventory.ts';
import type { WorkloadRef } from '../../core/types.ts';
import { type InvalidItemHandler, retryPause } from './common.ts';
import {
  type AppliedPlan,
  firstRevision,
  type InventoryFilter,
  type InventoryPage,
  InventoryStore,
  MAX_WRITE_ATTEMPTS,
  materiallyChanged,
  nextRevision,
  type StoredEntry,
  toItem,
} from './inventory.ts';

export const DEFAULT_MAX_INDEXED_ENTRIES = 200_000;
/** Of serialised items; the heap takes a small multiple of it. */
export const DEFAULT_MAX_INDEXED_BYTES = 128 * 1024 * 1024;
const BATCH_WRITE_LIMIT = 25;

export interface LocalInventoryOptions {
  onInvalid?: InvalidItemHandler | undefined;
  maxEntries?: number | undefined;
  maxBytes?: number | undefined;
  /** Told once when the index gives way to the conditional path, and why. */
  onFallback?: ((reason: string) => void) | undefined;
}

type Key = { workloadKey: string; entryKey: string };
type Pending = { PutRequest: { Item: Record<string, unknown> } } | { DeleteRequest: { Key: Key } };

interface Indexed {
  stored: StoredEntry;
  bytes: number;
}

export class LocalInventoryStore extends InventoryStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #onFallback: ((reason: string) => void) | undefined;
  /** By workload key, then entry key; null once the conditional path has taken over. */
  #index: Map<string, Map<string, Indexed>> | null = new Map();
  #entries = 0;
  #bytes = 0;
  /** Writes not yet sent, by item key: the latest change of an item replaces an earlier one. */
  readonly #pending = new Map<string, Pending>();
  /** Flushes run one after another, so two writes of one item never race. */
  #chain: Promise<void> = Promise.resolve();

  /** Use `load`: the index must start from the table. */
  private constructor(
    doc: DynamoDBDocumentClient,
    tableName: string,
    options: LocalInventoryOptions,
  ) {
    super(doc, tableName, { onInvalid: options.onInvalid });
    this.#doc = doc;
    this.#table = tableName;
    this.#maxEntries = options.maxEntries ?? DEFAULT_MAX_INDEXED_ENTRIES;
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_INDEXED_BYTES;
    this.#onFallback = options.onFallback;
  }

  /** Reads the whole table into the index (or falls back once it is over the bound). */
  static async load(
    doc: DynamoDBDocumentClient,
    tableName: string,
    options: LocalInventoryOptions = {},
  ): Promise<LocalInventoryStore> {
    const store = new LocalInventoryStore(doc, tableName, options);
    await store.#load();
    return store;
  }

  async #load(): Promise<void> {
    let next: Record<string, unknown> | undefined;
    do {
      const page = await super.scanPage(next, { limit: 1000 });
      for (const s of page.items) this.#place(s, toItem(s.entry, s.rev));
      if (this.#overBound()) {
        await this.#fallBack('at start');
        return;
      }
      next = page.next;
    } while (next);
  }

  /** Whether the index answers (false once over the bound). */
  get indexed(): boolean {
    return this.#index !== null;
  }

  /** Entries in the index (0 once it gave way). */
  get indexedEntries(): number {
    return this.#entries;
  }

  /** Writes queued and not yet flushed. */
  get pendingWrites(): number {
    return this.#pending.size;
  }

  /**
   * Sends every queued write; resolves once they (and any flush before) are durable. On a
   * failure what was not written stays queued for the next flush, and the error is thrown.
   */
  flush(): Promise<void> {
    const run = this.#chain.then(() => this.#writePending());
    this.#chain = run.catch(() => {});
    return run;
  }

  override async applyToWorkload(
    cluster: string,
    namespace: string,
    workload: WorkloadRef,
    event: InventoryEvent,
  ): Promise<AppliedPlan> {
    const index = this.#index;
    if (!index) {
      await this.flush();
      return super.applyToWorkload(cluster, namespace, workload, event);
    }
    // From here to the writes' queueing nothing awaits: the plan and the index change at once.
    const partition = index.get(workloadKey(cluster, namespace, workload));
    const stored = partition ? [...partition.values()].map((i) => i.stored) : [];
    const plan = planInventory(
      stored.map((s) => s.entry),
      event,
    );
    const before = new Map(stored.map((s) => [entryKey(s.entry), s.entry]));
    for (const entry of plan.upserts) {
      const prev = partition?.get(entryKey(entry))?.stored;
      if (prev && !materiallyChanged(prev.entry, entry)) continue;
      this.#write({ entry, rev: nextRevision(prev?.rev, entry) });
    }
    let removed = false;
    for (const { entry } of plan.removals) {
      if (partition?.has(entryKey(entry))) {
        this.#remove(entry);
        removed = true;
      }
    }
    // The caller resolves findings of what was removed: the removal is durable first.
    if (removed) await this.flush();
    if (this.#overBound()) await this.#fallBack('while running');
    return { ...plan, before };
  }

  override async setViolations(
    entry: InventoryEntry,
    rev: number,
    violations: readonly JudgedViolation[],
    registry?: string | null,
  ): Promise<boolean> {
    const index = this.#index;
    if (!index) {
      await this.flush();
      return super.setViolations(entry, rev, violations, registry);
    }
    const current = index.get(workloadKey(entry.cluster, entry.namespace, entry.workload));
    const now = current?.get(entryKey(entry))?.stored;
    if (!now || now.rev !== rev) return false;
    const next = { ...now.entry, violations: [...violations] };
    if (registry !== undefined) next.registry = registry;
    this.#write({ entry: next, rev: rev + 1 });
    await this.flush();
    return true;
  }

  override async workloadEntries(
    cluster: string,
    namespace: string,
    workload: WorkloadRef,
  ): Promise<StoredEntry[]> {
    const index = this.#index;
    if (!index) return super.workloadEntries(cluster, namespace, workload);
    const partition = index.get(workloadKey(cluster, namespace, workload));
    return partition ? [...partition.values()].map((i) => i.stored) : [];
  }

  override async get(
    cluster: string,
    namespace: string,
    workload: WorkloadRef,
    key: Pick<InventoryEntry, 'container' | 'reference' | 'image'>,
  ): Promise<StoredEntry | undefined> {
    const index = this.#index;
    if (!index) return super.get(cluster, namespace, workload, key);
    return index.get(workloadKey(cluster, namespace, workload))?.get(entryKey(key))?.stored;
  }

  override async importEntries(entries: readonly InventoryEntry[]): Promise<void> {
    await this.flush(); // a queued write must not land over the import
    await super.importEntries(entries);
    if (!this.#index) return;
    for (const entry of entries) {
      const rev = firstRevision(entry);
      this.#place({ entry, rev }, toItem(entry, rev));
    }
    if (this.#overBound()) await this.#fallBack('after an import');
  }

  /* Reads across workloads go to the table, after what is queued. */

  override async *query(filter: InventoryFilter = {}): AsyncGenerator<StoredEntry> {
    await this.flush();
    yield* super.query(filter);
  }

  override async *byRegistry(host: string): AsyncGenerator<StoredEntry> {
    await this.flush();
    yield* super.byRegistry(host);
  }

  override async clusterPage(
    cluster: string,
    next?: Record<string, unknown>,
    limit?: number,
  ): Promise<InventoryPage> {
    await this.flush();
    return super.clusterPage(cluster, next, limit);
  }

  override async clusterNamesPage(
    next?: Record<string, unknown>,
    limit?: number,
  ): Promise<{ clusters: string[]; next?: Record<string, unknown> | undefined }> {
    await this.flush();
    return super.clusterNamesPage(next, limit);
  }

  override async scanPage(
    next?: Record<string, unknown>,
    options?: { limit?: number; segment?: { index: number; total: number } },
  ): Promise<InventoryPage> {
    await this.flush();
    return super.scanPage(next, options);
  }

  /* -------------------------------------------------------------- the index */

  #write(stored: StoredEntry): void {
    const item = toItem(stored.entry, stored.rev);
    this.#place(stored, item);
    this.#pending.set(itemId(item), { PutRequest: { Item: item } });
  }

  #remove(entry: InventoryEntry): void {
    const key: Key = {
      workloadKey: workloadKey(entry.cluster, entry.namespace, entry.workload),
      entryKey: entryKey(entry),
    };
    const partition = this.#index?.get(key.workloadKey);
    const gone = partition?.get(key.entryKey);
    if (partition && gone) {
      partition.delete(key.entryKey);
      if (partition.size === 0) this.#index?.delete(key.workloadKey);
      this.#entries--;
      this.#bytes -= gone.bytes;
    }
    this.#pending.set(itemId(key), { DeleteRequest: { Key: key } });
  }

  /** Puts `stored` in the index (replacing its earlier version); `item` is what is stored. */
  #place(stored: StoredEntry, item: Record<string, unknown>): void {
    const index = this.#index;
    if (!index) return;
    const wk = String(item.workloadKey);
    let partition = index.get(wk);
    if (!partition) {
      partition = new Map();
      index.set(wk, partition);
    }
    const ek = String(item.entryKey);
    const bytes = JSON.stringify(item).length;
    const old = partition.get(ek);
    if (old) this.#bytes -= old.bytes;
    else this.#entries++;
    this.#bytes += bytes;
    partition.set(ek, { stored, bytes });
  }

  #overBound(): boolean {
    return this.#entries > this.#maxEntries || this.#bytes > this.#maxBytes;
  }

  /** Drops the index for good; what is queued is still flushed (now, and before any call). */
  async #fallBack(when: string): Promise<void> {
    if (!this.#index) return;
    const reason = `inventory index over its bound ${when} (${this.#entries} entries > ${this.#maxEntries} or ${this.#bytes} bytes > ${this.#maxBytes}): conditional writes from now on`;
    this.#index = null;
    this.#entries = 0;
    this.#bytes = 0;
    this.#onFallback?.(reason);
    await this.flush();
  }

  /* -------------------------------------------------------------- writing */

  async #writePending(): Promise<void> {
    if (this.#pending.size === 0) return;
    const queued = [...this.#pending];
    this.#pending.clear();
    let done = 0;
    try {
      for (; done < queued.length; done += BATCH_WRITE_LIMIT) {
        await this.#batchWrite(queued.slice(done, done + BATCH_WRITE_LIMIT).map(([, w]) => w));
      }
    } catch (error) {
      // Not written, or not known to be: queued again unless a later change replaced them.
      for (const [id, w] of queued.slice(done))
        if (!this.#pending.has(id)) this.#pending.set(id, w);
      throw error;
    }
  }

  async #batchWrite(requests: Pending[]): Promise<void> {
    let left: Record<string, unknown>[] = requests;
    for (let attempt = 0; left.length > 0; attempt++) {
      if (attempt >= MAX_WRITE_ATTEMPTS) {
        throw new ConflictError(
          `inventory ${this.#table}: ${left.length} write(s) still unprocessed after ${MAX_WRITE_ATTEMPTS} attempts`,
        );
      }
      if (attempt > 0) await retryPause(attempt);
      const out = await this.#doc.send(
        new BatchWriteCommand({ RequestItems: { [this.#table]: left } }),
      );
      left = (out.UnprocessedItems?.[this.#table] ?? []) as Record<string, unknown>[];
    }
  }
}

function itemId(key: { workloadKey?: unknown; entryKey?: unknown }): string {
  return `${String(key.workloadKey)}\u0000${String(key.entryKey)}`;
}
