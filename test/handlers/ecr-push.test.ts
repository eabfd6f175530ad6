import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DescribeRepositoriesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { FindingsStore } from '../../lambdas/adapters/dynamodb/findings.ts';
import { ImagesStore } from '../../lambdas/adapters/dynamodb/images.ts';
import type { LocalDynamo } from '../helpers/dynalite.ts';
import { SHARED_FIXTURES } from '../helpers/fixtures.ts';
import { startHandlerEnv } from './commons/handler-env.ts';
import { lambdaContext } from './commons/lambda-context.ts';
import { sqsRecord } from './commons/sqs-record.ts';

const FIXTURES = path.join(SHARED_FIXTURES, 'eventbridge');
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/scan-check';
const DIGEST = `sha256:${'c0ffee00'.repeat(8)}`;

const ecrMock = mockClient(ECRClient);
const sqsMock = mockClient(SQSClient);

let dynamo: LocalDynamo;
let images: ImagesStore;
let findings: FindingsStore;
let handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

beforeAll(async () => {
  const started = await startHandlerEnv({
    SCAN_CHECK_QUEUE_URL: QUEUE,
    SCAN_TIMEOUT_MINUTES: '30',
    FINDINGS_TTL_DAYS: '0',
  });
  dynamo = started.dynamo;
  images = new ImagesStore(dynamo.doc, started.names.images);
  findings = new FindingsStore(dynamo.doc, started.names.findings);
  handler = (await import('../../lambdas/handlers/ecr-push.ts')).handler;
});

afterAll(async () => {
  vi.unstubAllEnvs();
  ecrMock.restore();
  sqsMock.restore();
  await dynamo.stop();
});

beforeEach(() => {
  ecrMock.reset();
  sqsMock.reset();
  ecrMock.on(DescribeRepositoriesCommand).resolves({
    repositories: [{ repositoryName: 'my-repository-name', imageTagMutability: 'MUTABLE' }],
  });
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
});

const record = (messageId: string, body: string) =>
  sqsRecord(messageId, body, 'arn:aws:sqs:eu-west-1:123456789012:ecr-push');

const sample = readFileSync(
  path.join(FIXTURES, 'ecr-image-action-push-success.awsdocs.json'),
  'utf8',
);
/** AWS's sample with a digest that can exist. */
const realPush = sample.replace(/sha256:[0-9a-f]{60}/, DIGEST);

describe('ecr-push handler', () => {
  it('one batch: a real push is handled, the AWS sample rejected and acknowledged, garbage failed alone', async () => {
    // Act
    const response = await handler(
      {
        Records: [
          record('good', realPush),
          record('sample', sample),
          record('garbage', '{"hello":'),
          record('no-envelope', JSON.stringify({ detail: {} })),
        ],
      },
      lambdaContext('ecr-push'),
    );

    // Assess: only the records of the wrong shape are retried (then dead-lettered).
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([
      'garbage',
      'no-envelope',
    ]);
    const repository = '123456789012.dkr.ecr.us-west-2.amazonaws.com/my-repository-name';
    expect(await images.get(repository, DIGEST)).toMatchObject({
      tags: ['latest'],
      pushedAt: '2019-11-16T01:54:34.000Z',
      tagMutability: 'MUTABLE',
    });
    // The allowlist table is empty: nothing is trusted, so the push is a finding.
    const stored = [];
    for await (const f of findings.query({})) stored.push(f);
    expect(stored.map((f) => [f.rule, f.namespace, f.cluster])).toEqual([
      ['untrusted-source', 'my-repository-name', 'ecr:123456789012:us-west-2'],
    ]);
    // The first scan check, per the contract's message shape.
    const sent = sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.QueueUrl).toBe(QUEUE);
    expect(sent[0]?.DelaySeconds).toBeLessThanOrEqual(60);
    expect(JSON.parse(sent[0]?.MessageBody ?? '')).toMatchObject({
      type: 'scan-check',
      registryId: '123456789012',
      region: 'us-west-2',
      repositoryName: 'my-repository-name',
      imageDigest: DIGEST,
      pushedAt: '2019-11-16T01:54:34.000Z',
      attempt: 1,
    });
  });

  it('a redelivered batch counts nothing twice and starts no second scan-check chain', async () => {
    const response = await handler(
      { Records: [record('good-again', realPush)] },
      lambdaContext('ecr-push'),
    );
    expect(response.batchItemFailures).toEqual([]);
    const stored = [];
    for await (const f of findings.query({})) stored.push(f);
    expect(stored.map((f) => f.count)).toEqual([1]);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('a failing AWS call fails only its record', async () => {
    sqsMock.on(SendMessageCommand).rejects(new Error('throttled'));
    const other = realPush
      .replace(DIGEST, `sha256:${'d'.repeat(64)}`)
      .replace('13cde686-328b-6117-af20-0e5566167482', 'another-event');
    const response = await handler(
      { Records: [record('fails', other), record('sample-2', sample)] },
      lambdaContext('ecr-push'),
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'fails' }]);
  });
});
