/**
 * Local tables kept in a data folder (`regwatch local --data`) may come from an earlier
 * regwatch whose indexes differ from `TABLES` (the inventory's `byRepository` went into
 * `byRegistry`). dynalite cannot add or drop an index of a table, so such a table is rebuilt
 * under its name with every item kept: copied to `<name>.migrating` (marked complete by one
 * last item), dropped, created again, copied back. Each step can be interrupted; the next
 * start finds where it stopped (which tables exist, whether the copy is marked) and resumes:
 * a table is dropped only once a complete copy of its items exists. The deployed tables are CloudFormation's: this never runs against them.
 */
import {
  type AttributeValue,
  BatchWriteItemCommand,
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  GetItemCommand,
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

/** Every key attribute of the table set to this: the item that says a copy is complete. */
export const COMPLETE = '#regwatch-migration-complete';

function completeMark(input: TableInput): Record<string, AttributeValue> {
  const wanted = input('x');
  const mark: Record<string, AttributeValue> = {};
  for (const key of wanted.KeySchema ?? []) {
    const type = wanted.AttributeDefinitions?.find((a) => a.AttributeName === key.AttributeName);
    if (!key.AttributeName || type?.AttributeType !== 'S')
      throw new ConflictError(`rebuilding a table: key ${key.AttributeName} is not a string`);
    mark[key.AttributeName] = { S: COMPLETE };
  }
  return mark;
}

function isMark(item: Record<string, AttributeValue>, mark: Record<string, AttributeValue>) {
  return Object.keys(mark).every((k) => item[k]?.S === COMPLETE);
}

async function putAll(
  client: DynamoDBClient,
  to: string,
  items: readonly Record<string, AttributeValue>[],
): Promise<void> {
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
}

/**
 * Copies every item of `from` into `to` as stored (puts: a repeated copy is harmless), the
 * completion mark left out; whether `from` held the mark.
 */
async function copy(
  client: DynamoDBClient,
  from: string,
  to: string,
  mark: Record<string, AttributeValue>,
): Promise<{ copied: number; marked: boolean }> {
  let copied = 0;
  let marked = false;
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: from,
        Limit: 500,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    const items: Record<string, AttributeValue>[] = [];
    for (const item of page.Items ?? []) {
      if (isMark(item, mark)) marked = true;
      else items.push(item);
    }
    await putAll(client, to, items);
    copied += items.length;
    start = page.LastEvaluatedKey;
  } while (start);
  return { copied, marked };
}

/** Whether the copy holds the completion mark (written only once every item is in it). */
async function isComplete(
  client: DynamoDBClient,
  temp: string,
  mark: Record<string, AttributeValue>,
): Promise<boolean> {
  const out = await client.send(new GetItemCommand({ TableName: temp, Key: mark }));
  return out.Item !== undefined;
}

/**
 * Makes table `name` match `input`, keeping its items: nothing when it already does (or does
 * not exist: the caller creates it). Returns how many items a rebuild carried over, or null
 * when there was nothing to do. The table is dropped only once its copy is complete (marked);
 * a copy without the mark is one that stopped half-way, and the table still holds everything.
 */
export async function migrateTable(
  client: DynamoDBClient,
  input: TableInput,
  name: string,
): Promise<number | null> {
  const temp = `${name}${MIGRATING_SUFFIX}`;
  const mark = completeMark(input);
  let table = await describe(client, name);
  if ((await describe(client, temp)) !== undefined) {
    if (await isComplete(client, temp, mark)) return finish(client, input, name, temp, mark);
    // Stopped while copying out: start the copy again.
    await drop(client, temp);
    table = await describe(client, name);
  }
  if (!table || matchesDefinition(input, table)) return null;
  await create(client, input, temp);
  await copy(client, name, temp, mark);
  await putAll(client, temp, [mark]);
  return finish(client, input, name, temp, mark);
}

/** From a complete copy: the table made again (dropped first if it is still the old one). */
async function finish(
  client: DynamoDBClient,
  input: TableInput,
  name: string,
  temp: string,
  mark: Record<string, AttributeValue>,
): Promise<number> {
  const table = await describe(client, name);
  if (table && !matchesDefinition(input, table)) await drop(client, name);
  if (!table || !matchesDefinition(input, table)) await create(client, input, name);
  const { copied } = await copy(client, temp, name, mark);
  await drop(client, temp);
  return copied;
}
