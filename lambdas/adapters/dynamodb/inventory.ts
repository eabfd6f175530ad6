/**
 * The Inventory table: one item per cluster + namespace + workload + container + reference,
 * partitioned by workload. Every change reads the workload's partition, plans with the pure
 * `planInventory` and writes each changed item conditionally on its revision, re-planning on a
 * conflict, so concurrent events for one workload never lose each other's pods.
 */

import { hash } from 'node:crypto';
import {
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { ConflictError, ValidationError } from '../../core/errors.ts';
import {
  entryChanged,
  entryId,
  entryKey,
  INVENTORY_SOURCES,
  type InventoryEntry,
  type InventoryEvent,
  type InventoryPlan,
  type JudgedViolation,
  planInventory,
  type Removal,
  workloadKey,
} from '../../core/inventory.ts';
import type { WorkloadRef } from '../../core/types.ts';
import {
  dropUndefined,
  type InvalidItemHandler,
  isConditionalCheckFailed,
  retryPause,
  timeString,
  zodIssues,
} from './common.ts';
import { WorkloadCache } from './inventory-cache.ts';
import { INVENTORY_INDEX } from './schema.ts';
import { CONTAINER_KINDS_FOR_STORE, SEVERITIES, VIOLATION_RULES } from './vocabulary.ts';

export const MAX_WRITE_ATTEMPTS = 32;
/**
 * How long a workload's last known entries may answer a repeat pod sighting without a read.
 * Another process's change (a pod deleted and re-created under the same name elsewhere) is
 * seen at the first sighting after this; findings do not depend on it (ingest upserts them
 * from every sighting).
 */
const CACHE_TTL_MS = 30_000;
/**
 * `lastSeen` / `forwarderSeenAt` alone are rewritten only once they move by this much: a
 * steady stream of sightings of an unchanged entry costs no writes (`lastSeen` is exact to a
 * minute). Any other change writes at once.
 */
export const TOUCH_MS = 60_000;
const CACHE_WORKLOADS = 10_000;
/** The bookkeeping item of a cluster's forwarder resync passes (not in any index). */
const RESYNC_PREFIX = '#resync#';
/** Other bookkeeping items (not in any index). */
const META_PREFIX = '#meta#';

const entrySchema = z.object({
  cluster: z.string().min(1),
  namespace: z.string().min(1),
  workload: z.object({ kind: z.string(), name: z.string() }),
  container: z.string(),
  containerKind: z.enum(CONTAINER_KINDS_FOR_STORE),
  image: z.string(),
  reference: z.string().nullable(),
  repository: z.string().nullable(),
  registry: z.string().nullable(),
  digests: z.array(z.string()),
  sources: z.array(z.enum(INVENTORY_SOURCES)),
  firstSeen: timeString,
  lastSeen: timeString,
  actor: z.string().nullable(),
  pods: z.array(z.string()),
  template: z.boolean(),
  violations: z.array(z.object({ rule: z.enum(VIOLATION_RULES), severity: z.enum(SEVERITIES) })),
  resyncId: z.string().optional(),
  forwarderSeenAt: timeString.optional(),
});
const storedSchema = entrySchema.extend({ rev: z.number().int().nonnegative() });

export interface StoredEntry {
  entry: InventoryEntry;
  rev: number;
}

export interface InventoryFilter {
  cluster?: string | undefined;
  namespace?: string | undefined;
  repository?: string | undefined;
  /**
   * With `repository`: the registry hosts its entries may be stored under. An entry's
   * registry is the host it was judged as, so a pull-through-cache repository's entries sit
   * under the upstream's host (the caller maps it with the allowlist); the repository's own
   * host is always searched.
   */
  registries?: readonly string[] | undefined;
  digest?: string | undefined;
}

/** The hosts a repository's entries are found under: its own, then the given ones. */
export function repositoryHosts(repository: string, registries: readonly string[] = []): string[] {
  const own = repository.slice(0, Math.max(0, repository.indexOf('/'))).toLowerCase();
  return [...new Set([own, ...registries.map((h) => h.toLowerCase())])].filter((h) => h !== '');
}

export interface InventoryPage {
  items: StoredEntry[];
  /** Pass back to continue; absent on the last page. */
  next?: Record<string, unknown> | undefined;
}

/** What an applied plan did: the removals drive auto-resolution. */
export interface AppliedPlan extends InventoryPlan {
  /** The stored entries before the change, by entry id within the workload. */
  before: Map<string, InventoryEntry>;
}

function clusterSort(e: InventoryEntry): string {
  return `${e.namespace}#${e.workload.kind}#${e.workload.name}#${entryKey(e)}`;
}

/**
 * Entry fields an item leaves out while they hold their default (no reference, no actor, no
 * pods, no verdict, not in a template…); reading puts the default back, so absence and the
 * default read the same. The bench's items carry an eighth fewer attributes (21.4 from 24.5):
 * dynalite validates and encodes every attribute of every written item; DynamoDB bills bytes.
 */
const DEFAULTED = [
  'reference',
  'repository',
  'registry',
  'actor',
  'digests',
  'sources',
  'pods',
  'template',
  'violations',
] as const satisfies readonly (keyof InventoryEntry)[];
type Defaulted = (typeof DEFAULTED)[number];
const DEFAULTED_FIELDS = new Set<string>(DEFAULTED);

/** The defaults (fresh lists each time: an entry read back owns its lists). */
function defaults(): Pick<InventoryEntry, Defaulted> {
  return {
    reference: null,
    repository: null,
    registry: null,
    actor: null,
    digests: [],
    sources: [],
    pods: [],
    template: false,
    violations: [],
  };
}

function isDefault(field: string, value: unknown): boolean {
  if (!DEFAULTED_FIELDS.has(field)) return false;
  return value === null || value === false || (Array.isArray(value) && value.length === 0);
}

/** A stored item with the fields it left out set to their defaults. */
function withDefaults(raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = defaults();
  for (const [k, v] of Object.entries(raw)) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * The revision a new item starts at: not 1 for every item, or an entry deleted and created
 * again would repeat its earlier revisions, and a writer still holding a read of the earlier
 * entry (rev n, conditional on `rev = n`) could overwrite the new one with a plan made from
 * the old. Derived from what tells one life of an entry from another (so every writer, and
 * both adapters, agree): 40 bits of the SHA-256 of its identity, seen-times, pods, sources,
 * digests and template flag, times 4,096, plus one, so two lives start far apart (an entry
 * would need 4,096 writes to reach another's range, and then only if their hashes are
 * neighbours). One hash of a short string: this runs for every new entry.
 */
export function firstRevision(entry: InventoryEntry): number {
  const life = JSON.stringify([
    entryId(entry),
    entry.firstSeen,
    entry.lastSeen,
    entry.pods,
    entry.sources,
    entry.digests,
    entry.template,
  ]);
  return Number.parseInt(hash('sha256', life).slice(0, 10), 16) * 4096 + 1;
}

/** The revision a write of `entry` stores: the next after `rev`, or a new item's first. */
export function nextRevision(rev: number | undefined, entry: InventoryEntry): number {
  return rev === undefined ? firstRevision(entry) : rev + 1;
}

/** The stored item of `entry` at `rev`, with its keys and index attributes. */
export function toItem(entry: InventoryEntry, rev: number): Record<string, unknown> {
  const item: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(entry)) {
    if (value === undefined || isDefault(field, value)) continue;
    item[field] = value;
  }
  return dropUndefined({
    ...item,
    rev,
    workloadKey: workloadKey(entry.cluster, entry.namespace, entry.workload),
    entryKey: entryKey(entry),
    clusterSort: clusterSort(entry),
    digestKey: entry.digests.at(-1),
    repositoryKey: entry.repository ?? undefined,
    registryKey: entry.registry ?? undefined,
  });
}

/** Whether `next` differs from `prev` in more than a small advance of its seen-times. */
export function materiallyChanged(prev: InventoryEntry | undefined, next: InventoryEntry): boolean {
  if (!prev) return true;
  const near = (a: string | undefined, b: string | undefined) =>
    a !== undefined &&
    b !== undefined &&
    Date.parse(b) >= Date.parse(a) &&
    Date.parse(b) - Date.parse(a) < TOUCH_MS;
  const normalised = { ...next };
  if (near(prev.lastSeen, next.lastSeen)) normalised.lastSeen = prev.lastSeen;
  if (near(prev.forwarderSeenAt, next.forwarderSeenAt))
    normalised.forwarderSeenAt = prev.forwarderSeenAt;
  return entryChanged(prev, normalised);
}

/**
 * Waits for every write; false when one met a changed item (its condition failed), and the
 * first other error is thrown once all have settled (no write is left running).
 */
async function allWritten(writes: readonly Promise<unknown>[]): Promise<boolean> {
  let conflict = false;
  for (const outcome of await Promise.allSettled(writes)) {
    if (outcome.status === 'fulfilled') continue;
    if (!isConditionalCheckFailed(outcome.reason)) throw outcome.reason;
    conflict = true;
  }
  return !conflict;
}

export class InventoryStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #onInvalid: InvalidItemHandler | undefined;
  /** What this process last read or wrote per workload (bounded, short-lived). */
  readonly #cache: WorkloadCache;
  /** Resync ids this process already recorded the start of, per cluster. */
  readonly #resyncSeen = new Map<string, string>();

  constructor(
    doc: DynamoDBDocumentClient,
    tableName: string,
    options: { onInvalid?: InvalidItemHandler | undefined; now?: () => number } = {},
  ) {
    this.#doc = doc;
    this.#table = tableName;
    this.#onInvalid = options.onInvalid;
    this.#cache = new WorkloadCache({
      ttlMs: CACHE_TTL_MS,
      maxWorkloads: CACHE_WORKLOADS,
      now: options.now ?? Date.now,
    });
  }

  get tableName(): string {
    return this.#table;
  }

  /** The entries of one workload, read consistently. */
  async workloadEntries(
    cluster: string,
    namespace: string,
    workload: WorkloadRef,
  ): Promise<StoredEntry[]> {
    return this.#collect({
      TableName: this.#table,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': 'workloadKey' },
      ExpressionAttributeValues: { ':pk': workloadKey(cluster, namespace, workload) },
      ConsistentRead: true,
    });
  }

  /**
   * Plans `event` against the workload's entries and writes the plan; on a conflicting write
   * re-reads and re-plans. Returns what was done.
   */
  async applyToWorkload(
    cluster: string,
    namespace: string,
    workload: WorkloadRef,
    event: InventoryEvent,
  ): Promise<AppliedPlan> {
    const key = workloadKey(cluster, namespace, workload);
    // A pod sighting that changes nothing against what this process last read and wrote for
    // the workload (a repeat: `running` after `added`, a resync) needs no request at all.
    // Anything that would write re-reads first, so writes always start from the table.
    const cached = event.type === 'pod' ? this.#cache.fresh(key) : undefined;
    if (cached) {
      const plan = planInventory(
        cached.map((s) => s.entry),
        event,
      );
      const byKey = new Map(cached.map((s) => [entryKey(s.entry), s.entry]));
      const unchanged =
        plan.removals.length === 0 &&
        plan.upserts.every((e) => !materiallyChanged(byKey.get(entryKey(e)), e));
      if (unchanged) return { upserts: [], removals: [], before: byKey };
    }
    if (event.type === 'pod' || event.type === 'template') {
      const done = await this.#applyCreating(key, cluster, namespace, workload, event);
      if (done) return done;
    }
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const stored = await this.workloadEntries(cluster, namespace, workload);
      const applied = await this.#tryApply(stored, event);
      if (applied) {
        this.#cache.remember(key, applied.after);
        return applied.plan;
      }
      this.#cache.outdate(key);
      await retryPause(attempt);
    }
    throw new ConflictError(
      `inventory ${workloadKey(cluster, namespace, workload)}: gave up after conflicting writes`,
    );
  }

  /**
   * A sighting naming entries this process does not know to exist (a new workload, a new
   * image): creates them while it reads the workload instead of after, so a new entry costs
   * one round trip, not two. A create is conditional (`attribute_not_exists`), so it never
   * overwrites another writer's entry and needs no prior read; the read still decides the
   * rest of the plan (a pod's old image in the same container loses the pod, a full template
   * drops what it no longer names). Null when nothing was worth creating or another writer
   * was met: the caller then re-reads and re-plans, folding the event again into what was
   * created (a fold of the same event is idempotent, so nothing counts twice).
   */
  async #applyCreating(
    key: string,
    cluster: string,
    namespace: string,
    workload: WorkloadRef,
    event: InventoryEvent,
  ): Promise<AppliedPlan | null> {
    const known = new Set(this.#cache.knownKeys(key) ?? []);
    const creating = new Map<string, InventoryEntry>();
    for (const e of planInventory([], event).upserts)
      if (!known.has(entryKey(e))) creating.set(entryKey(e), e);
    if (creating.size === 0) return null;
    const creates = Promise.allSettled([...creating.values()].map((e) => this.#create(e)));
    let snapshot: StoredEntry[];
    try {
      snapshot = await this.workloadEntries(cluster, namespace, workload);
    } finally {
      await creates; // never leave a write running past a failed read
    }
    const outcomes = await creates;
    const created = new Map<string, InventoryEntry>();
    [...creating.entries()].forEach(([k, e], i) => {
      const outcome = outcomes[i];
      if (outcome?.status === 'rejected') throw outcome.reason;
      if (outcome?.value === true) created.set(k, e);
    });
    // The read ran beside the creates: it may show ours (its first revision, as written). Any
    // other item under a key we created is a later writer's: start again from the table.
    const base: StoredEntry[] = [];
    for (const s of snapshot) {
      const mine = created.get(entryKey(s.entry));
      if (!mine) base.push(s);
      else if (s.rev !== firstRevision(mine) || entryChanged(s.entry, mine)) {
        this.#cache.outdate(key);
        return null;
      }
    }
    const applied = await this.#tryApply(base, event, created);
    if (!applied) {
      this.#cache.outdate(key);
      return null;
    }
    this.#cache.remember(key, applied.after);
    return applied.plan;
  }

  /**
   * Applies `event` to entries found through an index (a pod gone whose workload is unknown,
   * a resync pass ending): each affected workload is re-read and planned on its own.
   */
  async applyToFound(
    found: readonly InventoryEntry[],
    event: InventoryEvent,
  ): Promise<AppliedPlan> {
    const workloads = new Map<string, InventoryEntry>();
    for (const e of found) workloads.set(workloadKey(e.cluster, e.namespace, e.workload), e);
    const all: AppliedPlan = { upserts: [], removals: [], before: new Map() };
    for (const e of workloads.values()) {
      const done = await this.applyToWorkload(e.cluster, e.namespace, e.workload, event);
      for (const x of done.upserts) all.upserts.push(x);
      for (const x of done.removals) all.removals.push(x);
      for (const [k, v] of done.before) all.before.set(k, v);
    }
    return all;
  }

  /**
   * Writes the plan for `stored`; null when another writer got there first. `created` are
   * entries already created for this event (absent from `stored`): they count as written.
   * Independent items are written in parallel: every write is conditional on its own item,
   * and upserts land before removals, so a crash between leaves a stale entry (fail closed,
   * removed on redelivery) rather than a lost one.
   */
  async #tryApply(
    stored: readonly StoredEntry[],
    event: InventoryEvent,
    created: ReadonlyMap<string, InventoryEntry> = new Map(),
  ): Promise<{ plan: AppliedPlan; after: StoredEntry[] } | null> {
    const plan = planInventory(
      stored.map((s) => s.entry),
      event,
    );
    const revs = new Map(stored.map((s) => [entryKey(s.entry), s]));
    const before = new Map(stored.map((s) => [entryKey(s.entry), s.entry]));
    const after = new Map(stored.map((s) => [entryKey(s.entry), s]));
    const puts: Promise<unknown>[] = [];
    for (const entry of plan.upserts) {
      const k = entryKey(entry);
      const mine = created.get(k);
      if (mine) {
        // Planned from the same event against no entry, it is what was created.
        if (entryChanged(mine, entry)) return null;
        after.set(k, { entry, rev: firstRevision(mine) });
        continue;
      }
      const prev = revs.get(k);
      if (prev && !materiallyChanged(prev.entry, entry)) continue;
      puts.push(this.#put(entry, prev?.rev));
      after.set(k, { entry, rev: nextRevision(prev?.rev, entry) });
    }
    if (!(await allWritten(puts))) return null;
    const deletes: Promise<unknown>[] = [];
    for (const { entry } of plan.removals) {
      const prev = revs.get(entryKey(entry));
      if (prev) deletes.push(this.#delete(entry, prev.rev));
      after.delete(entryKey(entry));
    }
    if (!(await allWritten(deletes))) return null;
    return { plan: { ...plan, before }, after: [...after.values()] };
  }

  /** Creates the entry unless its item exists; false when it does. */
  async #create(entry: InventoryEntry): Promise<boolean> {
    try {
      await this.#put(entry, undefined);
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async #put(entry: InventoryEntry, rev: number | undefined): Promise<void> {
    await this.#doc.send(
      new PutCommand({
        TableName: this.#table,
        Item: toItem(entry, nextRevision(rev, entry)),
        ConditionExpression:
          rev === undefined ? 'attribute_not_exists(workloadKey)' : '#rev = :rev',
        ...(rev === undefined
          ? {}
          : {
              ExpressionAttributeNames: { '#rev': 'rev' },
              ExpressionAttributeValues: { ':rev': rev },
            }),
      }),
    );
  }

  async #delete(entry: InventoryEntry, rev: number): Promise<void> {
    await this.#doc.send(
      new DeleteCommand({
        TableName: this.#table,
        Key: {
          workloadKey: workloadKey(entry.cluster, entry.namespace, entry.workload),
          entryKey: entryKey(entry),
        },
        ConditionExpression: '#rev = :rev',
        ExpressionAttributeNames: { '#rev': 'rev' },
        ExpressionAttributeValues: { ':rev': rev },
      }),
    );
  }

  /**
   * Records a new verdict on an entry if it is still at `rev`; false when it changed meanwhile
   * (the caller re-reads) or is gone.
   */
  async setViolations(
    entry: InventoryEntry,
    rev: number,
    violations: readonly JudgedViolation[],
    registry?: string | null,
  ): Promise<boolean> {
    // Empty values are no attribute, as `toItem` writes them; the host is also the
    // `byRegistry` key.
    const set = ['#rev = :next'];
    const remove: string[] = [];
    const names: Record<string, string> = { '#rev': 'rev' };
    const values: Record<string, unknown> = { ':rev': rev, ':next': rev + 1 };
    if (violations.length === 0) remove.push('#v');
    else {
      set.push('#v = :v');
      values[':v'] = violations;
    }
    names['#v'] = 'violations';
    if (registry !== undefined) {
      names['#g'] = 'registry';
      names['#gk'] = 'registryKey';
      if (registry === null) remove.push('#g', '#gk');
      else {
        set.push('#g = :g', '#gk = :g');
        values[':g'] = registry;
      }
    }
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: {
            workloadKey: workloadKey(entry.cluster, entry.namespace, entry.workload),
            entryKey: entryKey(entry),
          },
          UpdateExpression: `SET ${set.join(', ')}${remove.length > 0 ? ` REMOVE ${remove.join(', ')}` : ''}`,
          ConditionExpression: '#rev = :rev',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      this.#cache.outdate(workloadKey(entry.cluster, entry.namespace, entry.workload));
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  /** One entry by its identity, read consistently. */
  async get(
    cluster: string,
    namespace: string,
    workload: WorkloadRef,
    key: Pick<InventoryEntry, 'container' | 'reference' | 'image'>,
  ): Promise<StoredEntry | undefined> {
    const out = await this.#doc.send(
      new GetCommand({
        TableName: this.#table,
        Key: { workloadKey: workloadKey(cluster, namespace, workload), entryKey: entryKey(key) },
        ConsistentRead: true,
      }),
    );
    return out.Item ? this.#validate(out.Item) : undefined;
  }

  /**
   * Writes entries unconditionally in batches of 25 (a backfill, the bench); live paths use
   * `applyToWorkload`. Unprocessed items are retried.
   */
  async importEntries(entries: readonly InventoryEntry[]): Promise<void> {
    for (let i = 0; i < entries.length; i += 25) {
      let requests: Record<string, unknown>[] = entries
        .slice(i, i + 25)
        .map((e) => ({ PutRequest: { Item: toItem(e, firstRevision(e)) } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt >= MAX_WRITE_ATTEMPTS)
          throw new ConflictError('inventory import: writes kept failing');
        const out = await this.#doc.send(
          new BatchWriteCommand({ RequestItems: { [this.#table]: requests } }),
        );
        requests = (out.UnprocessedItems?.[this.#table] ?? []) as Record<string, unknown>[];
        if (requests.length > 0) await retryPause(attempt);
      }
    }
  }

  /** A bookkeeping value (the reconciler's last state), or undefined. Not in any index. */
  async getMeta(name: string): Promise<unknown> {
    const out = await this.#doc.send(
      new GetCommand({
        TableName: this.#table,
        Key: { workloadKey: `${META_PREFIX}${name}`, entryKey: '#' },
        ConsistentRead: true,
      }),
    );
    return out.Item?.value;
  }

  async putMeta(name: string, value: unknown): Promise<void> {
    await this.#doc.send(
      new PutCommand({
        TableName: this.#table,
        Item: { workloadKey: `${META_PREFIX}${name}`, entryKey: '#', value },
      }),
    );
  }

  /* -------------------------------------------------------------- resync passes */

  /** Notes that a resync pass `resyncId` of `cluster` is under way (its first event's time). */
  async resyncStarted(cluster: string, resyncId: string, observedAt: string): Promise<void> {
    if (this.#resyncSeen.get(cluster) === resyncId) return;
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { workloadKey: `${RESYNC_PREFIX}${cluster}`, entryKey: '#' },
          UpdateExpression: 'SET #id = :id, #at = :at',
          ConditionExpression: 'attribute_not_exists(#id) OR #id <> :id OR #at > :at',
          ExpressionAttributeNames: { '#id': 'resyncId', '#at': 'startedAt' },
          ExpressionAttributeValues: { ':id': resyncId, ':at': observedAt },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
    this.#resyncSeen.set(cluster, resyncId);
  }

  /** When the pass `resyncId` of `cluster` began, if this table saw its start. */
  async resyncStart(cluster: string, resyncId: string): Promise<string | null> {
    const out = await this.#doc.send(
      new GetCommand({
        TableName: this.#table,
        Key: { workloadKey: `${RESYNC_PREFIX}${cluster}`, entryKey: '#' },
        ConsistentRead: true,
      }),
    );
    return out.Item?.resyncId === resyncId && typeof out.Item.startedAt === 'string'
      ? out.Item.startedAt
      : null;
  }

  /* -------------------------------------------------------------- reads */

  /** Entries matching `filter`, through the index that answers it (a Scan only without one). */
  async *query(filter: InventoryFilter = {}): AsyncGenerator<StoredEntry> {
    if (filter.namespace !== undefined && filter.cluster === undefined) {
      throw new ValidationError('--namespace needs --cluster');
    }
    const narrow = (s: StoredEntry) =>
      (filter.cluster === undefined || s.entry.cluster === filter.cluster) &&
      (filter.namespace === undefined || s.entry.namespace === filter.namespace);
    let input: QueryCommandInput | undefined;
    if (filter.digest !== undefined)
      input = this.#indexQuery(INVENTORY_INDEX.byDigest, 'digestKey', filter.digest);
    else if (filter.repository !== undefined) {
      // byRegistry: the partition of each host the repository may be judged as, filtered on
      // the repository (reads the host's entries; a CLI question, paginated).
      for (const host of repositoryHosts(filter.repository, filter.registries)) {
        const byHost = this.#indexQuery(INVENTORY_INDEX.byRegistry, 'registryKey', host);
        byHost.FilterExpression = '#repo = :repo';
        (byHost.ExpressionAttributeNames as Record<string, string>)['#repo'] = 'repositoryKey';
        (byHost.ExpressionAttributeValues as Record<string, unknown>)[':repo'] = filter.repository;
        for await (const s of this.#pages(byHost)) if (narrow(s)) yield s;
      }
      return;
    } else if (filter.cluster !== undefined) {
      input = this.#indexQuery(INVENTORY_INDEX.byCluster, 'cluster', filter.cluster);
      if (filter.namespace !== undefined) {
        input.KeyConditionExpression += ' AND begins_with(#sk, :ns)';
        (input.ExpressionAttributeNames as Record<string, string>)['#sk'] = 'clusterSort';
        (input.ExpressionAttributeValues as Record<string, unknown>)[':ns'] =
          `${filter.namespace}#`;
      }
    }
    if (input) {
      for await (const s of this.#pages(input)) if (narrow(s)) yield s;
      return;
    }
    let next: Record<string, unknown> | undefined;
    do {
      const page = await this.scanPage(next);
      for (const s of page.items) yield s;
      next = page.next;
    } while (next);
  }

  /** Entries whose registry host is `host` (after pull-through mapping). */
  async *byRegistry(host: string): AsyncGenerator<StoredEntry> {
    yield* this.#pages(
      this.#indexQuery(INVENTORY_INDEX.byRegistry, 'registryKey', host.toLowerCase()),
    );
  }

  /**
   * One page of one cluster's entries through `byCluster` (the unit of a fanned-out pass);
   * `next` resumes. Bookkeeping items carry no `cluster`, so the index never holds them.
   */
  async clusterPage(
    cluster: string,
    next?: Record<string, unknown>,
    limit = 500,
  ): Promise<InventoryPage> {
    const out = await this.#doc.send(
      new QueryCommand({
        ...this.#indexQuery(INVENTORY_INDEX.byCluster, 'cluster', cluster),
        Limit: limit,
        ...(next ? { ExclusiveStartKey: next } : {}),
      }),
    );
    const items: StoredEntry[] = [];
    for (const raw of out.Items ?? []) {
      const s = this.#validate(raw);
      if (s) items.push(s);
    }
    return { items, ...(out.LastEvaluatedKey ? { next: out.LastEvaluatedKey } : {}) };
  }

  /**
   * The cluster names on one page of the `byCluster` index (only the key is read back), for
   * a fan-out by cluster; `next` resumes. A name can repeat across pages.
   */
  async clusterNamesPage(
    next?: Record<string, unknown>,
    limit = 1000,
  ): Promise<{ clusters: string[]; next?: Record<string, unknown> | undefined }> {
    const out = await this.#doc.send(
      new ScanCommand({
        TableName: this.#table,
        IndexName: INVENTORY_INDEX.byCluster,
        ProjectionExpression: '#c',
        ExpressionAttributeNames: { '#c': 'cluster' },
        Limit: limit,
        ...(next ? { ExclusiveStartKey: next } : {}),
      }),
    );
    const clusters = new Set<string>();
    for (const raw of out.Items ?? [])
      if (typeof raw.cluster === 'string' && raw.cluster !== '') clusters.add(raw.cluster);
    return {
      clusters: [...clusters],
      ...(out.LastEvaluatedKey ? { next: out.LastEvaluatedKey } : {}),
    };
  }

  /**
   * One page of the whole table (bookkeeping items left out): the unit of a full, resumable
   * reconciliation. `segment` splits the table for parallel passes.
   */
  async scanPage(
    next?: Record<string, unknown>,
    options: { limit?: number; segment?: { index: number; total: number } } = {},
  ): Promise<InventoryPage> {
    const out = await this.#doc.send(
      new ScanCommand({
        TableName: this.#table,
        Limit: options.limit ?? 500,
        ...(next ? { ExclusiveStartKey: next } : {}),
        ...(options.segment
          ? { Segment: options.segment.index, TotalSegments: options.segment.total }
          : {}),
      }),
    );
    const items: StoredEntry[] = [];
    for (const raw of out.Items ?? []) {
      const pk = String(raw.workloadKey);
      if (pk.startsWith(RESYNC_PREFIX) || pk.startsWith(META_PREFIX)) continue;
      const s = this.#validate(raw);
      if (s) items.push(s);
    }
    return { items, ...(out.LastEvaluatedKey ? { next: out.LastEvaluatedKey } : {}) };
  }

  #indexQuery(index: string, attribute: string, value: string): QueryCommandInput {
    return {
      TableName: this.#table,
      IndexName: index,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': attribute },
      ExpressionAttributeValues: { ':pk': value },
    };
  }

  async #collect(input: QueryCommandInput): Promise<StoredEntry[]> {
    const out: StoredEntry[] = [];
    for await (const s of this.#pages(input)) out.push(s);
    return out;
  }

  async *#pages(input: QueryCommandInput): AsyncGenerator<StoredEntry> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.#doc.send(
        new QueryCommand(startKey ? { ...input, ExclusiveStartKey: startKey } : input),
      );
      for (const raw of out.Items ?? []) {
        const s = this.#validate(raw);
        if (s) yield s;
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey);
  }

  #validate(raw: Record<string, unknown>): StoredEntry | undefined {
    const parsed = storedSchema.safeParse(withDefaults(raw));
    if (parsed.success) {
      const { rev, ...entry } = parsed.data;
      return { entry: entry as InventoryEntry, rev };
    }
    this.#onInvalid?.({
      table: this.#table,
      key: { workloadKey: raw.workloadKey, entryKey: raw.entryKey },
      issues: zodIssues(parsed.error),
    });
    return undefined;
  }
}

export type { Removal };
