import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DescribeImageScanFindingsCommand, ECRClient } from '@aws-sdk/client-ecr';
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
const DIGEST = `sha256:${'5ca1ab1e'.repeat(8)}`;
const REPOSITORY = '123456789012.dkr.ecr.us-east-2.amazonaws.com/amazon/amazon-ecs-sample';

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
    VULNERABLE_SEVERITY_THRESHOLD: 'critical',
    FINDINGS_TTL_DAYS: '30',
  });
  dynamo = started.dynamo;
  images = new ImagesStore(dynamo.doc, started.names.images);
  findings = new FindingsStore(dynamo.doc, started.names.findings);
  handler = (await import('../../lambdas/handlers/scan-status.ts')).handler;
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
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
});

const record = (messageId: string, body: string) =>
  sqsRecord(messageId, body, 'arn:aws:sqs:eu-west-1:123456789012:scan-check');

const read = (name: string) => readFileSync(path.join(FIXTURES, name), 'utf8');
const inspectorScanSample = read('inspector2-scan-initial-scan-complete.awsdocs.json');
const inspectorFindingSample = read('inspector2-finding-ecr-package-vulnerability.awsdocs.json');
const realInspectorScan = inspectorScanSample.replace(/sha256:[0-9a-fA-Z]+EXAMPLE/, DIGEST);

describe('scan-status handler', () => {
  it('Inspector samples are rejected and acknowledged; a real scan is recorded with a finding', async () => {
    const response = await handler(
      {
        Records: [
          record('scan-sample', inspectorScanSample),
          record('finding-sample', inspectorFindingSample),
          record('scan-real', realInspectorScan),
          record('other', JSON.stringify({ type: 'something-else' })),
        ],
      },
      lambdaContext('scan-status'),
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'other' }]);
    expect(await images.get(REPOSITORY, DIGEST)).toMatchObject({
      scanStatus: 'COMPLETE',
      scanSource: 'inspector2-event',
      severityCounts: { CRITICAL: 7, HIGH: 61, MEDIUM: 62 },
    });
    const stored = [];
    for await (const f of findings.query({})) stored.push(f);
    expect(stored.map((f) => [f.rule, f.severity, f.message])).toEqual([
      ['vulnerable-image', 'critical', `digest ${DIGEST} has 7 CRITICAL`],
    ]);
  });

  it('a scan check past the deadline with no result records scan-missing; an invalid check fails alone', async () => {
    ecrMock
      .on(DescribeImageScanFindingsCommand)
      .rejects(Object.assign(new Error('none'), { name: 'ScanNotFoundException' }));
    const check = {
      type: 'scan-check',
      registryId: '123456789012',
      region: 'eu-west-1',
      repositoryName: 'team/app',
      imageDigest: `sha256:${'e'.repeat(64)}`,
      pushedAt: '2020-01-01T00:00:00Z',
      attempt: 6,
    };
    const response = await handler(
      {
        Records: [
          record('check', JSON.stringify(check)),
          record('bad-check', JSON.stringify({ ...check, attempt: 0 })),
        ],
      },
      lambdaContext('scan-status'),
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'bad-check' }]);
    expect(
      await images.get('123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app', check.imageDigest),
    ).toMatchObject({ scanStatus: 'MISSING', scanSource: 'scan-check' });
    const missing = [];
    for await (const f of findings.query({ namespace: 'team/app' })) missing.push(f);
    expect(missing.map((f) => f.rule)).toEqual(['scan-missing']);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('a scan check under enhanced scanning is answered by ECR alone: counts paged, finding raised', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    ecrMock
      .on(DescribeImageScanFindingsCommand)
      .resolvesOnce({
        imageScanStatus: { status: 'ACTIVE' },
        imageScanFindings: {
          imageScanCompletedAt: new Date('2025-03-01T10:04:00Z'),
          enhancedFindings: [{ severity: 'CRITICAL', status: 'ACTIVE' }],
        },
        nextToken: 'summary',
      })
      .resolvesOnce({
        imageScanStatus: { status: 'ACTIVE' },
        imageScanFindings: {
          enhancedFindings: [
            { severity: 'CRITICAL', status: 'ACTIVE' },
            { severity: 'MEDIUM', status: 'ACTIVE' },
          ],
        },
        nextToken: 'p2',
      })
      .resolvesOnce({
        imageScanStatus: { status: 'ACTIVE' },
        imageScanFindings: { enhancedFindings: [{ severity: 'CRITICAL', status: 'CLOSED' }] },
      });
    const check = {
      type: 'scan-check',
      registryId: '123456789012',
      region: 'eu-west-1',
      repositoryName: 'team/enhanced',
      imageDigest: digest,
      pushedAt: new Date().toISOString(),
      attempt: 1,
    };
    const response = await handler(
      { Records: [record('enhanced', JSON.stringify(check))] },
      lambdaContext('scan-status'),
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(
      await images.get('123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/enhanced', digest),
    ).toMatchObject({
      scanStatus: 'COMPLETE',
      scanSource: 'ecr-api',
      severityCounts: { CRITICAL: 1, MEDIUM: 1, HIGH: 0, LOW: 0 },
    });
    const raised = [];
    for await (const f of findings.query({ namespace: 'team/enhanced' })) raised.push(f);
    expect(raised.map((f) => [f.rule, f.severity, f.message])).toEqual([
      ['vulnerable-image', 'critical', `digest ${digest} has 1 CRITICAL`],
    ]);
    expect(ecrMock.commandCalls(DescribeImageScanFindingsCommand)).toHaveLength(3);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });
});
