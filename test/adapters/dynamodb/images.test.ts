import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { InvalidItemReport } from '../../../lambdas/adapters/dynamodb/common.ts';
import {
  ecrRepository,
  ImagesStore,
  type PushInput,
  registryOf,
  type ScanInput,
} from '../../../lambdas/adapters/dynamodb/images.ts';
import { ValidationError } from '../../../lambdas/core/errors.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../../helpers/dynalite.ts';

let dynamo: LocalDynamo;
let table: string;
let store: ImagesStore;
let invalid: InvalidItemReport[];

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});
beforeEach(async () => {
  table = (await freshTables(dynamo)).images;
  invalid = [];
  store = new ImagesStore(dynamo.doc, table, { onInvalid: (r) => invalid.push(r) });
});

const REPO = ecrRepository('123456789012', 'eu-west-1', 'team/api');
const DIGEST = `sha256:${'d'.repeat(64)}`;

function push(over: Partial<PushInput> = {}): PushInput {
  return {
    repository: REPO,
    digest: DIGEST,
    tag: 'v1',
    pushedAt: '2025-06-01T10:00:00Z',
    tagMutability: 'IMMUTABLE',
    ...over,
  };
}

function scan(over: Partial<ScanInput> = {}): ScanInput {
  return {
    repository: REPO,
    digest: DIGEST,
    status: 'COMPLETE',
    severityCounts: { CRITICAL: 3, HIGH: 1 },
    completedAt: '2025-06-01T10:05:00Z',
    source: 'inspector2-event',
    observedAt: '2025-06-01T10:05:00Z',
    ...over,
  };
}

describe('ImagesStore', () => {
  it('reads registry, account and region from ECR repository names', () => {
    // Act / Assess
    expect(registryOf(REPO)).toEqual({
      registry: '123456789012.dkr.ecr.eu-west-1.amazonaws.com',
      account: '123456789012',
      region: 'eu-west-1',
    });
    expect(registryOf(ecrRepository('123456789012', 'cn-north-1', 'x'))).toMatchObject({
      region: 'cn-north-1',
    });
    expect(registryOf('ghcr.io/org/app')).toEqual({
      registry: 'ghcr.io',
      account: null,
      region: null,
    });
  });

  it('records a push as scan-pending and accumulates tags on re-push', async () => {
    // Act
    await store.recordPush(push());
    await store.recordPush(push({ tag: 'latest', pushedAt: '2025-06-01T11:00:00Z' }));
    const record = await store.recordPush(push({ tag: 'v1', pushedAt: '2025-06-01T09:00:00Z' }));

    // Assess
    expect(record).toEqual({
      repository: REPO,
      digest: DIGEST,
      registry: '123456789012.dkr.ecr.eu-west-1.amazonaws.com',
      account: '123456789012',
      region: 'eu-west-1',
      tags: ['latest', 'v1'],
      pushedAt: '2025-06-01T09:00:00.000Z',
      tagMutability: 'IMMUTABLE',
      scanStatus: 'PENDING',
      severityCounts: null,
      scanCompletedAt: null,
      scanSource: null,
    });
    expect(await store.get(REPO, DIGEST)).toEqual(record);
  });

  it('ends with the same record whichever of push and scan arrives first', async () => {
    // Prepare
    const other = new ImagesStore(dynamo.doc, (await freshTables(dynamo)).images);

    // Act
    await store.recordPush(push());
    await store.recordScan(scan());
    await other.recordScan(scan());
    await other.recordPush(push());

    // Assess
    const a = await store.get(REPO, DIGEST);
    const b = await other.get(REPO, DIGEST);
    expect(a).toEqual(b);
    expect(a).toMatchObject({
      scanStatus: 'COMPLETE',
      severityCounts: { CRITICAL: 3, HIGH: 1, MEDIUM: 0, LOW: 0, INFORMATIONAL: 0, UNDEFINED: 0 },
      scanCompletedAt: '2025-06-01T10:05:00.000Z',
      scanSource: 'inspector2-event',
      tags: ['v1'],
      pushedAt: '2025-06-01T10:00:00.000Z',
    });
  });

  it('keeps the newer scan result when an older one arrives later', async () => {
    // Prepare
    await store.recordScan(
      scan({ observedAt: '2025-06-02T00:00:00Z', severityCounts: { CRITICAL: 0 } }),
    );

    // Act
    const result = await store.recordScan(scan({ observedAt: '2025-06-01T00:00:00Z' }));

    // Assess
    expect(result.applied).toBe(false);
    expect((await store.get(REPO, DIGEST))?.severityCounts?.CRITICAL).toBe(0);
  });

  it('keeps every push when pushes of several tags race', async () => {
    // Act
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.recordPush(push({ tag: `t${i}` }))),
    );

    // Assess
    expect((await store.get(REPO, DIGEST))?.tags).toHaveLength(10);
  });

  it('finds a digest in every repository and prefers the named one', async () => {
    // Prepare
    const mirror = 'ghcr.io/team/api';
    await store.recordPush(push());
    await store.recordPush(push({ repository: mirror }));
    await store.recordScan(scan());

    // Act
    const all = await store.findByDigest(DIGEST);
    const named = await store.lookup(DIGEST, mirror);
    const unnamed = await store.lookup(DIGEST, 'docker.io/library/other');
    const missing = await store.lookup(`sha256:${'0'.repeat(64)}`);

    // Assess
    expect(all.map((r) => r.repository).sort()).toEqual([REPO, mirror].sort());
    expect(named?.repository).toBe(mirror);
    expect(unnamed?.repository).toBe(REPO); // the one with scan results
    expect(missing).toBeUndefined();
    expect((await store.listByRepository(mirror)).map((r) => r.digest)).toEqual([DIGEST]);
  });

  it('lists images still pending a scan, oldest first, from a sparse index', async () => {
    // Prepare
    const digests = ['a', 'b', 'c'].map((c) => `sha256:${c.repeat(64)}`);
    await store.recordPush(push({ digest: digests[0], pushedAt: '2025-06-01T08:00:00Z' }));
    await store.recordPush(push({ digest: digests[1], pushedAt: '2025-06-01T07:00:00Z' }));
    await store.recordPush(push({ digest: digests[2], pushedAt: '2025-06-01T11:00:00Z' }));
    await store.recordPush(push({ pushedAt: '2025-06-01T06:00:00Z' }));
    await store.recordScan(scan()); // DIGEST is no longer pending

    // Act
    const pending = await store.listPendingOlderThan(new Date('2025-06-01T10:00:00Z'));
    const first = await store.listPendingOlderThan(new Date('2025-06-01T10:00:00Z'), 1);

    // Assess
    expect(pending.map((r) => r.digest)).toEqual([digests[1], digests[0]]);
    expect(first.map((r) => r.digest)).toEqual([digests[1]]);
  });

  it("dates a rescan's wait from when it was reported, not from the original push", async () => {
    // Prepare
    await store.recordPush(push({ pushedAt: '2025-06-01T06:00:00Z' }));
    await store.recordScan(scan({ observedAt: '2025-06-01T06:10:00Z' }));

    // Act
    await store.recordScan(
      scan({
        status: 'PENDING',
        severityCounts: null,
        completedAt: null,
        observedAt: '2025-06-03T00:00:00Z',
      }),
    );

    // Assess
    expect(await store.listPendingOlderThan(new Date('2025-06-02T00:00:00Z'))).toEqual([]);
    const later = await store.listPendingOlderThan(new Date('2025-06-03T00:00:01Z'));
    expect(later.map((r) => r.scanStatus)).toEqual(['PENDING']);
  });

  it('refuses malformed input and skips malformed stored items', async () => {
    // Prepare
    await store.recordPush(push());
    await dynamo.doc.send(
      new PutCommand({
        TableName: table,
        Item: { digest: DIGEST, repository: 'ghcr.io/broken/item', scanStatus: 'DONE' },
      }),
    );

    // Act
    const found = await store.findByDigest(DIGEST);

    // Assess
    expect(found.map((r) => r.repository)).toEqual([REPO]);
    expect(invalid.map((r) => r.key.repository)).toEqual(['ghcr.io/broken/item']);
    await expect(store.recordPush(push({ digest: 'latest' }))).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(
      store.recordScan(scan({ repository: 'ghcr.io/broken/item' })),
    ).rejects.toBeInstanceOf(ValidationError);
  });
});
