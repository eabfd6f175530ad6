/**
 * The regwatch tables as plain data: one source of truth for `createTables` (local
 * mode, tests) and for the CDK stack, which maps these objects onto `TableV2` props.
 * See docs/data-model.md for the access pattern each key and index serves.
 */
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
  type KeySchemaElement,
  ResourceInUseException,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { migrateTable } from './schema-migrate.ts';

export type AttributeType = 'S' | 'N' | 'B';

export interface KeyDefinition {
  name: string;
  type: AttributeType;
}

export type Projection =
  | { type: 'ALL' }
  | { type: 'KEYS_ONLY' }
  | { type: 'INCLUDE'; nonKeyAttributes: readonly string[] };

export interface IndexDefinition {
  name: string;
  partitionKey: KeyDefinition;
  sortKey?: KeyDefinition;
  projection: Projection;
  /** The question this index answers (documentation only). */
  serves: string;
}

export interface TableDefinition {
  /** Appended to the stack's prefix to name the table (`<prefix>-<nameSuffix>`). */
  nameSuffix: string;
  partitionKey: KeyDefinition;
  sortKey?: KeyDefinition;
  globalSecondaryIndexes: readonly IndexDefinition[];
  /** Epoch-seconds attribute DynamoDB TTL deletes on; absent when the table never expires. */
  timeToLiveAttribute?: string;
}

export const TABLE_IDS = ['allowlist', 'findings', 'images', 'inventory'] as const;
export type TableId = (typeof TABLE_IDS)[number];
export type TableNames = Record<TableId, string>;

export const LOCAL_TABLE_NAMES: TableNames = {
  allowlist: 'regwatch-allowlist',
  findings: 'regwatch-findings',
  images: 'regwatch-images',
  inventory: 'regwatch-inventory',
};

/**
 * Writes to the status index are spread over this many partitions per status
 * (`OPEN#0` … `OPEN#3`) so one busy status cannot exceed a partition's write limit; readers
 * merge the shards by sort key. Changing it needs a backfill of `statusShard`.
 */
export const STATUS_SHARDS = 4;

/** Index names, exported so the stores and the stack agree without string copies. */
export const FINDINGS_INDEX = {
  byStatus: 'byStatus',
  byScope: 'byScope',
  byCluster: 'byCluster',
  byRepository: 'byRepository',
  byDigest: 'byDigest',
  byActor: 'byActor',
  byId: 'byId',
} as const;

export const IMAGES_INDEX = {
  byRepository: 'byRepository',
  scanPending: 'scanPending',
} as const;

export const INVENTORY_INDEX = {
  byCluster: 'byCluster',
  byDigest: 'byDigest',
  byRegistry: 'byRegistry',
} as const;

const S = (name: string): KeyDefinition => ({ name, type: 'S' });
const SEEN_KEY = S('seenKey');

export const TABLES = {
  allowlist: {
    nameSuffix: 'allowlist',
    // One item per rule plus the `#meta` item (document settings and version counter).
    partitionKey: S('id'),
    globalSecondaryIndexes: [],
  },
  findings: {
    nameSuffix: 'findings',
    partitionKey: S('fingerprint'),
    globalSecondaryIndexes: [
      {
        name: FINDINGS_INDEX.byStatus,
        partitionKey: S('statusShard'),
        sortKey: SEEN_KEY,
        projection: { type: 'ALL' },
        serves: 'findings with a status, newest first; all findings (every status merged)',
      },
      {
        name: FINDINGS_INDEX.byScope,
        partitionKey: S('scopeKey'),
        sortKey: SEEN_KEY,
        projection: { type: 'ALL' },
        serves: 'findings in one cluster and namespace, newest first',
      },
      {
        name: FINDINGS_INDEX.byCluster,
        partitionKey: S('cluster'),
        sortKey: SEEN_KEY,
        projection: { type: 'ALL' },
        serves: 'findings in one cluster (any namespace), newest first',
      },
      {
        name: FINDINGS_INDEX.byRepository,
        partitionKey: S('repositoryKey'),
        sortKey: SEEN_KEY,
        projection: { type: 'ALL' },
        serves: 'findings for an image repository, newest first (sparse: unparseable images)',
      },
      {
        name: FINDINGS_INDEX.byDigest,
        partitionKey: S('digestKey'),
        sortKey: SEEN_KEY,
        projection: { type: 'ALL' },
        serves: 'findings for an image digest, newest first (sparse: no digest known)',
      },
      {
        name: FINDINGS_INDEX.byActor,
        partitionKey: S('actorKey'),
        sortKey: SEEN_KEY,
        projection: { type: 'ALL' },
        serves: 'findings last caused by a user, newest first (sparse: no actor known)',
      },
      {
        name: FINDINGS_INDEX.byId,
        partitionKey: S('idShard'),
        sortKey: S('id'),
        projection: { type: 'KEYS_ONLY' },
        serves: 'short id or id prefix to fingerprint (`findings show 3f2a9c`)',
      },
    ],
    timeToLiveAttribute: 'expiresAt',
  },
  images: {
    nameSuffix: 'images',
    // The pod side knows a digest first: digest-keyed, repository as the sort key.
    partitionKey: S('digest'),
    sortKey: S('repository'),
    globalSecondaryIndexes: [
      {
        name: IMAGES_INDEX.byRepository,
        partitionKey: S('repository'),
        sortKey: S('digest'),
        projection: { type: 'ALL' },
        serves: 'every known digest of a repository',
      },
      {
        name: IMAGES_INDEX.scanPending,
        partitionKey: S('scanPendingKey'),
        sortKey: S('scanPendingSince'),
        projection: { type: 'ALL' },
        serves: 'images whose scan is still pending, oldest first (sparse: only PENDING)',
      },
    ],
  },
  inventory: {
    nameSuffix: 'inventory',
    // One partition per workload: a template write or a delete reads and rewrites it whole.
    partitionKey: S('workloadKey'),
    sortKey: S('entryKey'),
    globalSecondaryIndexes: [
      {
        name: INVENTORY_INDEX.byCluster,
        partitionKey: S('cluster'),
        sortKey: S('clusterSort'),
        projection: { type: 'ALL' },
        serves:
          'what runs in a cluster; in one namespace (begins_with `namespace#`); resync sweeps',
      },
      {
        name: INVENTORY_INDEX.byDigest,
        partitionKey: S('digestKey'),
        sortKey: S('workloadKey'),
        projection: { type: 'ALL' },
        serves: 'where a digest runs (scan results reach running workloads; sparse: no digest)',
      },
      {
        // One index for two questions: a registry's entries (the partition) and a
        // repository's (the partition of its host, filtered on repositoryKey). One index item
        // fewer per write than an index each; the key schema is the one `byRegistry` always
        // had, so a deployed stack upgrades in one update (one index dropped, none changed).
        // docs/design-decisions.md.
        name: INVENTORY_INDEX.byRegistry,
        partitionKey: S('registryKey'),
        sortKey: S('workloadKey'),
        projection: { type: 'ALL' },
        serves:
          'what a rule for one registry host can affect (one-rule re-judgement); where a repository runs (its host, filtered on repositoryKey); sparse: unparseable images',
      },
    ],
  },
} as const satisfies Record<TableId, TableDefinition>;

/** The `CreateTable` request for one definition (on-demand billing). */
export function createTableInput(def: TableDefinition, tableName: string): CreateTableCommandInput {
  const attributes = new Map<string, AttributeType>();
  const keyOf = (pk: KeyDefinition, sk?: KeyDefinition) => {
    attributes.set(pk.name, pk.type);
    const schema: KeySchemaElement[] = [{ AttributeName: pk.name, KeyType: 'HASH' }];
    if (sk) {
      attributes.set(sk.name, sk.type);
      schema.push({ AttributeName: sk.name, KeyType: 'RANGE' });
    }
    return schema;
  };
  const keySchema = keyOf(def.partitionKey, def.sortKey);
  const gsis = def.globalSecondaryIndexes.map((index) => ({
    IndexName: index.name,
    KeySchema: keyOf(index.partitionKey, index.sortKey),
    Projection:
      index.projection.type === 'INCLUDE'
        ? {
            ProjectionType: 'INCLUDE' as const,
            NonKeyAttributes: [...index.projection.nonKeyAttributes],
          }
        : { ProjectionType: index.projection.type },
  }));
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: keySchema,
    AttributeDefinitions: [...attributes].map(([AttributeName, AttributeType]) => ({
      AttributeName,
      AttributeType,
    })),
    ...(gsis.length > 0 ? { GlobalSecondaryIndexes: gsis } : {}),
  };
}

/**
 * Creates the tables (an existing table is kept, rebuilt first if its indexes changed since:
 * `schema-migrate.ts`) and waits until each is ACTIVE.
 * For local mode and tests: the deployed tables come from the CDK stack. TTL is not
 * switched on here because the local emulator does not implement it.
 */
export async function createTables(
  client: DynamoDBClient,
  names: TableNames,
  options: {
    maxWaitSeconds?: number;
    /** Told when a kept table was rebuilt to today's indexes, with the items it carried. */
    onMigrated?: (table: string, items: number) => void;
  } = {},
): Promise<void> {
  for (const id of TABLE_IDS) {
    // Kept from an earlier run (a data folder): rebuilt if its indexes changed since, or a
    // rebuild that was interrupted is finished.
    const carried = await migrateTable(
      client,
      (name) => createTableInput(TABLES[id], name),
      names[id],
    );
    if (carried !== null) options.onMigrated?.(names[id], carried);
    try {
      await client.send(new CreateTableCommand(createTableInput(TABLES[id], names[id])));
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
  }
  await Promise.all(
    TABLE_IDS.map((id) =>
      waitUntilTableExists(
        { client, maxWaitTime: options.maxWaitSeconds ?? 60, minDelay: 1, maxDelay: 2 },
        { TableName: names[id] },
      ),
    ),
  );
}
