import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  ListTablesCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InventoryStore, toItem } from '../../../lambdas/adapters/dynamodb/inventory.ts';
import {
  createTableInput,
  createTables,
  TABLES,
  type TableDefinition,
  type TableNames,
} from '../../../lambdas/adapters/dynamodb/schema.ts';
import {
  COMPLETE,
  MIGRATING_SUFFIX,
  matchesDefinition,
} from '../../../lambdas/adapters/dynamodb/schema-migrate.ts';
import type { InventoryEntry } from '../../../lambdas/core/inventory.ts';
import { type LocalDynamo, startDynalite } from '../../helpers/dynalite.ts';

const S = (name: string) => ({ name, type: 'S' as const });

/** The inventory table as regwatch made it before `byRepository` went into `byRegistry`. */
const EARLIER_INVENTORY: TableDefinition = {
  nameSuffix: 'inventory',
  partitionKey: S('workloadKey'),
  sortKey: S('entryKey'),
  globalSecondaryIndexes: [
    {
      name: 'byCluster',
      partitionKey: S('cluster'),
      sortKey: S('clusterSort'),
      projection: { type: 'ALL' },
      serves: '',
    },
    {
      name: 'byDigest',
      partitionKey: S('digestKey'),
      sortKey: S('workloadKey'),
      projection: { type: 'ALL' },
      serves: '',
    },
    {
      name: 'byRepository',
      partitionKey: S('repositoryKey'),
      sortKey: S('workloadKey'),
      projection: { type: 'ALL' },
      serves: '',
    },
    {
      name: 'byRegistry',
      partitionKey: S('registryKey'),
      sortKey: S('workloadKey'),
      projection: { type: 'ALL' },
      serves: '',
    },
  ],
};

function entry(i: number, image: string, reference: string | null): InventoryEntry {
  const repository = reference === null ? null : reference.replace(/:[^/:]+$/, '');
  return {
    cluster: 'prod',
    namespace: `ns-${i % 3}`,
    workload: { kind: 'Deployment', name: `web-${i}` },
    container: 'app',
    containerKind: 'container',
    image,
    reference,
    repository,
    registry: repository === null ? null : (repository.split('/')[0] ?? null),
    digests: [`sha256:${String(i).padStart(64, '0')}`],
    sources: ['forwarder'],
    firstSeen: '2026-01-10T10:00:00.000Z',
    lastSeen: '2026-01-10T10:00:00.000Z',
    actor: null,
    pods: [`web-${i}-abc`],
    template: false,
    violations: [],
  };
}

const ENTRIES = [
  ...Array.from({ length: 60 }, (_, i) =>
    entry(i, `quay.io/acme/web:${i}`, `quay.io/acme/web:${i}`),
  ),
  entry(60, 'docker.io/library/redis:7', 'docker.io/library/redis:7'),
  entry(61, 'Not A Reference', null),
];

let counter = 0;
function names(): TableNames {
  counter++;
  return {
    allowlist: `m-allowlist-${counter}`,
    findings: `m-findings-${counter}`,
    images: `m-images-${counter}`,
    inventory: `m-inventory-${counter}`,
  };
}

describe('createTables on tables kept from an earlier version', () => {
  let dynamo: LocalDynamo;
  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(() => dynamo.stop());

  /** Creates a table and waits until it takes writes. */
  async function create(def: TableDefinition, table: string): Promise<void> {
    await dynamo.client.send(new CreateTableCommand(createTableInput(def, table)));
    await waitUntilTableExists(
      { client: dynamo.client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 },
      { TableName: table },
    );
  }

  /** An inventory table with the earlier indexes, holding ENTRIES and a bookkeeping item. */
  async function earlierInventory(table: string): Promise<Record<string, unknown>[]> {
    await create(EARLIER_INVENTORY, table);
    const items = [
      ...ENTRIES.map((e) => toItem(e, 2)),
      { workloadKey: '#resync#prod', entryKey: '#', resyncId: 'pass-1', startedAt: 'x' },
    ];
    for (const Item of items) await dynamo.doc.send(new PutCommand({ TableName: table, Item }));
    return items;
  }

  async function scan(table: string): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await dynamo.doc.send(
        new ScanCommand({ TableName: table, ...(start ? { ExclusiveStartKey: start } : {}) }),
      );
      out.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    const id = (i: Record<string, unknown>) => `${i.workloadKey}\u0000${i.entryKey}`;
    return out.sort((a, b) => (id(a) < id(b) ? -1 : 1));
  }

  const sorted = (items: Record<string, unknown>[]) =>
    [...items].sort((a, b) =>
      `${a.workloadKey}\u0000${a.entryKey}` < `${b.workloadKey}\u0000${b.entryKey}` ? -1 : 1,
    );

  async function tableNames(): Promise<string[]> {
    return (await dynamo.client.send(new ListTablesCommand({}))).TableNames ?? [];
  }

  async function described(table: string) {
    const out = await dynamo.client.send(new DescribeTableCommand({ TableName: table }));
    if (!out.Table) throw new Error(`no table ${table}`);
    return out.Table;
  }

  it('rebuilds a table whose indexes changed, keeping every item, and says so', async () => {
    // Prepare
    const n = names();
    const items = await earlierInventory(n.inventory);
    const told: [string, number][] = [];

    // Act
    await createTables(dynamo.client, n, { onMigrated: (t, count) => told.push([t, count]) });

    // Assess
    const inventoryInput = (name: string) => createTableInput(TABLES.inventory, name);
    expect(matchesDefinition(inventoryInput, await described(n.inventory))).toBe(true);
    expect(await scan(n.inventory)).toEqual(sorted(items));
    expect(told).toEqual([[n.inventory, items.length]]);
    expect(await tableNames()).not.toContain(`${n.inventory}${MIGRATING_SUFFIX}`);
    // The merged index answers both questions on the carried items.
    const store = new InventoryStore(dynamo.doc, n.inventory);
    const byRepo = [];
    for await (const s of store.query({ repository: 'docker.io/library/redis' })) byRepo.push(s);
    expect(byRepo.map((s) => s.entry)).toEqual([ENTRIES[60]]);
    const byHost = [];
    for await (const s of store.byRegistry('QUAY.IO')) byHost.push(s);
    expect(byHost).toHaveLength(60);
  });

  it('leaves a table that already has its indexes alone', async () => {
    // Prepare
    const n = names();
    await createTables(dynamo.client, n);
    const store = new InventoryStore(dynamo.doc, n.inventory);
    await store.importEntries(ENTRIES.slice(0, 3));
    const told: string[] = [];

    // Act
    await createTables(dynamo.client, n, { onMigrated: (t) => told.push(t) });

    // Assess
    expect(told).toEqual([]);
    expect(await scan(n.inventory)).toHaveLength(3);
  });

  it('finishes a rebuild stopped after the table was dropped', async () => {
    // Prepare: the complete (marked) copy exists and the table is gone.
    const n = names();
    const temp = `${n.inventory}${MIGRATING_SUFFIX}`;
    const items = await earlierInventory(temp);
    await dynamo.doc.send(
      new PutCommand({ TableName: temp, Item: { workloadKey: COMPLETE, entryKey: COMPLETE } }),
    );

    // Act
    await createTables(dynamo.client, n);

    // Assess
    expect(await scan(n.inventory)).toEqual(sorted(items));
    expect(await tableNames()).not.toContain(temp);
  });

  it('finishes a rebuild stopped while the earlier table was being dropped', async () => {
    // Prepare: a complete copy, and the earlier table still there with part of its items.
    const n = names();
    const temp = `${n.inventory}${MIGRATING_SUFFIX}`;
    const items = await earlierInventory(temp);
    await dynamo.doc.send(
      new PutCommand({ TableName: temp, Item: { workloadKey: COMPLETE, entryKey: COMPLETE } }),
    );
    await create(EARLIER_INVENTORY, n.inventory);
    await dynamo.doc.send(new PutCommand({ TableName: n.inventory, Item: items[0] }));

    // Act
    await createTables(dynamo.client, n);

    // Assess
    const inventoryInput = (name: string) => createTableInput(TABLES.inventory, name);
    expect(matchesDefinition(inventoryInput, await described(n.inventory))).toBe(true);
    expect(await scan(n.inventory)).toEqual(sorted(items));
    expect(await tableNames()).not.toContain(temp);
  });

  it('starts a rebuild again that stopped while copying out', async () => {
    // Prepare: the earlier table is whole; the copy holds only part of it.
    const n = names();
    const items = await earlierInventory(n.inventory);
    const temp = `${n.inventory}${MIGRATING_SUFFIX}`;
    await create(TABLES.inventory, temp);
    await dynamo.doc.send(new PutCommand({ TableName: temp, Item: items[0] }));

    // Act
    await createTables(dynamo.client, n);

    // Assess
    expect(await scan(n.inventory)).toEqual(sorted(items));
    expect(await tableNames()).not.toContain(temp);
    await dynamo.client.send(new DeleteTableCommand({ TableName: n.inventory }));
  });
});
