import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  firstRevision,
  InventoryStore,
  toItem,
} from '../../../lambdas/adapters/dynamodb/inventory.ts';
import { entryKey, type InventoryEntry, workloadKey } from '../../../lambdas/core/inventory.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../../helpers/dynalite.ts';

/** An entry holding every default: no reference, actor, digests, sources, pods, verdict. */
const BARE: InventoryEntry = {
  cluster: 'prod',
  namespace: 'shop',
  workload: { kind: 'Deployment', name: 'web' },
  container: 'app',
  containerKind: 'container',
  image: 'Not A Reference',
  reference: null,
  repository: null,
  registry: null,
  digests: [],
  sources: [],
  firstSeen: '2026-01-10T10:00:00.000Z',
  lastSeen: '2026-01-10T10:00:00.000Z',
  actor: null,
  pods: [],
  template: false,
  violations: [],
};

const FULL: InventoryEntry = {
  ...BARE,
  container: 'side',
  image: 'quay.io/acme/side:1',
  reference: 'quay.io/acme/side:1',
  repository: 'quay.io/acme/side',
  registry: 'quay.io',
  digests: [`sha256:${'a'.repeat(64)}`],
  sources: ['audit', 'forwarder'],
  actor: 'alice',
  pods: ['web-1'],
  template: true,
  violations: [{ rule: 'untrusted-source', severity: 'high' }],
  resyncId: 'pass-1',
  forwarderSeenAt: '2026-01-10T10:00:00.000Z',
};

const OMITTED = [
  'reference',
  'repository',
  'registry',
  'actor',
  'digests',
  'sources',
  'pods',
  'template',
  'violations',
];

describe('inventory items', () => {
  let dynamo: LocalDynamo;
  let table: string;
  let store: InventoryStore;
  beforeAll(async () => {
    dynamo = await startDynalite();
    table = (await freshTables(dynamo)).inventory;
    store = new InventoryStore(dynamo.doc, table);
  });
  afterAll(() => dynamo.stop());

  const raw = async (e: InventoryEntry) =>
    (
      await dynamo.doc.send(
        new GetCommand({
          TableName: table,
          Key: {
            workloadKey: workloadKey(e.cluster, e.namespace, e.workload),
            entryKey: entryKey(e),
          },
        }),
      )
    ).Item;

  it('leaves out the fields that hold their default and keeps every other', () => {
    // Act
    const bare = toItem(BARE, 1);
    const full = toItem(FULL, 1);

    // Assess
    for (const field of OMITTED) expect(bare, field).not.toHaveProperty(field);
    for (const field of OMITTED) expect(full, field).toHaveProperty(field);
    expect(full).toMatchObject({ template: true, actor: 'alice', pods: ['web-1'] });
  });

  it('reads an item back as the entry it was written from, defaults included', async () => {
    // Act
    await store.importEntries([BARE, FULL]);
    const bare = await store.get('prod', 'shop', BARE.workload, BARE);
    const full = await store.get('prod', 'shop', FULL.workload, FULL);

    // Assess
    expect(bare).toEqual({ entry: BARE, rev: firstRevision(BARE) });
    expect(full).toEqual({ entry: FULL, rev: firstRevision(FULL) });
    // Each read gets lists of its own.
    bare?.entry.pods.push('x');
    expect((await store.get('prod', 'shop', BARE.workload, BARE))?.entry.pods).toEqual([]);
  });

  it('reads an item stored with its defaults written out (the earlier form) the same way', async () => {
    // Prepare: the item as earlier versions wrote it (nulls, false and empty lists present).
    const old = { ...BARE, namespace: 'old' };
    await dynamo.doc.send(
      new PutCommand({
        TableName: table,
        Item: {
          ...old,
          rev: 3,
          workloadKey: workloadKey(old.cluster, old.namespace, old.workload),
          entryKey: entryKey(old),
          clusterSort: `old#Deployment#web#${entryKey(old)}`,
        },
      }),
    );

    // Act
    const read = await store.get('prod', 'old', old.workload, old);

    // Assess
    expect(read).toEqual({ entry: old, rev: 3 });
  });

  it('an emptied verdict leaves the item without a violations attribute', async () => {
    // Prepare
    const entry = { ...FULL, namespace: 'verdict' };
    await store.importEntries([entry]);

    // Act
    const first = firstRevision(entry);
    const done = await store.setViolations(entry, first, []);

    // Assess
    expect(done).toBe(true);
    expect(await raw(entry)).not.toHaveProperty('violations');
    expect((await store.get('prod', 'verdict', entry.workload, entry))?.entry.violations).toEqual(
      [],
    );
    expect(await store.setViolations(entry, first + 1, FULL.violations)).toBe(true);
    expect((await raw(entry))?.violations).toEqual(FULL.violations);
  });

  it('finds a repository under its own host and under the hosts it is judged as', async () => {
    // Prepare: a pull-through cache's image is stored under its upstream's host.
    const cache = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/docker-hub/library/nginx';
    const viaCache = {
      ...FULL,
      namespace: 'cache',
      image: `${cache}:1.27`,
      reference: `${cache}:1.27`,
      repository: cache,
      registry: 'docker.io',
    };
    const direct = {
      ...FULL,
      namespace: 'direct',
      image: 'nginx:1.27',
      reference: 'docker.io/library/nginx:1.27',
      repository: 'docker.io/library/nginx',
      registry: 'docker.io',
    };
    const other = { ...direct, namespace: 'other', cluster: 'staging' };
    await store.importEntries([viaCache, direct, other]);
    const found = async (filter: Parameters<InventoryStore['query']>[0]) => {
      const out: string[] = [];
      for await (const s of store.query(filter))
        out.push(`${s.entry.cluster}/${s.entry.namespace}`);
      return out.sort();
    };

    // Act
    const ownHost = await found({ repository: cache });
    const judged = await found({ repository: cache, registries: ['Docker.IO'] });
    const plain = await found({ repository: 'docker.io/library/nginx' });
    const inProd = await found({ repository: 'docker.io/library/nginx', cluster: 'prod' });

    // Assess
    expect(ownHost).toEqual([]);
    expect(judged).toEqual(['prod/cache']);
    expect(plain).toEqual(['prod/direct', 'staging/other']);
    expect(inProd).toEqual(['prod/direct']);
  });
});
