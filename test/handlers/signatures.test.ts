/**
 * The real `ecr-push` and `scan-status` handlers with a `requireSignature` rule for AWS Signer:
 * the push schedules a signature check after the grace period; `scan-status` runs it with
 * `DescribeImageSigningStatus` (aws-sdk-client-mock) and records what fails.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  DescribeImageSigningStatusCommand,
  DescribeRepositoriesCommand,
  ECRClient,
} from '@aws-sdk/client-ecr';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { AllowlistStore } from '../../lambdas/adapters/dynamodb/allowlist.ts';
import { FindingsStore } from '../../lambdas/adapters/dynamodb/findings.ts';
import type { LocalDynamo } from '../helpers/dynalite.ts';
import { SHARED_FIXTURES } from '../helpers/fixtures.ts';
import { startHandlerEnv } from './commons/handler-env.ts';
import { lambdaContext } from './commons/lambda-context.ts';
import { sqsRecord } from './commons/sqs-record.ts';

const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/scan-check';
const PROFILE = 'arn:aws:signer:us-west-2:123456789012:/signing-profiles/release';
const OTHER = 'arn:aws:signer:us-west-2:123456789012:/signing-profiles/dev';
const ecrMock = mockClient(ECRClient);
const sqsMock = mockClient(SQSClient);

let dynamo: LocalDynamo;
let findings: FindingsStore;
let ecrPush: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
let scanStatus: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

const record = (messageId: string, body: string) =>
  sqsRecord(messageId, body, 'arn:aws:sqs:eu-west-1:123456789012:q');

const sample = readFileSync(
  path.join(SHARED_FIXTURES, 'eventbridge', 'ecr-image-action-push-success.awsdocs.json'),
  'utf8',
);
const pushOf = (digest: string) => sample.replace(/sha256:[0-9a-f]{60}/, digest);

beforeAll(async () => {
  const started = await startHandlerEnv({
    SCAN_CHECK_QUEUE_URL: QUEUE,
    SCAN_TIMEOUT_MINUTES: '30',
    SIGNATURE_GRACE_SECONDS: '240',
  });
  dynamo = started.dynamo;
  const names = started.names;
  findings = new FindingsStore(dynamo.doc, names.findings);
  await new AllowlistStore(dynamo.doc, names.allowlist).applyDiff({
    version: 1,
    rules: [
      {
        id: 'signed-ecr',
        registry: '123456789012.dkr.ecr.*.amazonaws.com',
        requireSignature: [{ awsSigner: { profileArns: [PROFILE] } }],
      },
    ],
  });
  ecrPush = (await import('../../lambdas/handlers/ecr-push.ts')).handler;
  scanStatus = (await import('../../lambdas/handlers/scan-status.ts')).handler;
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
  ecrMock
    .on(DescribeRepositoriesCommand)
    .resolves({ repositories: [{ imageTagMutability: 'IMMUTABLE' }] });
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
});

async function pushAndCheck(digest: string) {
  const pushed = await ecrPush(
    { Records: [record(`push-${digest}`, pushOf(digest))] },
    lambdaContext('ecr-push'),
  );
  const sent = sqsMock
    .commandCalls(SendMessageCommand)
    .map((c) => c.args[0].input)
    .find((m) => JSON.parse(m.MessageBody ?? '{}').purpose === 'signature');
  const checked = await scanStatus(
    { Records: [record(`check-${digest}`, sent?.MessageBody ?? '')] },
    lambdaContext('scan-status'),
  );
  const stored = [];
  for await (const f of findings.query({})) if (f.digest === digest) stored.push(f);
  return { pushed, sent, checked, stored };
}

describe('AWS Signer through the handlers', () => {
  it('a push schedules the signature check after the grace period; COMPLETE records nothing', async () => {
    // Prepare
    const digest = `sha256:${'a1'.repeat(32)}`;
    ecrMock.on(DescribeImageSigningStatusCommand).resolves({
      signingStatuses: [{ signingProfileArn: PROFILE, status: 'COMPLETE' }],
    });
    // Act
    const { pushed, sent, checked, stored } = await pushAndCheck(digest);
    // Assess
    expect(pushed.batchItemFailures).toEqual([]);
    expect(sent?.DelaySeconds).toBe(240);
    expect(checked.batchItemFailures).toEqual([]);
    expect(stored).toEqual([]);
    expect(ecrMock.commandCalls(DescribeImageSigningStatusCommand)[0]?.args[0].input).toEqual({
      registryId: '123456789012',
      repositoryName: 'my-repository-name',
      imageId: { imageDigest: digest },
    });
  });

  for (const [status, profile, rule, seed] of [
    ['IN_PROGRESS', PROFILE, 'unsigned-image', 'b2'],
    ['FAILED', PROFILE, 'unsigned-image', 'c3'],
    ['COMPLETE', OTHER, 'signature-invalid', 'd4'],
  ] as const) {
    it(`${status} for ${profile === PROFILE ? 'the rule profile' : 'another profile'} is ${rule}`, async () => {
      const digest = `sha256:${seed.repeat(32)}`;
      ecrMock.on(DescribeImageSigningStatusCommand).resolves({
        signingStatuses: [{ signingProfileArn: profile, status, failureReason: 'reason' }],
      });
      const { checked, stored } = await pushAndCheck(digest);
      expect(checked.batchItemFailures).toEqual([]);
      expect(stored.map((f) => [f.rule, f.container, f.severity])).toEqual([
        [rule, 'push', 'high'],
      ]);
    });
  }
});
