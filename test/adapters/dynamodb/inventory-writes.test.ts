/**
 * The inventory's write path on dynalite: a new entry created beside the workload read, the
 * process cache's hit / miss / outdated semantics, concurrent writers (two stores are two
 * Lambda instances, each with its own cache) and redelivery.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstRevision, InventoryStore } from '../../../lambdas/adapters/dynamodb/inventory.ts';
import { compileAllowlist, parseAllowlist } from '../../../lambdas/core/allowlist/index.ts';
import type { InventoryEvent } from '../../../lambdas/core/inventory.ts';
import type { PodObservation, WorkloadRef } from '../../../lambdas/core/types.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../../helpers/dynalite.ts';

const decider = compileAllowlist(
  parseAllowlist('version: 1\nrules:\n  - id: ecr\n    registry: good.example.com\n'),
);
const WEB: WorkloadRef = { kind: 'Deployment', name: 'web' };

interface Sighting {
  pod?: string;
  image?: string;
  at?: string;
  workload?: WorkloadRef;
  type?: 'pod' | 'template';
  containers?: { name: string; image: string }[];
}

function event(s: Sighting = {}): InventoryEvent {
  const at = s.at ?? '2026-01-10T10:00:00.000Z';
  const containers = s.containers ?? [{ name: 'app', image: s.image ?? 'evil.example.com/web:1' }];
  const observation: PodObservation = {
    source: s.type === 'template' ? 'audit' : 'forwarder',
    cluster: 'prod',
    namespace: 'shop',
    workload: s.workload ?? WEB,
    podName: s.type === 'template' ? null : (s.pod ?? 'web-1'),
    podUid: null,
    serviceAccount: null,
    node: null,
    containers: containers.map((c) => ({
      name: c.name,
      kind: 'container',
      image: c.image,
      imageID: null,
      digest: null,
    })),
    actor: null,
    observedAt: at,
    eventId: `${s.pod ?? 'web-1'}@${at}`,
    partial: false,
  };
  const decisions = containers.map((c) =>
    decider.decide(c.image, { cluster: 'prod' }, new Date(at)),
  );
  return s.type === 'template'
    ? { type: 'template', observation, decisions }
    : { type: 'pod', observation, decisions };
}

/** A store over a client that counts requests by command name. */
function countingStore(
  dynamo: LocalDynamo,
  table: string,
  now?: () => number,
): { store: InventoryStore; counts: Record<string, number>; reset(): void } {
  const counts: Record<string, number> = {};
  const doc = {
    send: (command: Parameters<typeof dynamo.doc.send>[0]) => {
      const name = command.constructor.name;
      counts[name] = (counts[name] ?? 0) + 1;
      return dynamo.doc.send(command);
    },
  } as unknown as typeof dynamo.doc;
  return {
    store: new InventoryStore(doc, table, now ? { now } : {}),
    counts,
    reset: () => {
      for (const k of Object.keys(counts)) delete counts[k];
    },
  };
}

describe('InventoryStore writes', () => {
  let dynamo: LocalDynamo;
  let table: string;
  let reader: InventoryStore;
  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(() => dynamo.stop());

  async function fresh(): Promise<void> {
    table = (await freshTables(dynamo)).inventory;
    reader = new InventoryStore(dynamo.doc, table);
  }
  const entries = async (workload: WorkloadRef = WEB) =>
    (await reader.workloadEntries('prod', 'shop', workload)).sort((a, b) =>
      a.entry.image < b.entry.image ? -1 : 1,
    );
  const apply = (store: InventoryStore, e: InventoryEvent) =>
    store.applyToWorkload('prod', 'shop', e.type === 'pod' ? e.observation.workload : WEB, e);

  it('creates a new workload’s entries beside its read: one Query and one Put per container', async () => {
    // Prepare
    await fresh();
    const { store, counts } = countingStore(dynamo, table);

    // Act
    const plan = await apply(
      store,
      event({
        containers: [
          { name: 'app', image: 'evil.example.com/web:1' },
          { name: 'sidecar', image: 'good.example.com/proxy:1' },
        ],
      }),
    );

    // Assess
    expect(counts).toEqual({ QueryCommand: 1, PutCommand: 2 });
    expect(plan.upserts.map((e) => e.container).sort()).toEqual(['app', 'sidecar']);
    expect(plan.before.size).toBe(0);
    const stored = await entries();
    expect(
      stored.map((s) => [s.entry.container, s.entry.pods, s.rev - firstRevision(s.entry)]),
    ).toEqual([
      ['app', ['web-1'], 0],
      ['sidecar', ['web-1'], 0],
    ]);
    expect(stored.find((s) => s.entry.container === 'app')?.entry.violations).toEqual([
      { rule: 'untrusted-source', severity: 'high' },
    ]);
  });

  it('answers a repeat from the cache without a request, and writes again after the cache is outdated', async () => {
    // Prepare
    await fresh();
    let clock = Date.parse('2026-01-10T10:00:00Z');
    const { store, counts, reset } = countingStore(dynamo, table, () => clock);
    await apply(store, event());
    const [created] = await entries();
    reset();

    // Act: a repeat within the cache's life, then one after it (30 s), a minute later in time
    await apply(store, event({ at: '2026-01-10T10:00:30.000Z' }));
    const hit = { ...counts };
    clock += 31_000;
    reset();
    await apply(store, event({ at: '2026-01-10T10:01:30.000Z' }));
    const expired = { ...counts };

    // Assess
    expect(hit).toEqual({});
    // Past its life the cache is a hint only: the entry is known, so no create is tried.
    expect(expired).toEqual({ QueryCommand: 1, PutCommand: 1 });
    const [stored] = await entries();
    expect(created?.rev).toBe(created ? firstRevision(created.entry) : 'no entry');
    expect(stored?.rev).toBe((created?.rev ?? Number.NaN) + 1);
    expect(stored?.entry.lastSeen).toBe('2026-01-10T10:01:30.000Z');
  });

  it('a cache that missed another writer’s change costs a request, never the change', async () => {
    // Prepare: store A knows the workload; store B (another instance) adds a pod meanwhile
    await fresh();
    const a = countingStore(dynamo, table);
    const b = countingStore(dynamo, table);
    await apply(a.store, event({ pod: 'web-1' }));
    const [created] = await entries();
    await apply(b.store, event({ pod: 'web-2' }));
    a.reset();

    // Act: A sees a third pod; its cached entries are outdated (the first revision; the table
    // has the next)
    await apply(a.store, event({ pod: 'web-3' }));

    // Assess: a write starts from a fresh read, never from the cache: web-2 is kept
    expect(a.counts).toEqual({ QueryCommand: 1, PutCommand: 1 });
    const [stored] = await entries();
    expect(stored?.entry.pods.sort()).toEqual(['web-1', 'web-2', 'web-3']);
    expect(stored?.rev).toBe((created?.rev ?? Number.NaN) + 2);
  });

  it('concurrent writers of one new workload lose no pod (conditional creates, re-plans on conflict)', async () => {
    // Prepare: four instances, each with a cold cache, twenty pods of one Deployment at once
    await fresh();
    const stores = Array.from({ length: 4 }, () => countingStore(dynamo, table).store);
    const pods = Array.from({ length: 20 }, (_, i) => `web-${i}`);

    // Act
    await Promise.all(
      pods.map((pod, i) => apply(stores[i % stores.length] as InventoryStore, event({ pod }))),
    );

    // Assess
    const stored = await entries();
    expect(stored).toHaveLength(1);
    expect(stored[0]?.entry.pods.sort()).toEqual([...pods].sort());
  });

  it('concurrent writers of an existing workload keep every pod and the image change', async () => {
    // Prepare: web-1 runs image 1; then web-1 moves to image 2 while other pods appear
    await fresh();
    const seed = countingStore(dynamo, table).store;
    await apply(seed, event({ pod: 'web-1', image: 'evil.example.com/web:1' }));
    const stores = Array.from({ length: 3 }, () => countingStore(dynamo, table).store);

    // Act
    await Promise.all([
      apply(stores[0] as InventoryStore, event({ pod: 'web-1', image: 'evil.example.com/web:2' })),
      apply(stores[1] as InventoryStore, event({ pod: 'web-2', image: 'evil.example.com/web:1' })),
      apply(stores[2] as InventoryStore, event({ pod: 'web-3', image: 'evil.example.com/web:2' })),
    ]);

    // Assess
    const stored = await entries();
    expect(stored.map((s) => [s.entry.image, [...s.entry.pods].sort()])).toEqual([
      ['evil.example.com/web:1', ['web-2']],
      ['evil.example.com/web:2', ['web-1', 'web-3']],
    ]);
  });

  it('a pod’s new image, created on the fast path, still removes its old entry', async () => {
    // Prepare: one instance saw web-1 run image 1; another, cold, sees it run image 2
    await fresh();
    const first = countingStore(dynamo, table).store;
    await apply(first, event({ pod: 'web-1', image: 'evil.example.com/web:1' }));
    const second = countingStore(dynamo, table);

    // Act
    const plan = await apply(
      second.store,
      event({ pod: 'web-1', image: 'evil.example.com/web:2', at: '2026-01-10T10:05:00.000Z' }),
    );

    // Assess: the new entry was created beside the read; the old one was then removed
    expect(second.counts).toEqual({ QueryCommand: 1, PutCommand: 1, DeleteCommand: 1 });
    expect(plan.removals.map((r) => [r.entry.image, r.reason])).toEqual([
      ['evil.example.com/web:1', 'no-longer-running'],
    ]);
    const stored = await entries();
    expect(stored.map((s) => [s.entry.image, s.entry.pods])).toEqual([
      ['evil.example.com/web:2', ['web-1']],
    ]);
  });

  it('the same instance, knowing the old entry, replaces it too', async () => {
    // Prepare
    await fresh();
    const { store } = countingStore(dynamo, table);
    await apply(store, event({ pod: 'web-1', image: 'evil.example.com/web:1' }));

    // Act
    const plan = await apply(
      store,
      event({ pod: 'web-1', image: 'evil.example.com/web:2', at: '2026-01-10T10:05:00.000Z' }),
    );

    // Assess
    expect(plan.removals).toHaveLength(1);
    expect((await entries()).map((s) => s.entry.image)).toEqual(['evil.example.com/web:2']);
  });

  it('a template naming a new image drops the old template entry', async () => {
    // Prepare
    await fresh();
    const { store } = countingStore(dynamo, table);
    await apply(store, event({ type: 'template', image: 'evil.example.com/web:1' }));

    // Act: another, cold instance sees the template change
    const plan = await apply(
      countingStore(dynamo, table).store,
      event({ type: 'template', image: 'evil.example.com/web:2', at: '2026-01-10T10:05:00.000Z' }),
    );

    // Assess
    expect(plan.removals.map((r) => r.entry.image)).toEqual(['evil.example.com/web:1']);
    const stored = await entries();
    expect(stored.map((s) => [s.entry.image, s.entry.template])).toEqual([
      ['evil.example.com/web:2', true],
    ]);
  });

  it('a writer whose read predates a delete and a re-creation does not overwrite the new entry', async () => {
    // Prepare: the entry exists (pod web-1). Writer A reads it and is held before its write.
    await fresh();
    await apply(countingStore(dynamo, table).store, event({ pod: 'web-1' }));
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let readDone: () => void = () => {};
    const aHasRead = new Promise<void>((resolve) => {
      readDone = resolve;
    });
    const slowDoc = {
      send: async (command: Parameters<typeof dynamo.doc.send>[0]) => {
        const out = await dynamo.doc.send(command);
        if (command.constructor.name === 'QueryCommand') {
          readDone();
          await held;
        }
        return out;
      },
    } as unknown as typeof dynamo.doc;
    const a = new InventoryStore(slowDoc, table);
    const b = new InventoryStore(dynamo.doc, table);

    // Act: A plans web-2 from its read; meanwhile B deletes the workload and a new pod web-9
    // creates the entry again, with the same key and other content.
    const aWrites = a.applyToWorkload(
      'prod',
      'shop',
      WEB,
      event({ pod: 'web-2', at: '2026-01-10T10:05:00.000Z' }),
    );
    await aHasRead;
    await b.applyToWorkload('prod', 'shop', WEB, {
      type: 'workload-gone',
      observedAt: '2026-01-10T10:06:00.000Z',
    });
    await apply(b, event({ pod: 'web-9', at: '2026-01-10T10:07:00.000Z' }));
    release();
    await aWrites;

    // Assess: A's stale plan (web-1 + web-2) did not land over the new entry; A started again
    // from the table, so web-9 is kept and web-1, deleted with its workload, stays gone.
    const [stored] = await entries();
    expect(stored?.entry.pods.sort()).toEqual(['web-2', 'web-9']);
  });

  it('a redelivered event changes nothing, whether its instance remembers it or not', async () => {
    // Prepare
    await fresh();
    const first = countingStore(dynamo, table);
    await apply(first.store, event());
    const cold = countingStore(dynamo, table);

    // Act
    first.reset();
    const again = await apply(first.store, event());
    const elsewhere = await apply(cold.store, event());

    // Assess: the cold instance tried its create, found the entry, and wrote nothing more
    expect(first.counts).toEqual({});
    expect(cold.counts).toEqual({ QueryCommand: 1, PutCommand: 1 });
    expect(again.upserts).toEqual([]);
    expect(elsewhere.before.size).toBe(1);
    const [stored] = await entries();
    expect(stored?.rev).toBe(stored ? firstRevision(stored.entry) : 'no entry');
    expect(stored?.entry.pods).toEqual(['web-1']);
  });
});
