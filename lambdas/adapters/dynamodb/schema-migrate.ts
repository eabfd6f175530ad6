/**
 * Local tables kept in a data folder (`regwatch local --data`) may come from an earlier
 * regwatch whose indexes differ from `TABLES` (the inventory's `byRepository` went into
 * `byRegistry`). dynalite cannot add or drop an index of a table, so such a table is rebuilt
 * under its name with every item kept: copied to `<name>.migrating`, dropped, created again,
 * copied back. Each step can be interrupted; the next start finds where it stopped from which
 * tables exist and resumes (the items are only ever dropped from a table once a complete copy
 * exists). The deployed tables are CloudFormation's: this never runs against them.
 */
import {
  type AttributeValue,
  BatchWriteItemCommand,
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  ScanCommand,
  type TableDescription,
  waitUntilTableExists,
  waitUntilTableNotExists,
} from '@aws-sdk/client-dynamodb';
import { ConflictError } from '../../core/errors.ts';
import { retryPause } from './common.ts';

const BATCH = 25;
const MAX_ATTEMPTS = 32;
const WAIT = { maxWaitTime: 60, minDelay: 1, maxDelay: 2 };

/** The suffix of the copy a rebuild keeps while the table is dropped and made again. */
export const MIGRATING_SUFFIX = '.migrating';

async function describe(
  client: DynamoDBClient,
  name: string,
): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: name }))).Table;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

/** A canonical text of a table's keys and indexes (names, key schemas, projections). */
function shape(
  keySchema: readonly { AttributeName?: string | undefined; KeyType?: string | undefined }[],
  indexes: readonly {
    IndexName?: string | undefined;
    KeySchema?: { AttributeName?: string | undefined; KeyType?: string | undefined }[];
    Projection?: { ProjectionType?: string | undefined; NonKeyAttributes?: string[] };
  }[],
): string {
  const keys = (
    k: readonly { AttributeName?: string | undefined; KeyType?: string | undefined }[],
  ) => k.map((e) => `${e.KeyType}:${e.AttributeName}`).join(',');
  const gsis = indexes
    .map(
      (i) =>
        `${i.IndexName}(${keys(i.KeySchema ?? [])};${i.Projection?.ProjectionType}:${[...(i.Projection?.NonKeyAttributes ?? [])].sort().join(',')})`,
    )
    .sort();
  return `${keys(keySchema)}|${gsis.join('|')}`;
}

/** The `CreateTable` request that makes the table as it should be, under a given name. */
export type TableInput = (name: string) => CreateTableCommandInput;

/** Whether a table as described has the keys and indexes `input` gives it. */
export function matchesDefinition(input: TableInput, table: TableDescription): boolean {
  const wanted = input(table.TableName ?? 'table');
  return (
    shape(wanted.KeySchema ?? [], wanted.GlobalSecondaryIndexes ?? []) ===
    shape(table.KeySchema ?? [], table.GlobalSecondaryIndexes ?? [])
  );
}

async function create(client: DynamoDBClient, input: TableInput, name: string): Promise<void> {
  await client.send(new CreateTableCommand(input(name)));
  await waitUntilTableExists({ client, ...WAIT }, { TableName: name });
}

async function drop(client: DynamoDBClient, name: string): Promise<void> {
  await client.send(new DeleteTableCommand({ TableName: name }));
  await waitUntilTableNotExists({ client, ...WAIT }, { TableName: name });
}

/** Copies every item of `from` into `to` as stored (puts: a repeated copy is harmless). */
async function copy(client: DynamoDBClient, from: string, to: string): Promise<number> {
  let copied = 0;
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: from,
        Limit: 500,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    const items = page.Items ?? [];
    for (let i = 0; i < items.length; i += BATCH) {
      let left = items.slice(i, i + BATCH).map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; left.length > 0; attempt++) {
        if (attempt >= MAX_ATTEMPTS)
          throw new ConflictError(`rebuilding ${to}: ${left.length} item(s) kept failing`);
        if (attempt > 0) await retryPause(attempt);
        const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [to]: left } }));
        left = (out.UnprocessedItems?.[to] ?? []) as typeof left;
      }
    }
    copied += items.length;
    start = page.LastEvaluatedKey;
  } while (start);
  return copied;
}

/**
 * Makes table `name` match `input`, keeping its items: nothing when it already does (or does
 * not exist: the caller creates it). Returns how many items a rebuild carried over, or null
 * when there was nothing to do.
 */
export async function migrateTable(
  client: DynamoDBClient,
  input: TableInput,
  name: string,
): Promise<number | null> {
  const temp = `${name}${MIGRATING_SUFFIX}`;
  const table = await describe(client, name);
  const copyExists = (await describe(client, temp)) !== undefined;
  if (copyExists) {
    if (table && !matchesDefinition(input, table)) {
      // Stopped while copying out: the table still holds everything; start the copy again.
      await drop(client, temp);
    } else {
      // Stopped after the table was dropped: the copy is complete.
      if (!table) await create(client, input, name);
      const carried = await copy(client, temp, name);
      await drop(client, temp);
      return carried;
    }
  }
  if (!table || matchesDefinition(input, table)) return null;
  await create(client, input, temp);
  const carried = await copy(client, name, temp);
  await drop(client, name);
  await create(client, input, name);
  await copy(client, temp, name);
  await drop(client, temp);
  return carried;
}
