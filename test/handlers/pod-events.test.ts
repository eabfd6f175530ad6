import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PodEvent, trimPod } from '../../lambdas/core/kube/pod-event.ts';
import { SHARED_FIXTURES } from '../helpers/fixtures.ts';
import { lambdaContext } from './commons/lambda-context.ts';
import { type IngestEnv, startIngestEnv } from './ingest-env.ts';

const FIXTURES = path.join(SHARED_FIXTURES, 'audit-events/constructed');

type Handler = (event: SQSEvent, context: unknown) => Promise<SQSBatchResponse>;
let env: IngestEnv;
let handler: Handler;

beforeAll(async () => {
  env = await startIngestEnv();
  ({ handler } = (await import('../../lambdas/handlers/pod-events.ts')) as unknown as {
    handler: Handler;
  });
});
afterAll(async () => {
  await env.stop();
});

/**
 * A pod event as the forwarder sends it, built from the constructed fixture's real-shaped pod
 * (the storefront-web pod: an ECR image and a Docker Hub memcached).
 */
function storefrontPodEvent(): PodEvent {
  const first = readFileSync(path.join(FIXTURES, 'eks-audit-events.jsonl'), 'utf8').split(
    '\n',
  )[0] as string;
  const pod = (JSON.parse(first) as { responseObject: unknown }).responseObject;
  return {
    cluster: 'orion-prod-euc1',
    observedAt: '2025-06-02T08:14:31Z',
    reason: 'added',
    pod: trimPod(pod),
  };
}

let messages = 0;
/** An SQS record whose body is the whole EventBridge event, as the queue target delivers it. */
function record(detail: unknown, over: Record<string, unknown> = {}, rawBody?: string): SQSRecord {
  messages++;
  const event = {
    version: '0',
    id: `eb-${messages}`,
    'detail-type': 'Pod Event',
    source: 'regwatch.forwarder',
    account: '444455556666',
    time: '2025-06-02T08:14:32Z',
    region: 'eu-central-1',
    resources: [],
    detail,
    ...over,
  };
  return {
    messageId: `msg-${messages}`,
    receiptHandle: `receipt-${messages}`,
    body: rawBody ?? JSON.stringify(event),
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '1748852072000',
      SenderId: 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: '1748852072001',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-central-1:444455556666:regwatch-PodEventsQueue',
    awsRegion: 'eu-central-1',
  };
}

const invoke = (...records: SQSRecord[]) =>
  handler({ Records: records }, lambdaContext('pod-events'));
const failedIds = (response: SQSBatchResponse) =>
  response.batchItemFailures.map((f) => f.itemIdentifier).sort();

describe('pod-events handler', () => {
  it('records findings and fails only the invalid records of a batch', async () => {
    // Prepare
    const good = record(storefrontPodEvent());
    const noUid = storefrontPodEvent();
    noUid.pod.metadata.uid = '';
    const invalid = record(noUid);
    const otherSource = record(storefrontPodEvent(), { source: 'aws.ecr' });
    const notJson = record(null, {}, 'not json at all');

    // Act
    const response = await invoke(good, invalid, otherSource, notJson);
    const findings = await env.allFindings();

    // Assess
    expect(failedIds(response)).toEqual(
      [invalid.messageId, otherSource.messageId, notJson.messageId].sort(),
    );
    expect(
      findings.map((f) => [
        f.cluster,
        f.namespace,
        f.workload.kind,
        f.workload.name,
        f.container,
        f.rule,
        f.source,
      ]),
    ).toEqual([
      [
        'orion-prod-euc1',
        'web',
        'Deployment',
        'storefront-web',
        'cache',
        'untrusted-source',
        'forwarder',
      ],
    ]);
  });

  it('counts a redelivered message and a second put of the same event once', async () => {
    // Prepare: the same pod event, once as a redelivery and once under a new EventBridge id.
    const before = await env.allFindings();
    const redelivered = record(storefrontPodEvent(), { id: 'eb-1' });
    const putTwice = record(storefrontPodEvent());

    // Act
    const response = await invoke(redelivered, putTwice);
    const after = await env.allFindings();

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(after.map((f) => [f.fingerprint, f.count])).toEqual(
      before.map((f) => [f.fingerprint, f.count]),
    );
  });

  it('counts the same pod again once its digests are known (a new sighting)', async () => {
    // Prepare: the running pod reports the digest it pulled for each container.
    const running = storefrontPodEvent();
    running.reason = 'running';
    running.pod.status = {
      phase: 'Running',
      containerStatuses: running.pod.spec.containers.map((c) => ({
        name: c.name,
        image: c.image,
        imageID: `docker-pullable://${c.image.split('@')[0]}@sha256:${'ab'.repeat(32)}`,
      })),
    };

    // Act
    const response = await invoke(record(running));
    const cache = (await env.allFindings()).filter((f) => f.container === 'cache');

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(cache.map((f) => f.count)).toEqual([2]);
  });

  it('fails the records when the store fails, so SQS delivers them again', async () => {
    // Prepare
    await env.dynamo.client.send(new DeleteTableCommand({ TableName: process.env.FINDINGS_TABLE }));
    const first = record(storefrontPodEvent());
    const other = storefrontPodEvent();
    other.pod.metadata.uid = 'another-pod-uid';
    const second = record(other);

    // Act
    const result = invoke(first, second);

    // Assess: with every record failed, Powertools fails the invocation (the whole batch
    // returns to the queue) rather than listing each record.
    await expect(result).rejects.toThrow(/All records failed/);
  });
});
