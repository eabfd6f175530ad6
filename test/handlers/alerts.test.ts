import { createHash } from 'node:crypto';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type {
  Context,
  DynamoDBBatchResponse,
  DynamoDBRecord,
  DynamoDBStreamEvent,
} from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { FindingsStore } from '../../lambdas/adapters/dynamodb/findings.ts';
import { FindingsStreamWarnings } from '../../lambdas/adapters/dynamodb/warning-marks.ts';
import { parseFindingAlert } from '../../lambdas/adapters/sns.ts';
import { expiryWarning } from '../../lambdas/core/alerts/expiry-warning.ts';
import type { FindingCandidate } from '../../lambdas/core/types.ts';
import { ALERT_STREAM_FILTERS } from '../../lib/regwatch-stack.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';
import { lambdaContext, TEST_ENV } from './commons/lambda-context.ts';

const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:regwatch-alerts';
const BUS = 'regwatch';

const snsMock = mockClient(SNSClient);
const eventsMock = mockClient(EventBridgeClient);

let dynamo: LocalDynamo;
let table: string;
let store: FindingsStore;
let handler: (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse>;
let ALERT_MARK_PREFIX: string;

beforeAll(async () => {
  dynamo = await startDynalite();
  table = (await freshTables(dynamo)).findings;
  store = new FindingsStore(dynamo.doc, table);
  for (const [key, value] of Object.entries(TEST_ENV)) vi.stubEnv(key, value);
  vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', dynamo.endpoint);
  vi.stubEnv('FINDINGS_TABLE', table);
  vi.stubEnv('ALERTS_TOPIC_ARN', TOPIC);
  vi.stubEnv('EVENT_BUS_NAME', BUS);
  vi.stubEnv('MIN_ALERT_SEVERITY', 'medium');
  const module = await import('../../lambdas/handlers/alerts.ts');
  handler = module.handler;
  ALERT_MARK_PREFIX = module.ALERT_MARK_PREFIX;
});

afterAll(async () => {
  vi.unstubAllEnvs();
  snsMock.restore();
  eventsMock.restore();
  await dynamo.stop();
});

beforeEach(() => {
  snsMock.reset();
  eventsMock.reset();
  snsMock.on(PublishCommand).resolves({ MessageId: 'sns-message-1' });
  eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'ev-1' }] });
});

/* ------------------------------------------------------------ helpers */

let counter = 0;

function candidate(seed: string, over: Partial<FindingCandidate> = {}): FindingCandidate {
  return {
    fingerprint: createHash('sha256').update(seed).digest('hex'),
    cluster: 'prod-eu',
    namespace: 'payments',
    workload: { kind: 'Deployment', name: 'api' },
    container: 'app',
    containerKind: 'container',
    image: 'evil.example.com/app:1.0',
    reference: 'evil.example.com/app:1.0',
    repository: 'evil.example.com/app',
    digest: null,
    rule: 'untrusted-source',
    severity: 'high',
    message: 'evil.example.com is not an allowed registry',
    matchedRule: null,
    actor: {
      username: 'alice',
      groups: ['system:authenticated'],
      sourceIPs: ['10.0.0.1'],
      userAgent: 'kubectl/v1.31.0',
      auditID: 'audit-1',
    },
    source: 'audit',
    observedAt: '2025-06-01T10:00:00Z',
    eventId: `event-${seed}-1`,
    ...over,
  };
}

/** The item exactly as the findings store wrote it. */
async function storedItem(fingerprint: string): Promise<Record<string, unknown>> {
  const out = await dynamo.doc.send(new GetCommand({ TableName: table, Key: { fingerprint } }));
  if (!out.Item) throw new Error(`no item ${fingerprint}`);
  return out.Item;
}

function image(item: Record<string, unknown>) {
  return marshall(item, { removeUndefinedValues: true }) as Record<string, never>;
}

/** A stream record as Lambda delivers it (NEW_AND_OLD_IMAGES). */
function streamRecord(
  eventName: 'INSERT' | 'MODIFY',
  newItem: Record<string, unknown>,
  oldItem?: Record<string, unknown>,
): DynamoDBRecord {
  counter += 1;
  return {
    eventID: `event-${counter}`,
    eventName,
    eventSource: 'aws:dynamodb',
    awsRegion: 'eu-west-1',
    dynamodb: {
      Keys: image({ fingerprint: newItem.fingerprint }),
      NewImage: image(newItem),
      ...(oldItem ? { OldImage: image(oldItem) } : {}),
      SequenceNumber: String(counter).padStart(21, '0'),
      SizeBytes: 512,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

async function newFinding(seed: string, over: Partial<FindingCandidate> = {}) {
  const result = await store.upsert(candidate(seed, over), { now: new Date() });
  expect(result.outcome).toBe('new');
  return streamRecord('INSERT', await storedItem(result.finding.fingerprint));
}

function invoke(...records: DynamoDBRecord[]) {
  return handler({ Records: records }, lambdaContext('alerts'));
}

/* ------------------------------------------------------------ tests */

describe('alerts handler', () => {
  it('publishes a new finding once to SNS with filterable attributes and once to EventBridge', async () => {
    // Prepare
    const record = await newFinding('insert', {
      image: `evil.example.com/${'very-long-path/'.repeat(8)}app:1.0`,
    });

    // Act
    const response = await invoke(record);

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const published = snsMock.commandCalls(PublishCommand);
    expect(published).toHaveLength(1);
    const input = published[0]?.args[0].input;
    expect(input?.TopicArn).toBe(TOPIC);
    expect(input?.MessageAttributes).toEqual({
      severity: { DataType: 'String', StringValue: 'high' },
      rule: { DataType: 'String', StringValue: 'untrusted-source' },
      cluster: { DataType: 'String', StringValue: 'prod-eu' },
      outcome: { DataType: 'String', StringValue: 'new' },
    });
    expect(input?.Subject?.length).toBeLessThan(100);
    expect(input?.Subject).toMatch(/^regwatch: New high untrusted-source in prod-eu\/payments: /);
    const alert = parseFindingAlert(JSON.parse(input?.Message ?? ''));
    expect(alert.outcome).toBe('new');
    expect(alert.finding.status).toBe('OPEN');
    expect(alert.finding).not.toHaveProperty('rev');

    const put = eventsMock.commandCalls(PutEventsCommand);
    expect(put).toHaveLength(1);
    const entry = put[0]?.args[0].input.Entries?.[0];
    expect(entry).toMatchObject({ EventBusName: BUS, Source: 'regwatch', DetailType: 'Finding' });
    expect(parseFindingAlert(JSON.parse(entry?.Detail ?? '')).finding.fingerprint).toBe(
      alert.finding.fingerprint,
    );
  });

  it('does not publish again when the same stream record is redelivered', async () => {
    // Prepare
    const record = await newFinding('redelivery');
    await invoke(record);
    // A burst of sightings rewrites the finding item between delivery and redelivery.
    await store.upsert(candidate('redelivery', { eventId: 'event-redelivery-2' }), {
      now: new Date(),
    });

    // Act
    const response = await invoke(record);

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(1);
    expect(eventsMock.commandCalls(PutEventsCommand)).toHaveLength(1);
  });

  it('does not notify people below the minimum severity, but emits the event once', async () => {
    // Prepare
    const record = await newFinding('low', { severity: 'low' });

    // Act
    const response = await invoke(record);
    const redelivered = await invoke(record);

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(redelivered.batchItemFailures).toEqual([]);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(0);
    expect(eventsMock.commandCalls(PutEventsCommand)).toHaveLength(1);
  });

  it('reports a record whose event EventBridge refused, and retries only that channel', async () => {
    // Prepare
    const refused = await newFinding('refused');
    const fine = await newFinding('fine');
    const refusedFingerprint = candidate('refused').fingerprint;
    eventsMock.on(PutEventsCommand).callsFake((input) =>
      input.Entries[0].Detail.includes(refusedFingerprint)
        ? {
            FailedEntryCount: 1,
            Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }],
          }
        : { FailedEntryCount: 0, Entries: [{ EventId: 'ev-fine' }] },
    );

    // Act
    const first = await invoke(refused, fine);
    eventsMock
      .on(PutEventsCommand)
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'ev-2' }] });
    const retry = await invoke(refused, fine);

    // Assess
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: refused.dynamodb?.SequenceNumber }]);
    expect(retry.batchItemFailures).toEqual([]);
    // SNS took both the first time; the retry only re-sent the refused event.
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(2);
    const details = eventsMock
      .commandCalls(PutEventsCommand)
      .map((c) => c.args[0].input.Entries?.[0]?.Detail ?? '');
    expect(details.filter((d) => d.includes(refusedFingerprint))).toHaveLength(2);
    expect(details).toHaveLength(3);
  });

  it('fails a malformed record alone', async () => {
    // Prepare
    const good = await newFinding('good');
    const broken = streamRecord('INSERT', {
      fingerprint: 'f'.repeat(64),
      status: 'OPEN',
      severity: 'extreme',
    });

    // Act
    const response = await invoke(broken, good);

    // Assess
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: broken.dynamodb?.SequenceNumber },
    ]);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(1);
    expect(eventsMock.commandCalls(PutEventsCommand)).toHaveLength(1);
  });

  it('alerts a reopened finding as reopened and ignores other modifications', async () => {
    // Prepare
    const seed = 'reopen';
    const first = await store.upsert(candidate(seed), { now: new Date('2025-06-01T10:05:00Z') });
    const fingerprint = first.finding.fingerprint;
    const open = await storedItem(fingerprint);
    await store.setStatus(fingerprint, {
      status: 'RESOLVED',
      by: 'bob',
      at: '2025-06-01T11:00:00Z',
      reason: 'image replaced',
    });
    const resolved = await storedItem(fingerprint);
    const again = await store.upsert(
      candidate(seed, { eventId: 'event-reopen-2', observedAt: '2025-06-02T09:00:00Z' }),
      { now: new Date('2025-06-02T09:00:05Z') },
    );
    expect(again.outcome).toBe('reopened');
    const reopened = await storedItem(fingerprint);

    // Act
    const response = await invoke(
      streamRecord('MODIFY', reopened, resolved),
      streamRecord('MODIFY', open, open),
    );

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const published = snsMock.commandCalls(PublishCommand);
    expect(published).toHaveLength(1);
    expect(published[0]?.args[0].input.MessageAttributes?.outcome?.StringValue).toBe('reopened');
    expect(published[0]?.args[0].input.Subject).toMatch(/^regwatch: Reopened high /);
  });

  it('keeps its alert marks out of the alert stream and out of finding queries', async () => {
    // Prepare
    const record = await newFinding('mark');
    await invoke(record);
    const fingerprint = candidate('mark').fingerprint;
    const markKey = `${ALERT_MARK_PREFIX}${fingerprint}#new#2025-06-01T10:00:00.000Z`;
    const mark = await storedItem(markKey);
    const markInsert = streamRecord('INSERT', mark);

    // Act
    const matches = (r: DynamoDBRecord) =>
      ALERT_STREAM_FILTERS.some((f) => matchesPattern(JSON.parse(f.pattern as string), r));
    const response = await invoke(markInsert);
    const listed = [];
    for await (const f of store.query({ cluster: 'prod-eu' })) listed.push(f.fingerprint);

    // Assess
    expect(mark).toMatchObject({ snsMessageId: 'sns-message-1', eventId: 'ev-1', attempts: 1 });
    expect(mark).not.toHaveProperty('status');
    expect(matches(record)).toBe(true); // the matcher is not vacuous
    expect(matches(markInsert)).toBe(false);
    expect(response.batchItemFailures).toEqual([]);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(1);
    expect(listed).toContain(fingerprint);
    expect(listed.some((f) => f.startsWith(ALERT_MARK_PREFIX))).toBe(false);
  });
});

/**
 * Lambda event filtering for the pattern forms the stack uses: objects nest, arrays list the
 * accepted values, and a field named by the pattern must exist in the event.
 */
function matchesPattern(pattern: unknown, value: unknown): boolean {
  if (Array.isArray(pattern)) return pattern.some((accepted) => accepted === value);
  if (pattern === null || typeof pattern !== 'object') return false;
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(pattern).every(([key, inner]) =>
    matchesPattern(inner, (value as Record<string, unknown>)[key]),
  );
}

describe('alerts handler: expiry warnings (issue 11)', () => {
  /** A warning as the reconciler writes it (`FindingsStreamWarnings`). */
  async function warningItem(severity: 'high' | 'low', id = `rule-${++counter}`) {
    const expiresAt = '2025-06-08T10:00:00.000Z';
    const warning = expiryWarning(
      { id, registry: 'ghcr.io', repository: 'tools/**', expiresAt },
      { severities: { 'expired-exception': severity } },
      {
        dependents: [
          {
            cluster: 'prod-eu',
            namespace: 'ops',
            workload: { kind: 'Deployment', name: '<!channel> api' },
            container: 'app',
            image: 'ghcr.io/tools/jq:1',
          },
        ],
        total: 1,
        complete: true,
      },
      new Date('2025-06-01T10:00:00Z'),
      7,
    );
    const key = await new FindingsStreamWarnings(dynamo.doc, table).send(warning);
    return { key, item: await storedItem(key) };
  }

  it('publishes a warning once to SNS and EventBridge, and the filters pass only its INSERT', async () => {
    // Prepare
    const { item } = await warningItem('high');
    const insert = streamRecord('INSERT', item);
    const rewrite = streamRecord('MODIFY', item, item);
    const matches = (r: DynamoDBRecord) =>
      ALERT_STREAM_FILTERS.some((f) => matchesPattern(JSON.parse(f.pattern as string), r));

    // Act: the record, its redelivery, and a rewrite of the item
    const first = await invoke(insert);
    const again = await invoke(insert, rewrite);

    // Assess
    expect(first.batchItemFailures).toEqual([]);
    expect(again.batchItemFailures).toEqual([]);
    expect(matches(insert)).toBe(true);
    expect(matches(rewrite)).toBe(false);
    const published = snsMock.commandCalls(PublishCommand).map((c) => c.args[0].input);
    expect(published).toHaveLength(1);
    expect(published[0]?.MessageAttributes?.outcome?.StringValue).toBe('expiry-warning');
    expect(published[0]?.MessageAttributes?.cluster).toEqual({
      DataType: 'String.Array',
      StringValue: '["prod-eu"]',
    });
    expect(JSON.parse(published[0]?.Message ?? '{}')).toMatchObject({
      kind: 'regwatch.expiry-warning',
      total: 1,
    });
    const events = eventsMock.commandCalls(PutEventsCommand).map((c) => c.args[0].input);
    expect(events).toHaveLength(1);
    expect(events[0]?.Entries?.[0]).toMatchObject({
      Source: 'regwatch',
      DetailType: 'Expiry Warning',
    });
  });

  it('below the minimum severity: an EventBridge event, no SNS message', async () => {
    const { item } = await warningItem('low');
    const out = await invoke(streamRecord('INSERT', item));
    expect(out.batchItemFailures).toEqual([]);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(0);
    expect(eventsMock.commandCalls(PutEventsCommand)).toHaveLength(1);
  });

  it('fails a malformed warning record alone', async () => {
    const { item } = await warningItem('high');
    const broken = {
      ...item,
      fingerprint: 'expiry-warning#broken@x',
      warning: { kind: 'regwatch.expiry-warning' },
    };
    const out = await invoke(streamRecord('INSERT', broken), streamRecord('INSERT', item));
    expect(out.batchItemFailures).toHaveLength(1);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(1);
  });
});
