/**
 * What is deployed is what is tested: the stack is synthesized once with bundling (the
 * assets `cdk deploy` would upload), and every function's bundle runs in a fresh Node process
 * with exactly the template's environment plus the Lambda runtime's own variables. AWS calls go
 * to loopback: DynamoDB to dynalite (tables created from the template's own definitions), the
 * other APIs to a fake that speaks their wire protocols and records each call. The events form
 * one realistic chain: audit logs, webhook and pod events → findings; an ECR push → a scan
 * check → scan-status; a finding's stream record → alerts → SNS → slack-notifier.
 *
 * Then each function's recorded calls must be allowed by its role in the template (action and
 * resource), and every grant must be used by some call, except the listed ones, each with why.
 */

import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { CreateTableCommand, GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand as DocGetCommand, ScanCommand as DocScanCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllowlistStore } from '../../lambdas/adapters/dynamodb/index.ts';
import { PUBLIC_GOOD_TRUSTED_ROOT } from '../../lambdas/adapters/signatures/sigstore-trusted-root.ts';
import { cosignSign, keyPair } from '../helpers/cosign.ts';
import { type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';
import { SHARED_FIXTURES } from '../helpers/fixtures.ts';
import { pushImage, TestRegistry } from '../helpers/oci-registry.ts';
import { type DeployedNames, functionsOf, resolveValue } from '../helpers/template.ts';
import { ecrRegistryCalls } from './harness/ecr-registry.ts';
import { type FakeAws, type RecordedCall, startFakeAws } from './harness/fake-aws.ts';
import { type Invocation, invokeBundle } from './harness/invoke.ts';
import { deniedCalls, roleStatements, unusedGrants } from './harness/policy.ts';
import { type SynthesizedStack, synthesizeForDeploy } from './harness/stack.ts';

const NAMES: DeployedNames = {
  account: '444455556666',
  region: 'eu-west-1',
  partition: 'aws',
  stackName: 'regwatch',
};
const TOKEN = 'T'.repeat(48);
const DIGEST = `sha256:${'5e'.repeat(32)}`;
const REPOSITORY = 'team/api';

/**
 * `requireSignature` (issue 13): this account's ECR registry and another registry, each a
 * loopback OCI registry with auth; the ECR one answers to the `GetAuthorizationToken` password,
 * the other to the credentials in the registry-credentials secret.
 */
const ECR_HOST = `${NAMES.account}.dkr.ecr.${NAMES.region}.amazonaws.com`;
const OTHER_HOST = 'registry.example.com';
const REGISTRY_PASSWORD = 'ecr-authorization-token-password';
const SIGNING_PROFILE = `arn:aws:signer:${NAMES.region}:${NAMES.account}:/signing-profiles/release`;
const signer = keyPair('p256');
let ecrRegistry: TestRegistry;
let otherRegistry: TestRegistry;
/** Pinned references: signed (ECR), unsigned (ECR, a signed-only repository), signed (other). */
const images = { signed: '', unsigned: '', other: '', signedDigest: '' };

/**
 * Grants no call here can use, and why. Matched against `action on resource`.
 */
const JUSTIFIED_UNUSED: { pattern: RegExp; why: string; handlers?: string[] }[] = [
  { pattern: /^logs:(CreateLogStream|PutLogEvents) /, why: 'the Lambda runtime writes the logs' },
  { pattern: /^xray:Put/, why: 'the Lambda runtime sends the X-Ray segments' },
  {
    pattern:
      /^sqs:(ReceiveMessage|DeleteMessage|ChangeMessageVisibility|GetQueueAttributes|GetQueueUrl) /,
    why: 'the SQS event source mapping polls with the function role',
  },
  {
    pattern: /^dynamodb:(DescribeStream|GetRecords|GetShardIterator|ListStreams) /,
    why: 'the DynamoDB stream event source mapping reads the stream with the function role',
  },
  {
    pattern: /^sqs:SendMessage on .*Dlq/,
    why: 'Lambda sends failed asynchronous invocations / stream batches to the DLQ itself',
  },
  {
    pattern: /^kms:/,
    why: 'DynamoDB and SNS use the customer-managed keys on the caller’s behalf (kms:ViaService)',
  },
  {
    pattern: /^dynamodb:GetItem on .*:table\/regwatch-TablesInventory[^/]*$/,
    handlers: ['scan-status'],
    why: 'a scan re-judging an inventory entry re-reads it only when its conditional update lost to a concurrent sighting (a race this chain may or may not hit)',
  },
  {
    pattern: /^inspector2:(ListFindings|ListCoverage) /,
    why: 'ECR calls Inspector2 with the caller’s permissions under enhanced scanning',
  },
];

let stack: SynthesizedStack;
let dynamo: LocalDynamo;
let fake: FakeAws;
let slack: Server;
const slackPosts: unknown[] = [];
const invocations = new Map<string, Invocation>();

function fn(handler: string) {
  const found = functionsOf(stack.template).find((f) => f.handler === handler);
  if (!found) throw new Error(`no function for ${handler}`);
  return found;
}

function env(handler: string): Record<string, string> {
  return resolveValue(fn(handler).variables, stack.template, NAMES) as Record<string, string>;
}

async function run(handler: string, events: unknown[]): Promise<Invocation> {
  const f = fn(handler);
  const props = f.resource.Properties ?? {};
  const logGroup = resolveValue(
    (props.LoggingConfig as { LogGroup: unknown }).LogGroup,
    stack.template,
    NAMES,
  );
  const invocation = await invokeBundle({
    functionName: String(props.FunctionName),
    handler: String(props.Handler),
    codeDir: stack.assetDir(f.id),
    environment: env(handler),
    runtime: {
      AWS_REGION: NAMES.region,
      AWS_DEFAULT_REGION: NAMES.region,
      AWS_ACCESS_KEY_ID: 'ASIAEXAMPLEEXAMPLE00',
      AWS_SECRET_ACCESS_KEY: 'deploy-test-secret',
      // Names the caller in every recorded call.
      AWS_SESSION_TOKEN: handler,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(props.MemorySize),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_LOG_GROUP_NAME: String(logGroup),
      AWS_LAMBDA_LOG_STREAM_NAME: '2026/12/01/[$LATEST]deploytest',
      AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
      // Loopback: dynalite behind the recording fake, every other API answered by it.
      AWS_ENDPOINT_URL: fake.endpoint,
      // Loopback: the registries `requireSignature` reads signatures from.
      REGISTRY_ENDPOINTS: `${ECR_HOST}=http://${ecrRegistry.host},${OTHER_HOST}=http://${otherRegistry.host}`,
    },
    events,
    timeoutMs: 90_000,
  });
  // What the bundle asked of the ECR registry, as the IAM actions ECR authorises it with.
  fake.calls.push(
    ...ecrRegistryCalls(
      ecrRegistry.requests.splice(0),
      handler,
      (name) => `arn:${NAMES.partition}:ecr:${NAMES.region}:${NAMES.account}:repository/${name}`,
    ),
  );
  invocations.set(handler, invocation);
  expect(invocation.handlerType, `${handler}: ${invocation.stderr}`).toBe('function');
  return invocation;
}

function value(invocation: Invocation, i = 0): unknown {
  const result = invocation.results[i];
  if (!result?.ok) {
    throw new Error(
      `invocation ${i} failed: ${JSON.stringify(result)}\n${invocation.stderr}\n${invocation.stdout.slice(-3000)}`,
    );
  }
  return result.value;
}

const callsOf = (handler: string): RecordedCall[] => fake.calls.filter((c) => c.caller === handler);

/** The signature check ecr-push queued (purpose `signature`). */
function signatureCheck(): Record<string, unknown> | undefined {
  return callsOf('ecr-push')
    .filter((c) => c.action === 'sqs:SendMessage')
    .map((c) => JSON.parse(String(c.params.MessageBody)) as Record<string, unknown>)
    .find((body) => body.purpose === 'signature');
}

/** The template's tables, created in dynalite with their own definitions. */
async function createTemplateTables(): Promise<void> {
  for (const [id, resource] of Object.entries(stack.template.Resources)) {
    if (resource.Type !== 'AWS::DynamoDB::Table') continue;
    const p = resource.Properties ?? {};
    await dynamo.client.send(
      new CreateTableCommand({
        TableName: resolveValue({ Ref: id }, stack.template, NAMES) as string,
        KeySchema: p.KeySchema as never,
        AttributeDefinitions: p.AttributeDefinitions as never,
        BillingMode: 'PAY_PER_REQUEST',
        ...(p.GlobalSecondaryIndexes
          ? {
              GlobalSecondaryIndexes: (p.GlobalSecondaryIndexes as Record<string, unknown>[]).map(
                (g) => ({
                  IndexName: g.IndexName,
                  KeySchema: g.KeySchema,
                  Projection: g.Projection,
                }),
              ) as never,
            }
          : {}),
        ...(p.StreamSpecification
          ? {
              StreamSpecification: {
                StreamEnabled: true,
                StreamViewType: (p.StreamSpecification as { StreamViewType: string })
                  .StreamViewType as never,
              },
            }
          : {}),
      }),
    );
  }
}

function sqsEvent(handler: string, bodies: string[]) {
  const queueArn = `arn:aws:sqs:${NAMES.region}:${NAMES.account}:${handler}-queue`;
  return {
    Records: bodies.map((body, i) => ({
      messageId: `${handler}-m${i}`,
      receiptHandle: `rh-${i}`,
      body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: '1764583200000',
        SenderId: 'AIDAEXAMPLE',
        ApproximateFirstReceiveTimestamp: '1764583200001',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: queueArn,
      awsRegion: NAMES.region,
    })),
  };
}

/** An AWS sample event moved to this account and region, with a real digest. */
function ownEvent(file: string): Record<string, unknown> {
  const text = readFileSync(path.join(SHARED_FIXTURES, 'eventbridge', file), 'utf8')
    .replace(/sha256:[0-9a-fA-Z]{50,70}/g, DIGEST)
    .replaceAll('123456789012', NAMES.account)
    .replace(/"us-(east|west)-\d"/g, `"${NAMES.region}"`)
    .replace(/:us-(east|west)-\d:/g, `:${NAMES.region}:`)
    .replaceAll('amazon/amazon-ecs-sample', REPOSITORY)
    .replaceAll('my-repository-name', REPOSITORY);
  return JSON.parse(text);
}

/**
 * A pod deletion as a Metadata-level audit policy records it: no object, so the workload is
 * unknown and the inventory finds the pod through `byCluster`.
 */
function metadataPodDelete(namespace: string, name: string, auditID: string) {
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID,
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/${namespace}/pods/${name}`,
    verb: 'delete',
    user: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
    objectRef: { resource: 'pods', namespace, name, apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: '2026-12-01T09:30:00.000000Z',
    stageTimestamp: '2026-12-01T09:30:00.050000Z',
  };
}

/** Findings (as JSON text) that mention `image`. */
async function findingsOf(image: string): Promise<string[]> {
  const table = env('alerts').FINDINGS_TABLE as string;
  const items = await dynamo.client.send(new ScanCommand({ TableName: table }));
  return (items.Items ?? []).map((i) => JSON.stringify(i)).filter((t) => t.includes(image));
}

beforeAll(async () => {
  stack = synthesizeForDeploy();
  dynamo = await startDynalite();
  await createTemplateTables();
  slack = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      slackPosts.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => slack.listen(0, '127.0.0.1', resolve));
  ecrRegistry = await new TestRegistry({
    auth: { username: 'AWS', password: REGISTRY_PASSWORD },
  }).start();
  otherRegistry = await new TestRegistry({
    auth: { username: 'robot', password: 'robot-password' },
  }).start();
  images.signedDigest = pushImage(ecrRegistry, 'signed/app', 'v1', 'signed');
  cosignSign(ecrRegistry, 'signed/app', images.signedDigest, signer.privateKey);
  images.signed = `${ECR_HOST}/signed/app@${images.signedDigest}`;
  images.unsigned = `${ECR_HOST}/signed/unsigned-app@${pushImage(ecrRegistry, 'signed/unsigned-app', 'v1', 'unsigned')}`;
  const otherDigest = pushImage(otherRegistry, 'tools/sidecar', 'v1', 'other');
  cosignSign(otherRegistry, 'tools/sidecar', otherDigest, signer.privateKey);
  images.other = `${OTHER_HOST}/tools/sidecar@${otherDigest}`;
  const slackUrl = `http://127.0.0.1:${(slack.address() as AddressInfo).port}/services/T0/B0/x`;
  const fakeReady = startFakeAws({
    account: NAMES.account,
    region: NAMES.region,
    dynamodbEndpoint: dynamo.endpoint,
    secrets: {
      [env('audit-webhook-authorizer').WEBHOOK_TOKEN_SECRET_ARN as string]: TOKEN,
      [env('slack-notifier').SLACK_WEBHOOK_SECRET_ARN as string]: JSON.stringify({
        url: slackUrl,
      }),
      [env('pod-events').REGISTRY_CREDENTIALS_SECRET as string]: JSON.stringify({
        auths: { [OTHER_HOST]: { username: 'robot', password: 'robot-password' } },
      }),
      [env('pod-events').SIGSTORE_TRUSTED_ROOT_SECRET as string]:
        JSON.stringify(PUBLIC_GOOD_TRUSTED_ROOT),
    },
    ecr: {
      registryPassword: REGISTRY_PASSWORD,
      // ECR managed signing has not finished: the awsSigner entry is absent, cosign decides.
      signingStatuses: {
        [`signed/app@${images.signedDigest}`]: [
          { signingProfileArn: SIGNING_PROFILE, status: 'IN_PROGRESS' },
        ],
      },
      tagMutability: { [REPOSITORY]: 'MUTABLE' },
      scanFindings: {
        [`${REPOSITORY}@${DIGEST}`]: {
          registryId: NAMES.account,
          repositoryName: REPOSITORY,
          imageId: { imageDigest: DIGEST, imageTag: 'latest' },
          imageScanStatus: {
            status: 'COMPLETE',
            description: 'The scan was completed successfully.',
          },
          imageScanFindings: {
            imageScanCompletedAt: 1764583300,
            findingSeverityCounts: { CRITICAL: 2, HIGH: 3 },
            findings: [],
          },
        },
      },
    },
  });
  fake = await fakeReady;
  NAMES.sqsEndpoint = fake.endpoint;
  // The stored allowlist: our ECR and registry.k8s.io; everything else is a finding.
  const allowlist = new AllowlistStore(dynamo.doc, env('pod-events').ALLOWLIST_TABLE as string);
  await allowlist.put({
    id: 'company-ecr',
    registry: `${NAMES.account}.dkr.ecr.*.amazonaws.com`,
    repository: 'app/**',
  });
  await allowlist.put({ id: 'kubernetes', registry: 'registry.k8s.io', repository: '**' });
  // Every kind of entry, so each grant is used: ECR managed signing (in progress), keyless
  // (no bundle stored: absent, after loading the trusted root from its secret), the cosign key.
  await allowlist.put({
    id: 'signed-ecr',
    registry: `${NAMES.account}.dkr.ecr.*.amazonaws.com`,
    repository: 'signed/**',
    requireSignature: [
      { awsSigner: { profileArns: [SIGNING_PROFILE] } },
      {
        keyless: {
          issuer: 'https://token.actions.githubusercontent.com',
          subject: 'https://github.com/acme/api/.github/workflows/release.yml@refs/tags/*',
        },
      },
      { cosign: { publicKeys: [signer.publicPem] } },
    ],
  });
  await allowlist.put({
    id: 'signed-tools',
    registry: OTHER_HOST,
    repository: 'tools/**',
    requireSignature: [{ cosign: { publicKeys: [signer.publicPem] } }],
  });
}, 300_000);

afterAll(async () => {
  await fake?.close();
  await ecrRegistry?.close();
  await otherRegistry?.close();
  await new Promise<void>((resolve) => (slack ? slack.close(() => resolve()) : resolve()));
  await dynamo?.stop();
});

describe('the deployed bundles, run with the template environment against loopback AWS', () => {
  it('eks-audit-logs ingests a CloudWatch Logs subscription of real-shaped EKS audit lines', async () => {
    // Prepare: the constructed EKS audit lines as one subscription delivery
    const lines = readFileSync(
      path.join(SHARED_FIXTURES, 'audit-events/constructed/eks-audit-events.jsonl'),
      'utf8',
    )
      .split('\n')
      .filter((l) => l.trim() !== '');
    const data = {
      messageType: 'DATA_MESSAGE',
      owner: NAMES.account,
      logGroup: '/aws/eks/orion-prod-euc1/cluster',
      logStream: 'kube-apiserver-audit-0123456789abcdef',
      subscriptionFilters: ['regwatch-audit'],
      logEvents: lines.map((message, i) => ({ id: `${i}`, timestamp: 1764583200000 + i, message })),
    };
    const delivery = (messages: string[]) => ({
      awslogs: {
        data: gzipSync(
          JSON.stringify({
            ...data,
            logEvents: messages.map((message, i) => ({
              id: `${i}`,
              timestamp: 1764583200000 + i,
              message,
            })),
          }),
        ).toString('base64'),
      },
    });
    const event = delivery(lines);
    // Later requests for the same workloads (new audit ids): sightings of known findings.
    const later = delivery(lines.map((l) => l.replace(/"auditID":"/g, '"auditID":"later-')));

    // The first pod again, running signed images (issue 13: verified in the function).
    const signed = delivery([
      (lines[0] as string)
        .replace(/"auditID":"/g, '"auditID":"signed-')
        .replaceAll(
          '444455556666.dkr.ecr.eu-central-1.amazonaws.com/storefront/web:4.18.2',
          images.signed,
        )
        .replace(/memcached:1\.6\.26@sha256:[0-9a-f]{64}/g, images.other),
    ]);

    const firstPod = (
      JSON.parse(lines[0] as string) as { objectRef: { namespace: string; name?: string } }
    ).objectRef;
    const gone = delivery([
      JSON.stringify(
        metadataPodDelete(firstPod.namespace, firstPod.name ?? 'storefront-0', 'gone-1'),
      ),
    ]);

    // Act: delivered twice (CloudWatch Logs retries), then the later events
    const invocation = await run('eks-audit-logs', [event, event, later, signed, gone]);

    // Assess
    const first = value(invocation, 0) as { kind: string; report: { findings: { new: number } } };
    const second = value(invocation, 1) as { report: { findings: { new: number } } };
    expect(first.kind).toBe('ingested');
    expect(first.report.findings.new).toBeGreaterThan(0);
    expect(second.report.findings.new).toBe(0);
    expect(value(invocation, 3)).toMatchObject({ kind: 'ingested' });
    expect(value(invocation, 4)).toMatchObject({ kind: 'ingested' });
    const actions = callsOf('eks-audit-logs').map((c) => c.action);
    expect(actions).toContain('ecr:DescribeImageSigningStatus');
    expect(actions).toContain('ecr:GetDownloadUrlForLayer');
  });

  it('audit-webhook answers 200 for the real webhook EventList, 400 naming a bad cluster', async () => {
    // Prepare
    // The captured webhook requests: one EventList per line (the two stages of a create).
    const body = readFileSync(
      path.join(SHARED_FIXTURES, 'audit-events/webhook-eventlist-pod-create-v1.jsonl'),
      'utf8',
    );
    const request = (cluster: string, text: string) => ({
      version: '2.0',
      routeKey: 'POST /audit/{cluster}',
      rawPath: `/audit/${cluster}`,
      rawQueryString: '',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      requestContext: {
        http: { method: 'POST', path: `/audit/${cluster}`, sourceIp: '10.0.0.1' },
        requestId: 'req-1',
        routeKey: 'POST /audit/{cluster}',
        stage: '$default',
      },
      pathParameters: { cluster },
      body: text,
      isBase64Encoded: false,
    });

    // The same requests later (new audit ids: sightings), and with the images pinned by digest.
    const later = body.replace(/"auditID":"/g, '"auditID":"later-');
    const pinned = body
      .replace(/"auditID":"/g, '"auditID":"pinned-')
      .replace(/"image":"([^"@]+)"/g, `"image":"$1@${DIGEST}"`);

    // The same pods running signed images, in ECR and in another registry (issue 13).
    const signedBody = (prefix: string, image: string) =>
      body
        .replace(/"auditID":"/g, `"auditID":"${prefix}-`)
        .replace(/"image":"httpd"/g, `"image":"${image}"`);

    // Act
    const invocation = await run('audit-webhook', [
      request('kind-dev', body),
      request('bad name!', body),
      request('kind-dev', later),
      request('kind-dev', pinned),
      request('kind-dev', signedBody('signed', images.signed)),
      request('kind-dev', signedBody('other', images.other)),
      request(
        'kind-dev',
        JSON.stringify({
          kind: 'EventList',
          apiVersion: 'audit.k8s.io/v1',
          items: [metadataPodDelete('default', 'httpd', 'gone-1')],
        }),
      ),
    ]);

    // Assess
    expect(value(invocation, 0)).toMatchObject({ statusCode: 200 });
    expect(value(invocation, 1)).toMatchObject({ statusCode: 400 });
    expect(value(invocation, 2)).toMatchObject({ statusCode: 200 });
    expect(value(invocation, 3)).toMatchObject({ statusCode: 200 });
    expect(value(invocation, 4)).toMatchObject({ statusCode: 200 });
    expect(value(invocation, 5)).toMatchObject({ statusCode: 200 });
    expect(value(invocation, 6)).toMatchObject({ statusCode: 200 });
  });

  it('audit-webhook-authorizer admits the stored token only', async () => {
    // Prepare
    const request = (authorization: string) => ({
      version: '2.0',
      type: 'REQUEST',
      routeArn: `arn:aws:execute-api:${NAMES.region}:${NAMES.account}:api/$default/POST/audit/x`,
      identitySource: [authorization],
      routeKey: 'POST /audit/{cluster}',
      headers: { authorization },
      requestContext: { http: { method: 'POST', sourceIp: '10.0.0.1' } },
    });

    // Act
    const invocation = await run('audit-webhook-authorizer', [
      request(`Bearer ${TOKEN}`),
      request(`Bearer ${'W'.repeat(48)}`),
    ]);

    // Assess
    expect(value(invocation, 0)).toEqual({ isAuthorized: true });
    expect(value(invocation, 1)).toEqual({ isAuthorized: false });
  });

  it('pod-events records a forwarder pod event and fails a malformed record alone', async () => {
    // Prepare: the storefront pod of the constructed audit fixture, as the forwarder sends it
    const first = readFileSync(
      path.join(SHARED_FIXTURES, 'audit-events/constructed/eks-audit-events.jsonl'),
      'utf8',
    ).split('\n')[0] as string;
    const pod = (JSON.parse(first) as { responseObject: Record<string, unknown> }).responseObject;
    const event = (id: string, detail: unknown) =>
      JSON.stringify({
        version: '0',
        id,
        'detail-type': 'Pod Event',
        source: 'regwatch.forwarder',
        account: NAMES.account,
        time: '2026-12-01T09:00:00Z',
        region: NAMES.region,
        resources: [],
        detail,
      });
    const detail = {
      cluster: 'orion-staging',
      observedAt: '2026-12-01T09:00:00Z',
      reason: 'added',
      pod: {
        metadata: pod.metadata,
        spec: pod.spec,
        status: {
          phase: 'Running',
          containerStatuses: (
            (pod.spec as { containers: { name: string; image: string }[] }).containers ?? []
          ).map((c) => ({ name: c.name, image: c.image })),
        },
      },
    };
    const later = { ...detail, observedAt: '2026-12-01T09:05:00Z', reason: 'resync' };
    // Issue 13: a pod of signed images (ECR, another registry) and one of an unsigned image.
    const running = (name: string, containerImages: string[]) => ({
      ...detail,
      observedAt: '2026-12-01T09:10:00Z',
      pod: {
        metadata: { ...(pod.metadata as object), name, uid: `uid-${name}` },
        spec: {
          ...(pod.spec as object),
          containers: containerImages.map((image, i) => ({ name: `c${i}`, image })),
        },
        status: {
          phase: 'Running',
          containerStatuses: containerImages.map((image, i) => ({
            name: `c${i}`,
            image,
            imageID: image.includes('@') ? image : '',
          })),
        },
      },
    });

    // Act
    const invocation = await run('pod-events', [
      sqsEvent('pod-events', [event('eb-1', detail), event('eb-2', { cluster: 'x' })]),
      sqsEvent('pod-events', [event('eb-3', later)]),
      sqsEvent('pod-events', [
        event('eb-4', running('signed-api', [images.signed, images.other])),
        event('eb-5', running('unsigned-api', [images.unsigned])),
      ]),
      // A resync pass (its marker is an update), its end (read through byCluster), a deletion.
      sqsEvent('pod-events', [
        event('eb-6', { ...later, observedAt: '2026-12-01T09:20:00Z', resyncId: 'pass-1' }),
      ]),
      sqsEvent('pod-events', [
        event('eb-7', {
          cluster: detail.cluster,
          observedAt: '2026-12-01T09:21:00Z',
          reason: 'resync-complete',
          resyncId: 'pass-1',
        }),
        event('eb-8', {
          ...running('unsigned-api', [images.unsigned]),
          observedAt: '2026-12-01T09:22:00Z',
          reason: 'deleted',
        }),
        // After the pass: running the pushed digest, so the scan scan-status stores reaches
        // this entry (issue 11).
        event('eb-9', {
          ...running('scanned-api', [`${ECR_HOST}/${REPOSITORY}@${DIGEST}`]),
          observedAt: '2026-12-01T09:23:00Z',
        }),
      ]),
    ]);

    // Assess
    expect(value(invocation, 0)).toEqual({
      batchItemFailures: [{ itemIdentifier: 'pod-events-m1' }],
    });
    expect(value(invocation, 1)).toEqual({ batchItemFailures: [] });
    expect(value(invocation, 2)).toEqual({ batchItemFailures: [] });
    expect(value(invocation, 3)).toEqual({ batchItemFailures: [] });
    expect(value(invocation, 4)).toEqual({ batchItemFailures: [] });
    // The signed images verified (no signature finding); the unsigned one is a finding.
    const signatureViolation = /unsigned-image|signature-invalid/;
    for (const image of [images.signed, images.other]) {
      expect(
        (await findingsOf(image)).filter((f) => signatureViolation.test(f)),
        image,
      ).toEqual([]);
    }
    expect((await findingsOf(images.unsigned)).join('\n')).toContain('unsigned-image');
  });

  it('ecr-push judges a push, records it and schedules its scan check', async () => {
    // Prepare: AWS's push sample, in this account, with a real digest
    const push = ownEvent('ecr-image-action-push-success.awsdocs.json');

    // Act
    // The same digest pushed again under another event (a re-tag): a sighting, not a new finding.
    const again = { ...push, id: `${String(push.id)}-again`, time: '2026-12-01T09:30:00Z' };
    // A push to a repository a requireSignature rule covers: its signature check is queued.
    const signedPush = {
      ...push,
      id: `${String(push.id)}-signed`,
      detail: {
        ...(push.detail as object),
        'repository-name': 'signed/app',
        'image-digest': images.signedDigest,
        'image-tag': 'v1',
      },
    };
    const invocation = await run('ecr-push', [
      sqsEvent('ecr-push', [JSON.stringify(push)]),
      sqsEvent('ecr-push', [JSON.stringify(again)]),
      sqsEvent('ecr-push', [JSON.stringify(signedPush)]),
    ]);

    // Assess
    expect(value(invocation, 0)).toEqual({ batchItemFailures: [] });
    expect(value(invocation, 1)).toEqual({ batchItemFailures: [] });
    expect(value(invocation, 2)).toEqual({ batchItemFailures: [] });
    expect(signatureCheck()).toMatchObject({ imageDigest: images.signedDigest });
    const sends = callsOf('ecr-push').filter((c) => c.action === 'sqs:SendMessage');
    expect(sends.length).toBeGreaterThan(0);
    expect(JSON.parse(String(sends[0]?.params.MessageBody))).toMatchObject({
      repositoryName: REPOSITORY,
      imageDigest: DIGEST,
    });
  });

  it('scan-status handles the scan check, an Inspector2 scan and a user-guide-format finding', async () => {
    // Prepare: the check ecr-push sent, and Inspector2 events about the same image
    const check = String(
      callsOf('ecr-push').find((c) => c.action === 'sqs:SendMessage')?.params.MessageBody,
    );
    const scan = ownEvent('inspector2-scan-initial-scan-complete.awsdocs.json');
    const finding = JSON.parse(
      readFileSync(
        path.join(
          import.meta.dirname,
          '../fixtures/eventbridge/inspector2-finding-ecr-userguide-time.json',
        ),
        'utf8',
      ).replace(/sha256:[0-9a-f]{64}/g, DIGEST),
    );
    const ec2 = readFileSync(
      path.join(import.meta.dirname, '../fixtures/eventbridge/inspector2-finding-ec2.json'),
      'utf8',
    );

    // A check for a digest ECR has no scan of yet: checked again later (re-queued).
    const pending = JSON.stringify({
      ...JSON.parse(check),
      imageDigest: `sha256:${'0d'.repeat(32)}`,
      pushedAt: new Date().toISOString(),
    });

    // Act
    const invocation = await run('scan-status', [
      sqsEvent('scan-status', [check, JSON.stringify(scan), JSON.stringify(finding), ec2, pending]),
      // The signature check ecr-push queued for the signed push (issue 13).
      sqsEvent('scan-status', [JSON.stringify(signatureCheck())]),
    ]);

    // Assess: all four acknowledged (the EC2 finding is counted and dropped, not retried)
    expect(value(invocation)).toEqual({ batchItemFailures: [] });
    expect(value(invocation, 1)).toEqual({ batchItemFailures: [] });
    expect(callsOf('scan-status').map((c) => c.action)).toContain('ecr:DescribeImageSigningStatus');
    expect(callsOf('scan-status').map((c) => c.action)).toContain('ecr:DescribeImageScanFindings');
  });

  it('alerts publishes a new finding from its stream record to SNS and EventBridge', async () => {
    // Prepare: a finding the ingest functions wrote, as the table's stream carries it
    const table = env('alerts').FINDINGS_TABLE as string;
    const items = await dynamo.client.send(new ScanCommand({ TableName: table }));
    const item = items.Items?.find((i) => i.status?.S === 'OPEN' && i.severity?.S !== 'low');
    expect(item).toBeDefined();
    const full = await dynamo.client.send(
      new GetItemCommand({ TableName: table, Key: { fingerprint: item?.fingerprint as never } }),
    );
    const record = {
      eventID: 'stream-1',
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: NAMES.region,
      dynamodb: {
        ApproximateCreationDateTime: 1764583400,
        Keys: { fingerprint: item?.fingerprint },
        NewImage: full.Item,
        SequenceNumber: '111',
        SizeBytes: 1024,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
      eventSourceARN: `arn:aws:dynamodb:${NAMES.region}:${NAMES.account}:table/${table}/stream/2026-01-01T00:00:00.000`,
    };

    // Act: delivered twice (a retried batch): one publish per channel
    const invocation = await run('alerts', [{ Records: [record] }, { Records: [record] }]);

    // Assess
    expect(value(invocation, 0)).toEqual({ batchItemFailures: [] });
    expect(value(invocation, 1)).toEqual({ batchItemFailures: [] });
    const actions = callsOf('alerts').map((c) => c.action);
    expect(actions.filter((a) => a === 'sns:Publish')).toHaveLength(1);
    expect(actions.filter((a) => a === 'events:PutEvents')).toHaveLength(1);
  });

  it('slack-notifier posts the alert SNS carried, and a CloudWatch alarm', async () => {
    // Prepare: the message alerts published, as SNS delivers it
    const published = callsOf('alerts').find((c) => c.action === 'sns:Publish');
    const topic = env('alerts').ALERTS_TOPIC_ARN as string;
    const snsEvent = (message: string) => ({
      Records: [
        {
          EventSource: 'aws:sns',
          EventVersion: '1.0',
          EventSubscriptionArn: `${topic}:sub-1`,
          Sns: {
            Type: 'Notification',
            MessageId: 'sns-1',
            TopicArn: topic,
            Subject: null,
            Message: message,
            Timestamp: '2026-12-01T09:10:00.000Z',
            SignatureVersion: '1',
            Signature: 'x',
            SigningCertUrl: 'https://sns.example/cert.pem',
            UnsubscribeUrl: 'https://sns.example/unsubscribe',
            MessageAttributes: {},
          },
        },
      ],
    });
    const alarm = JSON.stringify({
      AlarmName: 'regwatch-pod-events-dlq-depth',
      NewStateValue: 'ALARM',
      NewStateReason: 'Threshold Crossed',
      Region: 'EU (Ireland)',
      StateChangeTime: '2026-12-01T09:11:00.000+0000',
    });

    // Act
    const invocation = await run('slack-notifier', [
      snsEvent(String(published?.params.Message)),
      snsEvent(alarm),
    ]);

    // Assess
    value(invocation, 0);
    value(invocation, 1);
    expect(slackPosts).toHaveLength(2);
  });

  it('reconcile runs on the allowlist stream, its fan-out queue, the minute pass (expiry warnings) and the sweep', async () => {
    // Prepare: an inventory entry the allowlist does not allow yet (from the chain above), and
    // two exceptions expiring in two days: one for that entry's repository (exact host:
    // byRegistry), one for any host (a full pass, fanned out by cluster) nothing depends on.
    const inventoryTable = env('reconcile').INVENTORY_TABLE as string;
    const scanned = await dynamo.doc.send(new DocScanCommand({ TableName: inventoryTable }));
    const target = (scanned.Items ?? []).find(
      (i) =>
        typeof i.registryKey === 'string' &&
        typeof i.repository === 'string' &&
        i.repository.startsWith(`${i.registryKey}/`) &&
        (i.violations as { rule: string }[] | undefined)?.some(
          (v) => v.rule === 'untrusted-source',
        ),
    );
    expect(target, 'an untrusted inventory entry').toBeDefined();
    const registry = String(target?.registryKey);
    const repository = String(target?.repository).slice(registry.length + 1);
    const soon = new Date(Date.now() + 2 * 86_400_000).toISOString();
    const store = new AllowlistStore(dynamo.doc, env('reconcile').ALLOWLIST_TABLE as string);
    const exact = { id: 'deploy-exception', registry, repository, expiresAt: soon };
    const anyHost = {
      id: 'deploy-any-host',
      registry: '**',
      repository: 'library/never-used',
      expiresAt: soon,
    };
    await store.put(exact);
    await store.put(anyHost);
    let seq = 0;
    const insert = (rule: Record<string, unknown>) => ({
      eventID: `allowlist-${++seq}`,
      eventName: 'INSERT',
      eventSource: 'aws:dynamodb',
      eventSourceARN: `arn:aws:dynamodb:${NAMES.region}:${NAMES.account}:table/allowlist/stream/x`,
      awsRegion: NAMES.region,
      dynamodb: {
        Keys: { id: { S: String(rule.id) } },
        NewImage: marshall({ ...rule, position: seq, updatedAt: '2026-12-01T10:00:00Z' }),
        SequenceNumber: String(100 + seq),
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
    const queued = () =>
      callsOf('reconcile')
        .filter((c) => c.action === 'sqs:SendMessage')
        .flatMap((c) =>
          ((c.params.Entries as { MessageBody: string }[]) ?? []).map((e) => e.MessageBody),
        );

    // Act: the stream batch (a full pass: fanned out), the queue consumer, the first minute
    // run (its warnings), an allowlist change on the next minute, and the sweep
    const streamed = await run('reconcile', [{ Records: [insert(exact), insert(anyHost)] }]);
    const fannedOut = queued();
    const consumed = await run('reconcile', [sqsEvent('reconcile', fannedOut)]);
    const minute = await run('reconcile', [{ sweep: false }]);
    await store.put({
      id: 'dockerhub-memcached',
      registry: 'docker.io',
      repository: 'library/memcached',
    });
    const later = await run('reconcile', [{ sweep: false }, { sweep: true }]);

    // Assess
    expect(value(streamed, 0)).toEqual({ batchItemFailures: [] });
    expect(fannedOut.length).toBeGreaterThan(0);
    for (const body of fannedOut) expect(JSON.parse(body)).toMatchObject({ kind: 'cluster' });
    expect(value(consumed, 0)).toEqual({ batchItemFailures: [] });
    // The entry the exception now allows: its finding resolved by the fanned-out pass.
    const key = `${target?.workloadKey}`;
    const resolved = (await findingsOf(String(target?.image))).filter(
      (t) => t.includes('"now-allowed"') && t.includes(String(target?.container)),
    );
    expect(resolved.length, key).toBeGreaterThan(0);
    expect(value(minute, 0)).toMatchObject({
      causes: ['first-run'],
      scope: 'full',
      warnings: {
        [`deploy-exception@${soon}`]: 'sent',
        [`deploy-any-host@${soon}`]: 'no-dependents',
      },
    });
    // The warning is a findings-table item; its stream record reaches alerts, which
    // publishes it (as for a new finding), and slack-notifier renders it.
    const warningKey = `expiry-warning#deploy-exception@${soon}`;
    const stored = await dynamo.doc.send(
      new DocGetCommand({
        TableName: env('alerts').FINDINGS_TABLE as string,
        Key: { fingerprint: warningKey },
      }),
    );
    expect(stored.Item).toMatchObject({ kind: 'regwatch.expiry-warning' });
    const before = callsOf('alerts').filter((c) => c.action === 'sns:Publish').length;
    const alerted = await run('alerts', [
      {
        Records: [
          {
            eventID: 'warning-1',
            eventName: 'INSERT',
            eventSource: 'aws:dynamodb',
            awsRegion: NAMES.region,
            dynamodb: {
              Keys: marshall({ fingerprint: warningKey }),
              NewImage: marshall(stored.Item ?? {}, { removeUndefinedValues: true }),
              SequenceNumber: '900',
              StreamViewType: 'NEW_AND_OLD_IMAGES',
            },
          },
        ],
      },
    ]);
    expect(value(alerted, 0)).toEqual({ batchItemFailures: [] });
    const published = callsOf('alerts')
      .filter((c) => c.action === 'sns:Publish')
      .slice(before);
    expect(published).toHaveLength(1);
    expect(JSON.parse(String(published[0]?.params.Message))).toMatchObject({
      kind: 'regwatch.expiry-warning',
      rule: { id: 'deploy-exception', expiresAt: soon },
      total: expect.any(Number),
    });
    expect(value(later, 0)).toMatchObject({ scope: 'registries' });
    expect(value(later, 1)).toMatchObject({ causes: ['sweep'], scope: 'full' });
  });

  it('makes only calls its role allows, and uses every grant but the justified ones', () => {
    // Prepare / Act: per function, its recorded calls against its role's statements
    const problems: Record<string, { denied: string[]; unused: string[] }> = {};
    for (const f of functionsOf(stack.template)) {
      const role = f.resource.Properties?.Role as { 'Fn::GetAtt': [string, string] } | undefined;
      const roleId = role?.['Fn::GetAtt'][0] ?? '';
      const statements = roleStatements(stack.template, roleId, NAMES);
      const calls = callsOf(f.handler);
      const denied = deniedCalls(statements, calls);
      const unused = unusedGrants(statements, calls).filter(
        (grant) =>
          !JUSTIFIED_UNUSED.some(
            (j) => j.pattern.test(grant) && (!j.handlers || j.handlers.includes(f.handler)),
          ),
      );
      if (denied.length > 0 || unused.length > 0) problems[f.handler] = { denied, unused };
    }

    // Assess: every function ran (the tests above), and nothing is missing or left over
    expect([...invocations.keys()].sort()).toEqual(
      functionsOf(stack.template)
        .map((f) => f.handler)
        .sort(),
    );
    expect(problems).toEqual({});
  });
});
