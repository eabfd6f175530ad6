/** The DynamoDB stores and table definitions, and one call that builds every store. */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AllowlistStore, type AllowlistStoreOptions } from './allowlist.ts';
import type { InvalidItemHandler } from './common.ts';
import { FindingsStore } from './findings.ts';
import { ImagesStore } from './images.ts';
import { InventoryStore } from './inventory.ts';
import type { TableNames } from './schema.ts';

export {
  type AllowlistDiff,
  type AllowlistSnapshot,
  AllowlistStore,
  CachedAllowlist,
  type CachedAllowlistOptions,
} from './allowlist.ts';
export type { InvalidItemHandler, InvalidItemReport } from './common.ts';
export {
  type FindingFilter,
  type FindingPage,
  FindingsStore,
  findingId,
  type QueryPlan,
  STATUS_TRANSITIONS,
} from './findings.ts';
export {
  ecrRepository,
  ImagesStore,
  type PushInput,
  registryOf,
  type ScanInput,
  type ScanResult,
} from './images.ts';
export {
  type AppliedPlan,
  type InventoryFilter,
  type InventoryPage,
  InventoryStore,
  type StoredEntry,
} from './inventory.ts';
export {
  createTables,
  INVENTORY_INDEX,
  LOCAL_TABLE_NAMES,
  TABLE_IDS,
  TABLES,
  type TableDefinition,
  type TableId,
  type TableNames,
} from './schema.ts';

export interface RegwatchTables {
  findings: FindingsStore;
  allowlist: AllowlistStore;
  images: ImagesStore;
  inventory: InventoryStore;
  /** The document client the stores share. */
  doc: DynamoDBDocumentClient;
}

/** A document client over `client` that drops `undefined` values when marshalling. */
export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** The stores over one client (a low-level client is wrapped in a document client). */
export function regwatchTables(
  client: DynamoDBDocumentClient | DynamoDBClient,
  names: TableNames,
  options: { onInvalid?: InvalidItemHandler; allowlist?: AllowlistStoreOptions } = {},
): RegwatchTables {
  const doc = client instanceof DynamoDBDocumentClient ? client : documentClient(client);
  return {
    doc,
    findings: new FindingsStore(doc, names.findings, { onInvalid: options.onInvalid }),
    allowlist: new AllowlistStore(doc, names.allowlist, options.allowlist),
    images: new ImagesStore(doc, names.images, { onInvalid: options.onInvalid }),
    inventory: new InventoryStore(doc, names.inventory, { onInvalid: options.onInvalid }),
  };
}
