/**
 * The reconcile handler on dynalite, for each of its event sources: the allowlist table's
 * stream, the reconcile queue (fan-out by cluster) and the two schedules. SQS cannot
 * run here: SQS is mocked, and the queue is drained by feeding what was sent back in.
 */
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, SQSBatchResponse } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type RegwatchTables, regwatchTables } from '../../lambdas/adapters/dynamodb/index.ts';
import { compileAllowlist, parseAllowlist } from '../../lambdas/core/allowlist/index.ts';
import type { AllowlistRule } from '../../lambdas/core/allowlist/schema.ts';
import { classify } from '../../lambdas/handlers/edges/alerts.ts';
import { ingestPodEvents } from '../../lambdas/services/ingest.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';
import { runningPod } from '../helpers/pod-events.ts';
import { lambdaContext, TEST_ENV } from './commons/lambda-context.ts';
import { sqsRecord as makeSqsRecord } from './commons/sqs-record.ts';

const sqsMock = mockClient(SQSClient);
const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/regwatch-ReconcileQueue';

const ALLOWLIST = `version: 1
rules:
  - id: quay
    registry: quay.io
    repository: "vendor/**"
  - id: ghcr-tools
    registry: ghcr.io
    repository: "tools/**"
    expiresAt: "2099-01-10T12:00:00Z"
    owner: platform-team
`;

type Handler = (event: unknown, context: Context) => Promise<unknown>;
let dynamo: LocalDynamo;
let tables: RegwatchTables;
let names: Awaited<ReturnType<typeof freshTables>>;
let handler: Handler;
let sent = 0;
let seq = 0;

function pod(cluster: string, name: string, image: string) {
  return runningPod({ cluster, name, image, namespace: 'ops', uid: `uid-${cluster}-${name}` });
}

/** An allowlist-table stream record as DynamoDB sends it (rule items carry `position`). */
function ruleRecord(
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE',
  id: string,
  images: { old?: Record<string, unknown>; new?: Record<string, unknown> },
): DynamoDBRecord {
  seq++;
  return {
    eventID: `ev-${seq}`,
    eventName,
    eventSource: 'aws:dynamodb',
    awsRegion: 'eu-west-1',
    dynamodb: {
      Keys: { id: { S: id } },
      ...(images.old ? { OldImage: marshall(images.old) as never } : {}),
      ...(images.new ? { NewImage: marshall(images.new) as never } : {}),
      SequenceNumber: String(1000 + seq),
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

const item = (rule: AllowlistRule, position: number) => ({
  ...rule,
  position,
  updatedAt: '2026-01-10T10:00:00Z',
});

function sqsRecord(body: string, id = `m-${++seq}`) {
  return makeSqsRecord(id, body, 'arn:aws:sqs:eu-west-1:123456789012:regwatch-ReconcileQueue');
}

/** Bodies sent to the reconcile queue since the last call. */
function newMessages(): Record<string, unknown>[] {
  const calls = sqsMock.commandCalls(SendMessageBatchCommand);
  const fresh = calls.slice(sent);
  sent = calls.length;
  return fresh.flatMap((c) =>
    (c.args[0].input.Entries ?? []).map(
      (e) => JSON.parse(e.MessageBody ?? '') as Record<string, unknown>,
    ),
  );
}

/** Feeds every queued message back to the handler until the queue is empty. */
async function drain(): Promise<Record<string, unknown>[]> {
  const all: Record<string, unknown>[] = [];
  for (let round = 0; round < 20; round++) {
    const messages = newMessages();
    if (messages.length === 0) return all;
    for (const m of messages) {
      all.push(m);
      const out = (await handler(
        { Records: [sqsRecord(JSON.stringify(m))] },
        lambdaContext('reconcile'),
      )) as SQSBatchResponse;
      expect(out.batchItemFailures).toEqual([]);
    }
  }
  throw new Error('the queue did not drain');
}

async function openFindings() {
  const out = [];
  for await (const f of tables.findings.query({ status: 'OPEN' })) out.push(f);
  return out.map((f) => `${f.cluster}/${f.workload.name}:${f.rule}`).sort();
}

beforeAll(async () => {
  dynamo = await startDynalite();
  names = await freshTables(dynamo);
  for (const [key, value] of Object.entries(TEST_ENV)) vi.stubEnv(key, value);
  vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', dynamo.endpoint);
  vi.stubEnv('FINDINGS_TABLE', names.findings);
  vi.stubEnv('ALLOWLIST_TABLE', names.allowlist);
  vi.stubEnv('IMAGES_TABLE', names.images);
  vi.stubEnv('INVENTORY_TABLE', names.inventory);
  vi.stubEnv('RECONCILE_QUEUE_URL', QUEUE_URL);
  vi.stubEnv('EXCEPTION_WARNING_DAYS', '7');
  handler = (await import('../../lambdas/handlers/reconcile.ts')).handler as unknown as Handler;
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await dynamo.stop();
});

beforeEach(async () => {
  // The handler's stores were built at import over these tables: each test empties them.
  tables = regwatchTables(dynamo.doc, names);
  await clear();
  sqsMock.reset();
  sent = 0;
  sqsMock.on(SendMessageBatchCommand).callsFake((input: { Entries?: { Id?: string }[] }) => ({
    Successful: (input.Entries ?? []).map((e) => ({ Id: e.Id, MessageId: `id-${e.Id}` })),
    Failed: [],
  }));
  const doc = parseAllowlist(ALLOWLIST);
  await tables.allowlist.applyDiff(doc);
  await ingestPodEvents(
    [
      pod('prod', 'agent', 'quay.io/vendor/agent:3'),
      pod('prod', 'jq', 'ghcr.io/tools/jq:1'),
      pod('staging', 'agent', 'quay.io/vendor/agent:3'),
      pod('edge', 'cache', 'docker.io/library/memcached:1'),
    ],
    {
      allowlist: { current: async () => compileAllowlist(doc) },
      findings: tables.findings,
      clock: () => new Date(),
      minAlertSeverity: 'low',
      inventory: { store: tables.inventory, findings: tables.findings },
    },
  );
});

/** Deletes every item of the four tables (the handler keeps its table names). */
async function clear() {
  const { ScanCommand, DeleteCommand } = await import('@aws-sdk/lib-dynamodb');
  const keys: Record<string, string[]> = {
    findings: ['fingerprint'],
    allowlist: ['id'],
    images: ['digest', 'repository'],
    inventory: ['workloadKey', 'entryKey'],
  };
  for (const [id, table] of Object.entries(names)) {
    const out = await dynamo.doc.send(new ScanCommand({ TableName: table }));
    for (const it of out.Items ?? []) {
      const key = Object.fromEntries((keys[id] ?? []).map((k) => [k, it[k]]));
      await dynamo.doc.send(new DeleteCommand({ TableName: table, Key: key }));
    }
  }
}

describe('reconcile handler: the allowlist stream', () => {
  it('a removed rule opens the finding (and it alerts as new) for a workload that did not change', async () => {
    // Prepare: the rule is gone from the table; its stream record carries the old image.
    const rule: AllowlistRule = { id: 'quay', registry: 'quay.io', repository: 'vendor/**' };
    await tables.allowlist.remove('quay');

    // Act
    const out = (await handler(
      { Records: [ruleRecord('REMOVE', 'quay', { old: item(rule, 0) })] },
      lambdaContext('reconcile'),
    )) as DynamoDBBatchResponse;

    // Assess: both clusters' agents, nothing else; no fan-out for a one-host change
    expect(out.batchItemFailures).toEqual([]);
    expect(await openFindings()).toEqual([
      'edge/cache:untrusted-source',
      'prod/agent:untrusted-source',
      'staging/agent:untrusted-source',
    ]);
    expect(newMessages()).toEqual([]);
    // The alerts function's stream sees the new finding as an alert.
    for await (const f of tables.findings.query({ status: 'OPEN' })) {
      if (f.workload.name !== 'agent') continue;
      const stored = await dynamo.doc.send(
        new (await import('@aws-sdk/lib-dynamodb')).GetCommand({
          TableName: names.findings,
          Key: { fingerprint: f.fingerprint },
        }),
      );
      const transition = classify({
        eventName: 'INSERT',
        dynamodb: {
          NewImage: marshall(stored.Item ?? {}, { removeUndefinedValues: true }) as never,
        },
      });
      expect(transition).toMatchObject({ kind: 'alert', outcome: 'new' });
    }
  });

  it('refuses malformed records by sequence number and applies the rest of the batch', async () => {
    // Prepare: a valid removal between a record without its new image and an invalid rule
    const rule: AllowlistRule = { id: 'quay', registry: 'quay.io', repository: 'vendor/**' };
    await tables.allowlist.remove('quay');
    const missingImage = ruleRecord('INSERT', 'x', {});
    const removal = ruleRecord('REMOVE', 'quay', { old: item(rule, 0) });
    const invalidRule = ruleRecord('INSERT', 'bad', {
      new: { id: 'bad', registry: 'docker.io.evil.com/**', position: 3 },
    });
    const notARecord = {
      eventSource: 'aws:dynamodb',
      eventID: 'ev-junk',
      dynamodb: { SequenceNumber: '9' },
    };

    // Act
    const out = (await handler(
      { Records: [missingImage, removal, invalidRule, notARecord] },
      lambdaContext('reconcile'),
    )) as DynamoDBBatchResponse;

    // Assess
    expect(out.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(
      [missingImage.dynamodb?.SequenceNumber, invalidRule.dynamodb?.SequenceNumber, '9'].sort(),
    );
    expect(await openFindings()).toContain('prod/agent:untrusted-source');
  });

  it('a wildcard-host rule fans out one message per cluster, and the consumers apply it', async () => {
    // Prepare: a rule no registry index narrows, allowing memcached from any host
    const rule: AllowlistRule = {
      id: 'any-memcached',
      registry: '**',
      repository: 'library/memcached',
    };
    await tables.allowlist.put(rule);

    // Act
    const out = (await handler(
      { Records: [ruleRecord('INSERT', rule.id, { new: item(rule, 2) })] },
      lambdaContext('reconcile'),
    )) as DynamoDBBatchResponse;
    const messages = await drain();

    // Assess: 3 clusters, 3 messages; edge's memcached is now allowed (resolved)
    expect(out.batchItemFailures).toEqual([]);
    expect(
      messages
        .filter((m) => m.kind === 'cluster')
        .map((m) => m.cluster)
        .sort(),
    ).toEqual(['edge', 'prod', 'staging']);
    expect(await openFindings()).toEqual([]);
    const resolved = [];
    for await (const f of tables.findings.query({ status: 'RESOLVED' })) resolved.push(f);
    expect(resolved.map((f) => [f.workload.name, f.resolution?.reason])).toEqual([
      ['cache', 'now-allowed'],
    ]);
  });

  it('a rule rewritten with the same content and place re-judges nothing', async () => {
    const rule: AllowlistRule = { id: 'quay', registry: 'quay.io', repository: 'vendor/**' };
    const out = (await handler(
      {
        Records: [
          ruleRecord('MODIFY', 'quay', {
            old: item(rule, 0),
            new: { ...item(rule, 0), updatedAt: '2026-01-11T00:00:00Z' },
          }),
        ],
      },
      lambdaContext('reconcile'),
    )) as DynamoDBBatchResponse;
    expect(out.batchItemFailures).toEqual([]);
    expect(newMessages()).toEqual([]);
    expect(await openFindings()).toEqual(['edge/cache:untrusted-source']);
  });
});

describe('reconcile handler: schedules and the queue', () => {
  it('passes fully on its first run (fanned out), then applies a removed rule on the next minute; a healthy sweep changes nothing', async () => {
    // Act
    const first = (await handler({ sweep: false }, lambdaContext('reconcile'))) as Record<
      string,
      unknown
    >;
    const firstMessages = await drain();
    await tables.allowlist.remove('quay');
    const second = await handler({ sweep: false }, lambdaContext('reconcile'));
    const sweep = (await handler({ sweep: true }, lambdaContext('reconcile'))) as Record<
      string,
      unknown
    >;
    const sweepMessages = await drain();

    // Assess
    expect(first).toMatchObject({ causes: ['first-run'], scope: 'full', clusters: 3 });
    expect(firstMessages.map((m) => m.cluster).sort()).toEqual(['edge', 'prod', 'staging']);
    expect(second).toMatchObject({ causes: ['allowlist'], scope: 'registries', changed: 2 });
    expect(sweep).toMatchObject({ causes: ['sweep'], scope: 'full', clusters: 3 });
    expect(sweepMessages).toHaveLength(3);
    // A healthy system's sweep changes nothing: every entry's verdict stands.
    const before = await openFindings();
    expect(before).toEqual([
      'edge/cache:untrusted-source',
      'prod/agent:untrusted-source',
      'staging/agent:untrusted-source',
    ]);
  });

  it('a minute run after a stream-started full pass at the same version does not start another', async () => {
    const rule: AllowlistRule = {
      id: 'any-memcached',
      registry: '**',
      repository: 'library/memcached',
    };
    await handler({ sweep: false }, lambdaContext('reconcile'));
    await drain();
    await tables.allowlist.put(rule);
    await handler(
      { Records: [ruleRecord('INSERT', rule.id, { new: item(rule, 2) })] },
      lambdaContext('reconcile'),
    );
    const byStream = await drain();

    const minute = await handler({ sweep: false }, lambdaContext('reconcile'));

    expect(byStream.filter((m) => m.kind === 'cluster')).toHaveLength(3);
    expect(minute).toMatchObject({ causes: ['allowlist', 'full-pass-under-way'], scope: 'none' });
    expect(newMessages()).toEqual([]);
  });

  it('refuses a malformed queue message by id and handles the others', async () => {
    const good = sqsRecord(
      JSON.stringify({ kind: 'cluster', cluster: 'edge', cause: 't' }),
      'good',
    );
    const junk = sqsRecord('{"kind":"cluster"', 'junk');
    const foreign = sqsRecord(
      JSON.stringify({
        kind: 'cluster',
        cluster: 'edge',
        cause: 't',
        start: { cluster: 'prod', clusterSort: 'x', workloadKey: 'y', entryKey: 'z' },
      }),
      'foreign',
    );
    const out = (await handler(
      { Records: [junk, good, foreign] },
      lambdaContext('reconcile'),
    )) as SQSBatchResponse;
    expect(out.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['foreign', 'junk']);
  });

  it('refuses an event it does not know', async () => {
    await expect(handler({ sweep: 'yes' }, lambdaContext('reconcile'))).rejects.toThrow(
      /not a stream batch, a queue batch or a schedule/,
    );
  });
});

/** The expiry warnings written for the alerts function (items of the findings table). */
async function warningItems(): Promise<Record<string, unknown>[]> {
  const { ScanCommand } = await import('@aws-sdk/lib-dynamodb');
  const out = await dynamo.doc.send(new ScanCommand({ TableName: names.findings }));
  return (out.Items ?? []).filter((i) => String(i.fingerprint).startsWith('expiry-warning#'));
}

describe('reconcile handler: expiry warnings', () => {
  it('warns once per rule and expiresAt, listing the containers that still depend on it', async () => {
    // Prepare: the exception expires in three days (inside the 7-day window)
    const expiresAt = new Date(Date.now() + 3 * 86_400_000).toISOString();
    await tables.allowlist.put({
      id: 'ghcr-tools',
      registry: 'ghcr.io',
      repository: 'tools/**',
      expiresAt,
      owner: 'platform-team',
    });

    // Act: three minute runs, then the expiry moved (a new instant warns again)
    const runs = [];
    for (let i = 0; i < 3; i++)
      runs.push(await handler({ sweep: false }, lambdaContext('reconcile')));
    const later = new Date(Date.now() + 5 * 86_400_000).toISOString();
    await tables.allowlist.put({
      id: 'ghcr-tools',
      registry: 'ghcr.io',
      repository: 'tools/**',
      expiresAt: later,
    });
    const moved = await handler({ sweep: false }, lambdaContext('reconcile'));

    // Assess: one warning item per rule and instant, each an alert for the alerts function
    const items = await warningItems();
    expect(items.map((w) => w.fingerprint).sort()).toEqual(
      [`expiry-warning#ghcr-tools@${expiresAt}`, `expiry-warning#ghcr-tools@${later}`].sort(),
    );
    const first = items.find((w) => w.fingerprint === `expiry-warning#ghcr-tools@${expiresAt}`);
    const transition = classify({
      eventName: 'INSERT',
      dynamodb: { NewImage: marshall(first ?? {}, { removeUndefinedValues: true }) as never },
    });
    expect(transition).toMatchObject({
      kind: 'warning',
      warning: {
        kind: 'regwatch.expiry-warning',
        rule: { id: 'ghcr-tools', expiresAt, owner: 'platform-team' },
        severity: 'high',
        total: 1,
        complete: true,
        dependents: [
          {
            cluster: 'prod',
            namespace: 'ops',
            workload: { kind: 'Pod', name: 'jq' },
            container: 'app',
            image: 'ghcr.io/tools/jq:1',
          },
        ],
      },
    });
    expect(runs.map((r) => (r as { warnings: Record<string, string> }).warnings)).toEqual([
      { [`ghcr-tools@${expiresAt}`]: 'sent' },
      {},
      {},
    ]);
    expect((moved as { warnings: Record<string, string> }).warnings).toEqual({
      [`ghcr-tools@${later}`]: 'sent',
    });
  });

  it('marks a rule nothing depends on without an alert', async () => {
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    await tables.allowlist.put({ id: 'unused', registry: 'gcr.io', expiresAt });
    const first = (await handler({ sweep: false }, lambdaContext('reconcile'))) as {
      warnings: Record<string, string>;
    };
    const second = (await handler({ sweep: false }, lambdaContext('reconcile'))) as {
      warnings: Record<string, string>;
    };
    expect(first.warnings).toEqual({
      [`unused@${expiresAt}`]: 'no-dependents',
      // The other exception is far outside the window.
    });
    expect(second.warnings).toEqual({});
    expect(await warningItems()).toEqual([]);
  });
});
