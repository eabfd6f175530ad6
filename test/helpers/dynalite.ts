/**
 * An in-memory DynamoDB (dynalite) on 127.0.0.1, one per test file: start it in `beforeAll`,
 * `stop()` it in `afterAll`.
 */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { regwatchTables } from '../../lambdas/adapters/dynamodb/index.ts';
import type { InventoryStore } from '../../lambdas/adapters/dynamodb/inventory.ts';
import { LocalInventoryStore } from '../../lambdas/adapters/dynamodb/inventory-local.ts';
import {
  createTables,
  LOCAL_TABLE_NAMES,
  type TableNames,
} from '../../lambdas/adapters/dynamodb/schema.ts';

// dynalite ships no type declarations: load it through require with the signature we use.
const dynalite = createRequire(import.meta.url)('dynalite') as (options: {
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}) => Server;

export interface LocalDynamo {
  endpoint: string;
  /** Low-level client (table management). */
  client: DynamoDBClient;
  /** Document client, what the stores take. */
  doc: DynamoDBDocumentClient;
  stop(): Promise<void>;
}

export async function startDynalite(): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    // dynalite answers at once; no retries keeps a real failure visible in the test.
    maxAttempts: 1,
  });
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
  return {
    endpoint,
    client,
    doc,
    async stop() {
      client.destroy();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}

let tableCounter = 0;

/** Creates the tables under fresh names, so tests in one file do not see each other. */
export async function freshTables(dynamo: LocalDynamo): Promise<TableNames> {
  tableCounter += 1;
  const names: TableNames = {
    allowlist: `${LOCAL_TABLE_NAMES.allowlist}-${tableCounter}`,
    findings: `${LOCAL_TABLE_NAMES.findings}-${tableCounter}`,
    images: `${LOCAL_TABLE_NAMES.images}-${tableCounter}`,
    inventory: `${LOCAL_TABLE_NAMES.inventory}-${tableCounter}`,
  };
  await createTables(dynamo.client, names);
  return names;
}

/** Which Inventory adapter a test keeps: the Lambdas' conditional one or local mode's. */
export type InventoryAdapter = 'conditional' | 'local';

/** Fresh tables, the stores over them, and the inventory through `adapter`. */
export async function freshStores(dynamo: LocalDynamo, adapter: InventoryAdapter) {
  const names = await freshTables(dynamo);
  const tables = regwatchTables(dynamo.doc, names);
  const inventory: InventoryStore =
    adapter === 'local'
      ? await LocalInventoryStore.load(dynamo.doc, names.inventory)
      : tables.inventory;
  return { names, tables, inventory };
}
