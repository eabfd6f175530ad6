import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../lambdas/core/types.ts';
import type { AuditLogsOutcome } from '../../lambdas/handlers/eks-audit-logs.ts';
import { SHARED_FIXTURES } from '../helpers/fixtures.ts';
import { lambdaContext } from './commons/lambda-context.ts';
import { type IngestEnv, startIngestEnv } from './ingest-env.ts';

const FIXTURES = path.join(SHARED_FIXTURES, 'audit-events');
const readJson = (file: string): unknown =>
  JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8'));

type Handler = (event: unknown, context: unknown) => Promise<AuditLogsOutcome>;
let env: IngestEnv;
let handler: Handler;

beforeAll(async () => {
  env = await startIngestEnv();
  ({ handler } = (await import('../../lambdas/handlers/eks-audit-logs.ts')) as unknown as {
    handler: Handler;
  });
});
afterAll(async () => {
  await env.stop();
});

const invoke = (event: unknown) => handler(event, lambdaContext('eks-audit-logs'));

/** A subscription event as CloudWatch Logs delivers it, with `messages` as its log events. */
function subscriptionEvent(
  messages: string[],
  over: { logGroup?: string; messageType?: string } = {},
): { awslogs: { data: string } } {
  const data = {
    messageType: over.messageType ?? 'DATA_MESSAGE',
    owner: '444455556666',
    logGroup: over.logGroup ?? '/aws/eks/lab-cluster/cluster',
    logStream: 'kube-apiserver-audit-test',
    subscriptionFilters: ['regwatch-audit'],
    logEvents: messages.map((message, i) => ({
      id: `${1000 + i}`,
      timestamp: 1_748_852_000_000 + i,
      message,
    })),
  };
  return { awslogs: { data: gzipSync(JSON.stringify(data)).toString('base64') } };
}

function ingested(outcome: AuditLogsOutcome) {
  if (outcome.kind !== 'ingested')
    throw new Error(`expected an ingested batch, got ${outcome.kind}`);
  return outcome;
}

const byImage = (findings: Finding[], image: string) => findings.filter((f) => f.image === image);

describe('eks-audit-logs handler', () => {
  it('records the findings of the constructed EKS subscription event, cluster from the log group', async () => {
    // Prepare
    const event = readJson('constructed/eks-cloudwatch-subscription-event.json');

    // Act
    const outcome = ingested(await invoke(event));
    const findings = await env.allFindings();

    // Assess: 4 events; the Metadata-level create carries no images and is only counted.
    expect(outcome.cluster).toBe('orion-prod-euc1');
    expect(outcome.report.received).toBe(4);
    expect(outcome.report.evaluated).toBe(3);
    expect(outcome.report.skipped).toEqual({ 'metadata-only': 1 });
    expect(outcome.report.failed).toEqual([]);
    const memcached = byImage(
      findings,
      'memcached:1.6.26@sha256:5a1c0e9d3f7b2a6c8e4d1f0b9a7c5e3d2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e',
    );
    const netshoot = byImage(findings, 'nicolaka/netshoot:v0.13');
    expect(
      memcached.map((f) => [f.cluster, f.namespace, f.workload.kind, f.workload.name, f.rule]),
    ).toEqual([['orion-prod-euc1', 'web', 'Deployment', 'storefront-web', 'untrusted-source']]);
    expect(
      netshoot.map((f) => [f.namespace, f.workload.name, f.containerKind, f.actor?.username]),
    ).toEqual([
      [
        'billing',
        'invoice-api',
        'ephemeralContainer',
        'arn:aws:sts::444455556666:assumed-role/oncall-engineers/priya.raman',
      ],
    ]);
    // Images from the trusted ECR registry produce no untrusted-source finding.
    expect(
      findings.filter((f) => f.image.includes('.dkr.ecr.') && f.rule === 'untrusted-source'),
    ).toEqual([]);
    expect(outcome.report.findings.new).toBe(findings.length);
  });

  it('changes nothing when the same payload is delivered again (Lambda retry)', async () => {
    // Prepare
    const event = readJson('constructed/eks-cloudwatch-subscription-event.json');
    const before = await env.allFindings();

    // Act
    const outcome = ingested(await invoke(event));
    const after = await env.allFindings();

    // Assess
    expect(outcome.report.findings).toEqual({
      new: 0,
      reopened: 0,
      repeat: 0,
      duplicate: before.length,
    });
    expect(after.map((f) => [f.fingerprint, f.count, f.lastSeen]).sort()).toEqual(
      before.map((f) => [f.fingerprint, f.count, f.lastSeen]).sort(),
    );
  });

  it('counts plain-text messages as not-json without failing (aws-lambda-go vector, EKS log group)', async () => {
    // Prepare: the official test vector's messages, re-encoded under an EKS log group.
    const decoded = readJson('cloudwatch/aws-lambda-go.cloudwatch-logs-event.decoded.json') as {
      logEvents: { message: string }[];
    };
    const event = subscriptionEvent(decoded.logEvents.map((e) => e.message));
    const before = (await env.allFindings()).length;

    // Act
    const outcome = ingested(await invoke(event));

    // Assess
    expect(outcome.notJson).toBe(2);
    expect(outcome.report.evaluated).toBe(0);
    expect(outcome.report.failed).toEqual([]);
    expect((await env.allFindings()).length).toBe(before);
  });

  it('drops a payload whose log group is not an EKS cluster log group (the vector as is)', async () => {
    // Prepare
    const event = readJson('cloudwatch/aws-lambda-go.cloudwatch-logs-event.json');

    // Act
    const outcome = await invoke(event);

    // Assess
    expect(outcome).toEqual({ kind: 'unknown-log-group', logGroup: 'testLogGroup' });
  });

  it('acknowledges a CONTROL_MESSAGE', async () => {
    // Prepare
    const event = subscriptionEvent(
      ['CWL CONTROL MESSAGE: Checking health of destination Lambda.'],
      {
        messageType: 'CONTROL_MESSAGE',
      },
    );

    // Act
    const outcome = await invoke(event);

    // Assess
    expect(outcome).toEqual({ kind: 'control-message' });
  });

  it('logs and drops undecodable payloads instead of throwing (a retry cannot decode them)', async () => {
    // Prepare
    const notGzip = { awslogs: { data: Buffer.from('plain text, not gzip').toString('base64') } };
    const gzipNotJson = { awslogs: { data: gzipSync('not json').toString('base64') } };
    const noAwslogs = { Records: [] };

    // Act
    const outcomes = [await invoke(notGzip), await invoke(gzipNotJson), await invoke(noAwslogs)];

    // Assess
    expect(outcomes.map((o) => o.kind)).toEqual(['undecodable', 'undecodable', 'undecodable']);
    expect(outcomes.map((o) => (o.kind === 'undecodable' ? o.reason : ''))).toEqual([
      expect.stringContaining('not base64-encoded gzip'),
      expect.stringContaining('does not decode to JSON'),
      expect.stringContaining('not a CloudWatch Logs subscription payload'),
    ]);
  });

  it('re-checks the subscription filter: other stages, verbs and failed requests are counted, not evaluated', async () => {
    // Prepare: the two-stage EventList's events plus variants the filter would have dropped.
    const list = readJson('constructed/webhook-eventlist-pod-create-two-stages.json') as {
      items: Record<string, unknown>[];
    };
    const [received, complete] = list.items as [Record<string, unknown>, Record<string, unknown>];
    const get = { ...complete, auditID: 'get-1', verb: 'get' };
    const forbidden = { ...complete, auditID: 'denied-1', responseStatus: { code: 403 } };
    const event = subscriptionEvent(
      [received, complete, get, forbidden].map((e) => JSON.stringify(e)),
    );

    // Act
    const outcome = ingested(await invoke(event));
    const curl = byImage(await env.allFindings(), 'curlimages/curl:8.8.0');

    // Assess
    expect(outcome.report.evaluated).toBe(1);
    expect(outcome.report.skipped).toEqual({ stage: 1, verb: 1, 'failed-request': 1 });
    expect(curl.map((f) => [f.cluster, f.namespace, f.workload.kind, f.count])).toEqual([
      ['lab-cluster', 'qa', 'Pod', 1],
    ]);
  });

  it('counts JSON that is not an audit event as invalid and still records the rest of the batch', async () => {
    // Prepare
    const list = readJson('constructed/webhook-eventlist-pod-create-two-stages.json') as {
      items: Record<string, unknown>[];
    };
    const complete = { ...(list.items[1] as Record<string, unknown>), auditID: 'other-request' };
    const event = subscriptionEvent(
      [JSON.stringify({ hello: 'world' }), JSON.stringify(complete)],
      {
        logGroup: '/aws/eks/second-cluster/cluster',
      },
    );

    // Act
    const outcome = ingested(await invoke(event));

    // Assess
    expect(outcome.report.failed).toEqual([
      { index: 0, error: expect.stringContaining('not an audit event') },
    ]);
    expect(outcome.report.findings.new).toBe(1);
    const curl = byImage(await env.allFindings(), 'curlimages/curl:8.8.0');
    expect(curl.map((f) => f.cluster).sort()).toEqual(['lab-cluster', 'second-cluster']);
  });

  it('throws on a store error so Lambda retries the payload', async () => {
    // Prepare: the findings table disappears (a real DynamoDB error, not a mock).
    await env.dynamo.client.send(new DeleteTableCommand({ TableName: process.env.FINDINGS_TABLE }));
    const event = readJson('constructed/eks-cloudwatch-subscription-event.json');

    // Act
    const result = invoke(event);

    // Assess
    await expect(result).rejects.toThrow(/resource not found|non-existent table|ResourceNotFound/i);
  });
});
