import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARED_FIXTURES } from '../helpers/fixtures.ts';
import { lambdaContext } from './commons/lambda-context.ts';
import { type IngestEnv, startIngestEnv } from './ingest-env.ts';

const FIXTURES = path.join(SHARED_FIXTURES, 'audit-events/constructed');
const TWO_STAGES = readFileSync(
  path.join(FIXTURES, 'webhook-eventlist-pod-create-two-stages.json'),
  'utf8',
);
const JSON_LINES = readFileSync(path.join(FIXTURES, 'eks-audit-events.jsonl'), 'utf8');
const LIMIT = 16 * 1024;

type Handler = (
  event: APIGatewayProxyEventV2,
  context: unknown,
) => Promise<APIGatewayProxyStructuredResultV2>;
let env: IngestEnv;
let handler: Handler;

beforeAll(async () => {
  // This file reaches dynalite through the explicit variable, the others through the SDK's own.
  env = await startIngestEnv({
    endpointVariable: 'REGWATCH_DYNAMODB_ENDPOINT',
    env: { AUDIT_WEBHOOK_MAX_BODY_BYTES: String(LIMIT) },
  });
  ({ handler } = (await import('../../lambdas/handlers/audit-webhook.ts')) as unknown as {
    handler: Handler;
  });
});
afterAll(async () => {
  await env.stop();
});

let requests = 0;
function post(
  cluster: string | undefined,
  body: string | undefined,
  isBase64Encoded = false,
): APIGatewayProxyEventV2 {
  requests++;
  return {
    version: '2.0',
    routeKey: 'POST /audit/{cluster}',
    rawPath: `/audit/${cluster ?? ''}`,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    ...(cluster === undefined ? {} : { pathParameters: { cluster } }),
    ...(body === undefined ? {} : { body }),
    isBase64Encoded,
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
      requestId: `req-${requests}`,
      routeKey: 'POST /audit/{cluster}',
      stage: '$default',
      time: '01/Jun/2025:08:00:00 +0000',
      timeEpoch: 1_748_764_800_000,
    },
  };
}

const invoke = (event: APIGatewayProxyEventV2) =>
  handler(event, lambdaContext('audit-webhook', event.requestContext.requestId));
const bodyOf = (response: APIGatewayProxyStructuredResultV2) => JSON.parse(response.body ?? 'null');

/** The two-stage list's ResponseComplete event, under another audit ID. */
function completeEvent(auditID: string): Record<string, unknown> {
  const list = JSON.parse(TWO_STAGES) as { items: Record<string, unknown>[] };
  return { ...(list.items[1] as Record<string, unknown>), auditID };
}

describe('audit-webhook handler', () => {
  it('records a pod create sent at two stages once (EventList from the apiserver)', async () => {
    // Prepare
    const event = post('selfhosted-1', TWO_STAGES);

    // Act
    const response = await invoke(event);
    const curl = (await env.allFindings()).filter((f) => f.image === 'curlimages/curl:8.8.0');

    // Assess
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toMatchObject({
      cluster: 'selfhosted-1',
      format: 'EventList',
      received: 2,
      evaluated: 1,
      skipped: { stage: 1 },
      invalid: 0,
      findings: { new: 1, reopened: 0, repeat: 0, duplicate: 0 },
    });
    expect(
      curl.map((f) => [f.cluster, f.namespace, f.workload.name, f.actor?.username, f.count]),
    ).toEqual([['selfhosted-1', 'qa', 'curl-probe', 'oidc:jane.okoye@corp.example', 1]]);
  });

  it('changes nothing when the apiserver resends the batch', async () => {
    // Prepare
    const before = await env.allFindings();

    // Act
    const response = await invoke(post('selfhosted-1', TWO_STAGES));
    const after = await env.allFindings();

    // Assess
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response).findings).toEqual({ new: 0, reopened: 0, repeat: 0, duplicate: 1 });
    expect(after.map((f) => [f.fingerprint, f.count])).toEqual(
      before.map((f) => [f.fingerprint, f.count]),
    );
  });

  it('accepts a base64-encoded body of JSON lines, measuring the decoded size against the limit', async () => {
    // Prepare: 14.5 KB of JSON lines, about 19 KB once base64-encoded; the limit is 16 KiB.
    const encoded = Buffer.from(JSON_LINES).toString('base64');
    expect(encoded.length).toBeGreaterThan(LIMIT);

    // Act
    const response = await invoke(post('orion-prod-euc1', encoded, true));

    // Assess
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toMatchObject({
      format: 'JSON lines',
      received: 4,
      evaluated: 3,
      skipped: { 'metadata-only': 1 },
    });
    expect(bodyOf(response).findings.new).toBeGreaterThanOrEqual(2);
  });

  it('answers 413 with the limit when the decoded body is too large', async () => {
    // Prepare
    const padded = JSON.stringify({
      apiVersion: 'audit.k8s.io/v1',
      kind: 'EventList',
      metadata: { note: 'x'.repeat(LIMIT) },
      items: [],
    });

    // Act
    const plain = await invoke(post('selfhosted-1', padded));
    const encoded = await invoke(
      post('selfhosted-1', Buffer.from(padded).toString('base64'), true),
    );

    // Assess
    for (const response of [plain, encoded]) {
      expect(response.statusCode).toBe(413);
      expect(bodyOf(response)).toMatchObject({ error: 'PAYLOAD_TOO_LARGE', limitBytes: LIMIT });
    }
  });

  it('answers 400 naming the reason for bodies that are not an EventList', async () => {
    // Prepare
    const cases: [string | undefined, RegExp][] = [
      ['this is not json', /not JSON/],
      [undefined, /no body/],
      ['[1,2]', /expected a JSON object/],
      [JSON.stringify({ apiVersion: 'v1', kind: 'PodList', items: [] }), /not an audit EventList/],
      [
        JSON.stringify({ apiVersion: 'audit.k8s.io/v2', kind: 'EventList', items: [] }),
        /apiVersion/,
      ],
      [JSON.stringify({ apiVersion: 'audit.k8s.io/v1', kind: 'EventList', items: {} }), /items/],
    ];

    // Act
    const responses = await Promise.all(cases.map(([body]) => invoke(post('selfhosted-1', body))));

    // Assess
    for (const [i, response] of responses.entries()) {
      expect(response.statusCode, `case ${i}`).toBe(400);
      expect(bodyOf(response).error).toBe('VALIDATION_FAILED');
      expect(bodyOf(response).message, `case ${i}`).toMatch(cases[i]?.[1] as RegExp);
    }
  });

  it('answers 400 for a cluster name EKS would not accept', async () => {
    // Act
    const responses = await Promise.all(
      ['-leading-dash', 'has.dot', 'x'.repeat(101), undefined].map((c) =>
        invoke(post(c, TWO_STAGES)),
      ),
    );

    // Assess
    expect(responses.map((r) => r.statusCode)).toEqual([400, 400, 400, 400]);
    expect(bodyOf(responses[0] as APIGatewayProxyStructuredResultV2).issues).toEqual([
      { path: 'pathParameters.cluster', message: 'invalid cluster name' },
    ]);
  });

  it('records the valid items of a batch and answers 400 listing the invalid ones by index', async () => {
    // Prepare
    const body = JSON.stringify({
      apiVersion: 'audit.k8s.io/v1',
      kind: 'EventList',
      items: [completeEvent('good-0'), { hello: 'world' }, 42, completeEvent('good-3')],
    });

    // Act
    const response = await invoke(post('partial-batch', body));
    const recorded = (await env.allFindings()).filter((f) => f.cluster === 'partial-batch');

    // Assess
    expect(response.statusCode).toBe(400);
    const answer = bodyOf(response);
    expect(answer.message).toMatch(/2 of 4 items .* not recorded; the other 2 were processed/);
    expect(answer.issues.map((i: { path: string }) => i.path)).toEqual(['items[1]', 'items[2]']);
    // Both valid items are sightings of one pod: one finding counted twice.
    expect(recorded.map((f) => [f.image, f.count])).toEqual([['curlimages/curl:8.8.0', 2]]);
  });

  it('names unreadable JSON lines by line while recording the others', async () => {
    // Prepare
    const body = [
      JSON.stringify(completeEvent('line-0')),
      '{ broken',
      JSON.stringify(completeEvent('line-2')),
    ].join('\n');

    // Act
    const response = await invoke(post('json-lines', body));

    // Assess
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).issues).toEqual([{ path: 'lines[1]', message: 'line is not JSON' }]);
    const recorded = (await env.allFindings()).filter((f) => f.cluster === 'json-lines');
    expect(recorded.map((f) => f.count)).toEqual([2]);
  });

  it('answers 500 without internals when the store fails, so the apiserver retries', async () => {
    // Prepare
    await env.dynamo.client.send(new DeleteTableCommand({ TableName: process.env.FINDINGS_TABLE }));
    const event = post(
      'selfhosted-1',
      JSON.stringify({
        apiVersion: 'audit.k8s.io/v1',
        kind: 'EventList',
        items: [completeEvent('after-outage')],
      }),
    );

    // Act
    const response = await invoke(event);

    // Assess
    expect(response.statusCode).toBe(500);
    expect(bodyOf(response)).toEqual({
      error: 'INTERNAL',
      message: 'internal error',
      requestId: event.requestContext.requestId,
    });
  });
});
