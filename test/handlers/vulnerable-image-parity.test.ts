/**
 * A running pod whose digest the Images table knows to be vulnerable gets `vulnerable-image`
 * on AWS exactly as in local mode: the deployed `pod-events` function (its module, built from
 * the stack's environment through the composition root) and `regwatch local`'s
 * `/v1/pod-events` make the same findings for the same pod.
 */
import path from 'node:path';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ecrRepository, ImagesStore } from '../../lambdas/adapters/dynamodb/index.ts';
import type { Finding } from '../../lambdas/core/types.ts';
import { type LocalInstance, startLocal } from '../../lambdas/local/app.ts';
import { lambdaContext } from './commons/lambda-context.ts';
import { type IngestEnv, startIngestEnv } from './ingest-env.ts';

const ALLOWLIST = path.resolve(import.meta.dirname, '../fixtures/local/allowlist.yaml');
const REPOSITORY = ecrRepository('444455556666', 'eu-west-1', 'team/api');
const IMAGE = `${REPOSITORY}:1.4.0`;
const DIGEST = `sha256:${'7c'.repeat(32)}`;

type Handler = (event: SQSEvent, context: unknown) => Promise<SQSBatchResponse>;
let env: IngestEnv;
let handler: Handler;
let local: LocalInstance;

/** A critical-severity scan of the image, recorded as scan-status would record it. */
async function recordVulnerableScan(images: ImagesStore): Promise<void> {
  await images.recordPush({
    repository: REPOSITORY,
    digest: DIGEST,
    tag: '1.4.0',
    pushedAt: '2026-01-10T09:00:00Z',
  });
  await images.recordScan({
    repository: REPOSITORY,
    digest: DIGEST,
    status: 'COMPLETE',
    severityCounts: { CRITICAL: 2, HIGH: 5 },
    completedAt: '2026-01-10T09:05:00Z',
    source: 'inspector2-event',
    observedAt: '2026-01-10T09:05:00Z',
  });
}

function podEvent(cluster: string) {
  return {
    cluster,
    observedAt: '2026-01-10T10:00:00Z',
    reason: 'running',
    pod: {
      metadata: { name: 'api-7d9f', namespace: 'shop', uid: `uid-${cluster}` },
      spec: { containers: [{ name: 'api', image: IMAGE }] },
      status: {
        phase: 'Running',
        containerStatuses: [{ name: 'api', image: IMAGE, imageID: `${REPOSITORY}@${DIGEST}` }],
      },
    },
  };
}

beforeAll(async () => {
  env = await startIngestEnv({
    rules: [
      { id: 'company-ecr', registry: '444455556666.dkr.ecr.*.amazonaws.com', repository: '**' },
    ],
    env: { VULNERABLE_SEVERITY_THRESHOLD: 'critical' },
  });
  ({ handler } = (await import('../../lambdas/handlers/pod-events.ts')) as unknown as {
    handler: Handler;
  });
  local = await startLocal({
    port: 0,
    dynamodbPort: 0,
    allowlistFile: ALLOWLIST,
    minAlertSeverity: 'critical',
    vulnerableThreshold: 'critical',
    scanTimeoutMinutes: 30,
    out: null,
    err: () => {},
  });
});

afterAll(async () => {
  await env?.stop();
  await local?.stop();
});

const rules = (findings: Finding[]) =>
  findings.map((f) => ({ rule: f.rule, image: f.image, digest: f.digest })).sort();

describe('vulnerable-image on AWS and in local mode', () => {
  it('is raised by both for a running digest with a critical scan', async () => {
    // Prepare: the same vulnerable image known to both Images tables
    await recordVulnerableScan(new ImagesStore(env.dynamo.doc, process.env.IMAGES_TABLE as string));
    await recordVulnerableScan(local.tables.images);

    // Act: the Lambda through its queue record, local mode through its route
    const lambda = await handler(
      {
        Records: [
          {
            messageId: 'm-1',
            body: JSON.stringify({
              version: '0',
              id: 'eb-1',
              source: 'regwatch.forwarder',
              'detail-type': 'Pod Event',
              account: '444455556666',
              region: 'eu-west-1',
              time: '2026-01-10T10:00:01Z',
              resources: [],
              detail: podEvent('parity-aws'),
            }),
          },
        ],
      } as unknown as SQSEvent,
      lambdaContext('pod-events'),
    );
    const res = await fetch(`${local.url}/v1/pod-events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([podEvent('parity-local')]),
    });
    const onAws: Finding[] = [];
    for await (const f of env.findings.query({ cluster: 'parity-aws' })) onAws.push(f);
    const onLocal: Finding[] = [];
    for await (const f of local.tables.findings.query({ cluster: 'parity-local' })) {
      onLocal.push(f);
    }

    // Assess
    expect(lambda.batchItemFailures).toEqual([]);
    expect(res.status).toBe(200);
    expect(rules(onAws).map((f) => f.rule)).toContain('vulnerable-image');
    expect(rules(onAws)).toEqual(rules(onLocal));
  });
});
