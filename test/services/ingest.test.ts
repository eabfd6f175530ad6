import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CachedAllowlist,
  type RegwatchTables,
  regwatchTables,
} from '../../lambdas/adapters/dynamodb/index.ts';
import { parseAllowlist } from '../../lambdas/core/allowlist/index.ts';
import type { PodEvent } from '../../lambdas/core/kube/pod-event.ts';
import type { UpsertResult } from '../../lambdas/core/types.ts';
import { ingestAuditEvents, ingestPodEvents } from '../../lambdas/services/ingest.ts';
import type { IngestDeps } from '../../lambdas/services/ports.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';

const ALLOWLIST = parseAllowlist(`version: 1
rules:
  - id: company-ecr
    registry: "444455556666.dkr.ecr.*.amazonaws.com"
  - id: dockerhub-official
    image: "docker.io/library/*"
`);

const ECR = '444455556666.dkr.ecr.eu-central-1.amazonaws.com';
const VULNERABLE_DIGEST = `sha256:${'e'.repeat(64)}`;

function podEvent(name: string, reason: PodEvent['reason'] = 'running'): PodEvent {
  return {
    cluster: 'demo',
    observedAt: '2026-11-25T08:00:00Z',
    reason,
    pod: {
      metadata: {
        name,
        namespace: 'shop',
        uid: `uid-${name}`,
        labels: { 'pod-template-hash': '7d9f8b6c5' },
        ownerReferences: [{ kind: 'ReplicaSet', name: 'web-7d9f8b6c5', controller: true }],
      },
      spec: {
        serviceAccountName: 'web',
        nodeName: 'node-1',
        initContainers: [{ name: 'fetch', image: 'quay.io/evil/fetcher:1' }],
        containers: [{ name: 'app', image: `${ECR}/shop/web:2.0` }],
        ephemeralContainers: [{ name: 'debug', image: 'nicolaka/netshoot' }],
      },
      status: {
        containerStatuses: [{ name: 'app', imageID: `${ECR}/shop/web@${VULNERABLE_DIGEST}` }],
      },
    },
  };
}

describe('ingest services on dynalite', () => {
  let dynamo: LocalDynamo;
  let tables: RegwatchTables;
  let alerts: UpsertResult[];
  let deps: IngestDeps;

  beforeAll(async () => {
    dynamo = await startDynalite();
    tables = regwatchTables(dynamo.doc, await freshTables(dynamo));
    await tables.allowlist.applyDiff(ALLOWLIST);
    await tables.images.recordScan({
      repository: `${ECR}/shop/web`,
      digest: VULNERABLE_DIGEST,
      status: 'COMPLETE',
      severityCounts: { CRITICAL: 3, HIGH: 1 },
      source: 'inspector2-event',
      observedAt: '2026-11-25T07:00:00Z',
    });
    alerts = [];
    const cached = new CachedAllowlist(tables.allowlist, { ttlMs: 60_000 });
    deps = {
      allowlist: { current: () => cached.get() },
      findings: tables.findings,
      alerts: { notify: async (r) => void alerts.push(r) },
      clock: () => new Date('2026-11-25T09:00:00Z'),
      minAlertSeverity: 'medium',
      images: tables.images,
      vulnerableThreshold: 'high',
    };
  });
  afterAll(() => dynamo.stop());

  it('makes one finding per workload container and rule, alerts once, and stays quiet on repeats', async () => {
    // Act: two pods of one Deployment, then the same batch again (a redelivery).
    const first = await ingestPodEvents(
      [podEvent('web-7d9f8b6c5-aaaaa'), podEvent('web-7d9f8b6c5-bbbbb')],
      deps,
    );
    const again = await ingestPodEvents(
      [podEvent('web-7d9f8b6c5-aaaaa'), podEvent('web-7d9f8b6c5-bbbbb')],
      deps,
    );
    // Assess
    expect(first.failed).toEqual([]);
    expect(first.findings).toEqual({ new: 3, reopened: 0, repeat: 3, duplicate: 0 });
    expect(again.findings).toEqual({ new: 0, reopened: 0, repeat: 0, duplicate: 6 });
    const stored = [];
    for await (const f of tables.findings.query({})) stored.push(f);
    expect(stored.map((f) => [f.workload.name, f.container, f.rule]).sort()).toEqual([
      ['web', 'app', 'vulnerable-image'],
      ['web', 'debug', 'untrusted-source'],
      ['web', 'fetch', 'untrusted-source'],
    ]);
    const vulnerable = stored.find((f) => f.rule === 'vulnerable-image');
    expect(vulnerable).toMatchObject({
      severity: 'critical',
      digest: VULNERABLE_DIGEST,
      count: 2,
      message: expect.stringContaining('3 CRITICAL, 1 HIGH'),
    });
    expect(alerts.map((a) => a.outcome)).toEqual(['new', 'new', 'new']);
  });

  it('fails only the invalid record of a batch', async () => {
    const good = podEvent('web-7d9f8b6c5-ccccc');
    const report = await ingestPodEvents([{ cluster: 'demo', reason: 'added' }, good], deps);
    expect(report.failed).toHaveLength(1);
    expect(report.failed[0]).toMatchObject({
      index: 0,
      error: expect.stringContaining('invalid pod event'),
    });
    expect(report.evaluated).toBe(1);
  });

  it('counts audit events that cannot matter and fails events that are not audit events', async () => {
    const report = await ingestAuditEvents(
      [
        { not: 'an audit event' },
        {
          kind: 'Event',
          apiVersion: 'audit.k8s.io/v1',
          level: 'Metadata',
          auditID: 'x1',
          stage: 'ResponseComplete',
          verb: 'get',
          user: { username: 'alice' },
          objectRef: { resource: 'pods', namespace: 'shop', name: 'p' },
          responseStatus: { code: 200 },
          stageTimestamp: '2026-11-25T08:00:00Z',
        },
      ],
      'demo',
      deps,
    );
    expect(report.failed.map((f) => f.index)).toEqual([0]);
    expect(report.skipped).toEqual({ verb: 1 });
  });

  it('lets store errors propagate so the batch is retried', async () => {
    const broken: IngestDeps = {
      ...deps,
      findings: { upsert: async () => Promise.reject(new Error('ProvisionedThroughputExceeded')) },
    };
    await expect(ingestPodEvents([podEvent('web-7d9f8b6c5-ddddd')], broken)).rejects.toThrow(
      'ProvisionedThroughputExceeded',
    );
  });
});
