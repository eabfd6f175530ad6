import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { regwatchTables } from '../../../lambdas/adapters/dynamodb/index.ts';
import { createTables, TABLE_IDS, TABLES } from '../../../lambdas/adapters/dynamodb/schema.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../../helpers/dynalite.ts';

let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

describe('createTables', () => {
  it('creates every table with the keys and indexes of its definition, ACTIVE', async () => {
    // Prepare / Act
    const names = await freshTables(dynamo);

    // Assess
    for (const id of TABLE_IDS) {
      const { Table } = await dynamo.client.send(
        new DescribeTableCommand({ TableName: names[id] }),
      );
      expect(Table?.TableStatus).toBe('ACTIVE');
      expect(Table?.KeySchema?.[0]).toEqual({
        AttributeName: TABLES[id].partitionKey.name,
        KeyType: 'HASH',
      });
      const indexNames = (Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName).sort();
      expect(indexNames).toEqual(TABLES[id].globalSecondaryIndexes.map((i) => i.name).sort());
    }
  });

  it('keeps existing tables when called again', async () => {
    // Prepare
    const names = await freshTables(dynamo);

    // Act / Assess
    await expect(createTables(dynamo.client, names)).resolves.toBeUndefined();
  });
});

describe('regwatchTables', () => {
  it('builds the three stores over a low-level client and they reach their tables', async () => {
    // Prepare
    const names = await freshTables(dynamo);

    // Act
    const tables = regwatchTables(dynamo.client, names);
    await tables.images.recordPush({
      repository: 'ghcr.io/org/app',
      digest: `sha256:${'e'.repeat(64)}`,
      tag: 'v1',
      pushedAt: '2025-06-01T00:00:00Z',
    });

    // Assess
    expect(await tables.allowlist.loadAll()).toEqual({ version: 1, rules: [] });
    expect(await tables.findings.queryPage({})).toEqual({ items: [] });
    expect(await tables.images.findByDigest(`sha256:${'e'.repeat(64)}`)).toHaveLength(1);
  });
});
