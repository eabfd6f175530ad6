/**
 * Issue 8 §1 through the Lambda batch paths: a record with prototype keys or an unjudgeable
 * write fails only itself; the rest of the webhook `EventList` is recorded (and the 400 names
 * the item), and the rest of an SQS batch succeeds (only that message is retried).
 */

import { gzipSync } from 'node:zlib';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  SQSBatchResponse,
  SQSEvent,
} from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaContext } from '../handlers/commons/lambda-context.ts';
import { sqsRecord } from '../handlers/commons/sqs-record.ts';
import { type IngestEnv, startIngestEnv } from '../handlers/ingest-env.ts';
import { auditEvent, EVIL } from './builders.ts';

type Webhook = (
  e: APIGatewayProxyEventV2,
  c: unknown,
) => Promise<APIGatewayProxyStructuredResultV2>;
type PodEvents = (e: SQSEvent, c: unknown) => Promise<SQSBatchResponse>;
let env: IngestEnv;
let webhook: Webhook;
let podEvents: PodEvents;
type AuditLogs = (
  e: unknown,
  c: unknown,
) => Promise<{ kind: string; report?: { failed: { index: number }[]; findings: { new: number } } }>;
let auditLogs: AuditLogs;

beforeAll(async () => {
  env = await startIngestEnv({ endpointVariable: 'REGWATCH_DYNAMODB_ENDPOINT' });
  ({ handler: webhook } = (await import('../../lambdas/handlers/audit-webhook.ts')) as unknown as {
    handler: Webhook;
  });
  ({ handler: auditLogs } = (await import(
    '../../lambdas/handlers/eks-audit-logs.ts'
  )) as unknown as {
    handler: AuditLogs;
  });
  ({ handler: podEvents } = (await import('../../lambdas/handlers/pod-events.ts')) as unknown as {
    handler: PodEvents;
  });
});
afterAll(() => env.stop());

function post(cluster: string, body: string): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'POST /audit/{cluster}',
    rawPath: `/audit/${cluster}`,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    pathParameters: { cluster },
    body,
    isBase64Encoded: false,
    requestContext: {
      accountId: '444455556666',
      apiId: 'api',
      domainName: 'api.example',
      domainPrefix: 'api',
      http: {
        method: 'POST',
        path: `/audit/${cluster}`,
        protocol: 'HTTP/1.1',
        sourceIp: '172.20.14.9',
        userAgent: 'kube-apiserver',
      },
      requestId: 'req-adv',
      routeKey: 'POST /audit/{cluster}',
      stage: '$default',
      time: '30/Nov/2026:10:00:00 +0000',
      timeEpoch: 1_796_032_800_000,
    },
  };
}

describe('audit webhook EventList', () => {
  it('prototype-keyed and unjudgeable items are named in the 400; the others are recorded', async () => {
    // Prepare
    const good = (ns: string) => ({
      ...auditEvent('Pod'),
      objectRef: { resource: 'pods', namespace: ns, name: 'p' },
    });
    const copy = auditEvent('Deployment', {
      auditID: 'copy-9',
      verb: 'patch',
      responseObject: undefined,
      requestObject: [{ op: 'copy', from: '/a', path: '/spec/template/spec/containers/0/image' }],
    });
    const items = [
      JSON.stringify(good('hook-a')),
      '{"__proto__":{"kind":"Event","auditID":"x","stage":"ResponseComplete","verb":"create","user":{"username":"u"}}}',
      JSON.stringify(copy),
      JSON.stringify(good('hook-b')).replace(
        '"user":{',
        '"user":{"constructor":{"username":"root"},',
      ),
    ];
    const body = `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[${items.join(',')}]}`;
    // Act
    const res = await webhook(
      post('hook-cluster', body),
      lambdaContext('audit-webhook', 'req-adv'),
    );
    // Assess
    expect(res.statusCode).toBe(400);
    const answer = JSON.parse(res.body ?? '{}') as { issues?: { path: string; message: string }[] };
    expect(answer.issues?.map((i) => i.path)).toEqual(['items[1]', 'items[2]']);
    expect(answer.issues?.[1]?.message).toContain('copy-9');
    const stored = (await env.allFindings()).filter((f) => f.cluster === 'hook-cluster');
    expect(stored.map((f) => [f.namespace, f.image]).sort()).toEqual([
      ['hook-a', EVIL],
      ['hook-b', EVIL],
    ]);
  });

  it.each(['a#b', '__proto__#x'])('cluster path %j is a 400 naming the rule', async (cluster) => {
    const res = await webhook(
      post(cluster, JSON.stringify(auditEvent('Pod'))),
      lambdaContext('audit-webhook', 'req-adv'),
    );
    expect(res.statusCode).toBe(400);
  });
});

function record(id: string, detail: string) {
  return sqsRecord(
    id,
    `{"version":"0","id":"eb-${id}","detail-type":"Pod Event","source":"regwatch.forwarder","account":"444455556666","time":"2026-11-30T10:00:00Z","region":"eu-central-1","resources":[],"detail":${detail}}`,
    'arn:aws:sqs:eu-central-1:444455556666:q',
  );
}

describe('pod-events SQS batch', () => {
  it('only the poisoned message fails; prototype keys elsewhere and odd images still make findings', async () => {
    // Prepare
    const pod = (name: string, container: string) =>
      `{"cluster":"sqs-cluster","observedAt":"2026-11-30T10:00:00Z","reason":"running","pod":{"metadata":{"name":"${name}","namespace":"q","uid":"u-${name}","labels":{"__proto__":"x"}},"spec":{"containers":[${container}]}}}`;
    const records = [
      record(
        'm1',
        pod(
          'one',
          `{"name":"c","image":"${EVIL}","__proto__":{"image":"registry.k8s.io/pause:3.9"}}`,
        ),
      ),
      record('m2', '{"__proto__":{"cluster":"sqs-cluster","reason":"running"}}'),
      record('m3', pod('two', '{"name":"c","image":{"constructor":"nginx"}}')),
    ];
    // Act
    const res = await podEvents({ Records: records }, lambdaContext('pod-events'));
    // Assess
    expect(res.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(['m2']);
    const stored = (await env.allFindings()).filter((f) => f.cluster === 'sqs-cluster');
    expect(stored.map((f) => [f.podName, f.rule]).sort()).toEqual([
      ['one', 'untrusted-source'],
      ['two', 'invalid-reference'],
    ]);
  });
});

describe('eks-audit-logs CloudWatch payload', () => {
  it('a prototype-keyed log event fails alone; the others are recorded', async () => {
    // Prepare
    const good = (ns: string) =>
      JSON.stringify({
        ...auditEvent('Pod'),
        objectRef: { resource: 'pods', namespace: ns, name: 'p' },
      });
    const messages = [
      good('cw-a'),
      '{"__proto__":{"kind":"Event","auditID":"x","stage":"ResponseComplete","verb":"create","user":{"username":"u"}}}',
      good('cw-b').replace('"objectRef":{', '"objectRef":{"__proto__":{"apiGroup":"apps"},'),
    ];
    const data = {
      messageType: 'DATA_MESSAGE',
      owner: '444455556666',
      logGroup: '/aws/eks/cw-cluster/cluster',
      logStream: 'kube-apiserver-audit-x',
      subscriptionFilters: ['regwatch-audit'],
      logEvents: messages.map((message, i) => ({
        id: `${i}`,
        timestamp: 1_796_032_800_000 + i,
        message,
      })),
    };
    // Act
    const outcome = await auditLogs(
      { awslogs: { data: gzipSync(JSON.stringify(data)).toString('base64') } },
      lambdaContext('eks-audit-logs'),
    );
    // Assess
    expect(outcome.kind).toBe('ingested');
    expect(outcome.report?.failed.map((f) => f.index)).toEqual([1]);
    expect(outcome.report?.findings.new).toBe(2);
  });
});
