import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RegwatchTables, regwatchTables } from '../../lambdas/adapters/dynamodb/index.ts';
import { compileAllowlist, parseAllowlist } from '../../lambdas/core/allowlist/index.ts';
import type { AllowlistDocument } from '../../lambdas/core/allowlist/schema.ts';
import type { Finding, UpsertResult } from '../../lambdas/core/types.ts';
import { ingestAuditEvents, ingestPodEvents } from '../../lambdas/services/ingest.ts';
import type { IngestDeps } from '../../lambdas/services/ports.ts';
import {
  type ReconcileDeps,
  reconcileAll,
  reconcileChange,
  reconcileDigest,
} from '../../lambdas/services/reconcile.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';
import { type DeploymentPod, deploymentPod as podOfDeployment } from '../helpers/pod-events.ts';

const ECR = '444455556666.dkr.ecr.eu-central-1.amazonaws.com';
const BASE = `version: 1
rules:
  - id: company-ecr
    registry: "${ECR}"
  - id: quay-exception
    registry: quay.io
    repository: "vendor/**"
`;
const digest = (c: string) => `sha256:${c.repeat(64)}`;

function deploymentPod(opts: DeploymentPod & { digest?: string }): Record<string, unknown> {
  const { digest: d, ...rest } = opts;
  return podOfDeployment({
    ...rest,
    imageID: `${opts.image.split(/[:@]/)[0]}@${d ?? digest('a')}`,
  });
}

function auditDeployment(opts: {
  auditID: string;
  image: string;
  verb?: string;
  at?: string;
}): Record<string, unknown> {
  const object = {
    kind: 'Deployment',
    apiVersion: 'apps/v1',
    metadata: { name: 'web', namespace: 'shop', uid: 'uid-deploy-web' },
    spec: { template: { spec: { containers: [{ name: 'app', image: opts.image }] } } },
  };
  const at = opts.at ?? '2026-01-10T11:00:00.000Z';
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: opts.auditID,
    stage: 'ResponseComplete',
    verb: opts.verb ?? 'update',
    user: { username: 'oidc:jane@corp.example', groups: ['system:authenticated'] },
    sourceIPs: ['10.0.0.1'],
    userAgent: 'kubectl/v1.31.0',
    objectRef: {
      resource: 'deployments',
      namespace: 'shop',
      name: 'web',
      apiGroup: 'apps',
      apiVersion: 'v1',
    },
    responseStatus: { metadata: {}, code: 200 },
    requestObject: object,
    responseObject: opts.verb === 'delete' ? { kind: 'Status', status: 'Success' } : object,
    requestReceivedTimestamp: at,
    stageTimestamp: at,
  };
}

describe('reconciliation on dynalite', () => {
  let dynamo: LocalDynamo;
  let tables: RegwatchTables;
  let alerts: UpsertResult[];
  let now: Date;
  let allowlist: AllowlistDocument;
  let ingest: IngestDeps;
  let reconcile: ReconcileDeps;

  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(() => dynamo.stop());
  beforeEach(async () => {
    tables = regwatchTables(dynamo.doc, await freshTables(dynamo));
    alerts = [];
    now = new Date('2026-01-10T12:00:00Z');
    allowlist = parseAllowlist(BASE);
    const alertPort = { notify: async (r: UpsertResult) => void alerts.push(r) };
    ingest = {
      allowlist: { current: async () => compileAllowlist(allowlist) },
      findings: tables.findings,
      alerts: alertPort,
      clock: () => now,
      minAlertSeverity: 'low',
      images: tables.images,
      vulnerableThreshold: 'high',
      inventory: { store: tables.inventory, findings: tables.findings },
    };
    reconcile = {
      inventory: tables.inventory,
      findings: tables.findings,
      alerts: alertPort,
      minAlertSeverity: 'low',
      images: tables.images,
      vulnerableThreshold: 'high',
      clock: () => now,
    };
  });

  async function findings(): Promise<Finding[]> {
    const out: Finding[] = [];
    for await (const f of tables.findings.query({})) out.push(f);
    return out.sort((a, b) => a.rule.localeCompare(b.rule) || a.image.localeCompare(b.image));
  }
  async function inventory() {
    const out = [];
    for await (const s of tables.inventory.query({})) out.push(s.entry);
    return out;
  }

  it('resolves a fixed Deployment as no-longer-running once its old pods are gone, without an alert', async () => {
    // Prepare: an untrusted pod of Deployment web.
    await ingestPodEvents(
      [deploymentPod({ pod: 'web-7d9f8b6c5-aaaaa', image: 'evil.example.com/web:1' })],
      ingest,
    );
    expect((await findings()).map((f) => [f.rule, f.status])).toEqual([
      ['untrusted-source', 'OPEN'],
    ]);
    alerts = [];

    // Act: the template moves to an allowed image; the old pod is deleted.
    await ingestAuditEvents(
      [auditDeployment({ auditID: 'a1', image: `${ECR}/shop/web:2` })],
      'prod',
      ingest,
    );
    const stillRunning = await findings();
    const report = await ingestPodEvents(
      [
        deploymentPod({
          pod: 'web-7d9f8b6c5-aaaaa',
          image: 'evil.example.com/web:1',
          reason: 'deleted',
        }),
      ],
      ingest,
    );

    // Assess
    expect(stillRunning[0]?.status).toBe('OPEN'); // the old pod still ran it
    expect(report.findings.resolved).toBe(1);
    const [f] = await findings();
    expect(f?.status).toBe('RESOLVED');
    expect(f?.resolution).toEqual({
      by: 'regwatch',
      reason: 'no-longer-running',
      at: now.toISOString(),
    });
    expect(alerts).toEqual([]);
    const entries = await inventory();
    expect(entries.map((e) => [e.image, e.template, e.pods])).toEqual([
      [`${ECR}/shop/web:2`, true, []],
    ]);
  });

  it('reopens an auto-resolved finding on a later sighting and alerts it as reopened', async () => {
    // Prepare
    const pod = { pod: 'web-7d9f8b6c5-aaaaa', image: 'evil.example.com/web:1' };
    await ingestPodEvents([deploymentPod(pod)], ingest);
    await ingestPodEvents([deploymentPod({ ...pod, reason: 'deleted' })], ingest);
    alerts = [];

    // Act
    now = new Date('2026-01-10T13:00:00Z');
    await ingestPodEvents(
      [deploymentPod({ ...pod, pod: 'web-7d9f8b6c5-bbbbb', at: '2026-01-10T12:30:00Z' })],
      ingest,
    );

    // Assess
    expect((await findings())[0]?.status).toBe('OPEN');
    expect(alerts.map((a) => a.outcome)).toEqual(['reopened']);
  });

  it('opens a finding and alerts when a rule is removed, for a workload that did not change', async () => {
    // Prepare: allowed by the quay exception.
    await ingestPodEvents(
      [deploymentPod({ pod: 'web-7d9f8b6c5-aaaaa', image: 'quay.io/vendor/agent:3' })],
      ingest,
    );
    expect(await findings()).toEqual([]);
    const removed = allowlist.rules.find((r) => r.id === 'quay-exception');
    if (!removed) throw new Error('fixture');

    // Act
    allowlist = { ...allowlist, rules: allowlist.rules.filter((r) => r !== removed) };
    const report = await reconcileChange(
      [removed],
      false,
      compileAllowlist(allowlist),
      reconcile,
      'allowlist:2',
    );

    // Assess: only the quay.io entries were re-judged (the registry index).
    expect(report.scope).toBe('registries');
    expect(report.judged).toBe(1);
    expect((await findings()).map((f) => [f.rule, f.status, f.reference])).toEqual([
      ['untrusted-source', 'OPEN', 'quay.io/vendor/agent:3'],
    ]);
    expect(alerts.map((a) => [a.outcome, a.finding.rule])).toEqual([['new', 'untrusted-source']]);
  });

  it('resolves findings as now-allowed when a rule is added, and a second pass changes nothing', async () => {
    // Prepare
    await ingestPodEvents(
      [deploymentPod({ pod: 'web-7d9f8b6c5-aaaaa', image: 'ghcr.io/acme/web:1' })],
      ingest,
    );
    allowlist = parseAllowlist(
      `${BASE}  - id: ghcr-acme\n    registry: ghcr.io\n    repository: "acme/**"\n`,
    );

    // Act
    const first = await reconcileAll(compileAllowlist(allowlist), reconcile);
    const second = await reconcileAll(compileAllowlist(allowlist), reconcile);

    // Assess
    expect(first.resolved['now-allowed']).toBe(1);
    expect((await findings())[0]?.resolution?.reason).toBe('now-allowed');
    expect(second).toMatchObject({ judged: 1, changed: 0, opened: { new: 0, reopened: 0 } });
    expect(second.resolved['now-allowed']).toBe(0);
  });

  it('turns an exception into expired-exception once its expiresAt passes', async () => {
    // Prepare
    allowlist = parseAllowlist(
      BASE.replace(
        'repository: "vendor/**"',
        'repository: "vendor/**"\n    expiresAt: "2026-01-10T12:00:05Z"',
      ),
    );
    await ingestPodEvents(
      [deploymentPod({ pod: 'web-7d9f8b6c5-aaaaa', image: 'quay.io/vendor/agent:3' })],
      ingest,
    );
    const rule = allowlist.rules.find((r) => r.id === 'quay-exception');
    if (!rule) throw new Error('fixture');
    expect(await findings()).toEqual([]);

    // Act
    now = new Date('2026-01-10T12:00:06Z');
    await reconcileChange([rule], false, compileAllowlist(allowlist), reconcile, 'expiry');

    // Assess
    expect((await findings()).map((f) => [f.rule, f.status])).toEqual([
      ['expired-exception', 'OPEN'],
    ]);
    expect(alerts.map((a) => a.finding.rule)).toEqual(['expired-exception']);
  });

  it('gives every entry running a digest its vulnerable-image finding at once, and a clean scan resolves it', async () => {
    // Prepare: two workloads run the same digest.
    const d = digest('c');
    await ingestPodEvents(
      [
        deploymentPod({ pod: 'web-7d9f8b6c5-aaaaa', image: `${ECR}/shop/web:2`, digest: d }),
        deploymentPod({
          pod: 'api-7d9f8b6c5-aaaaa',
          image: `${ECR}/shop/web:2`,
          digest: d,
          deployment: 'api',
        }),
      ],
      ingest,
    );
    expect(await findings()).toEqual([]);

    // Act
    await tables.images.recordScan({
      repository: `${ECR}/shop/web`,
      digest: d,
      status: 'COMPLETE',
      severityCounts: { CRITICAL: 2 },
      source: 'inspector2-event',
      observedAt: '2026-01-10T11:59:00Z',
    });
    const hit = await reconcileDigest(d, compileAllowlist(allowlist), reconcile, 'scan:1');
    const vulnerable = await findings();
    await tables.images.recordScan({
      repository: `${ECR}/shop/web`,
      digest: d,
      status: 'COMPLETE',
      severityCounts: { CRITICAL: 0, LOW: 1 },
      source: 'inspector2-event',
      observedAt: '2026-01-10T12:30:00Z',
    });
    const clean = await reconcileDigest(d, compileAllowlist(allowlist), reconcile, 'scan:2');

    // Assess
    expect(hit.opened.new).toBe(2);
    expect(vulnerable.map((f) => [f.workload.name, f.rule, f.severity]).sort()).toEqual([
      ['api', 'vulnerable-image', 'critical'],
      ['web', 'vulnerable-image', 'critical'],
    ]);
    expect(clean.resolved['now-allowed']).toBe(2);
    expect((await findings()).every((f) => f.status === 'RESOLVED')).toBe(true);
  });

  it('removes the entries a resync pass missed and resolves their findings', async () => {
    // Prepare: two bare-Deployment pods seen in pass r1.
    await ingestPodEvents(
      [
        deploymentPod({
          pod: 'web-7d9f8b6c5-aaaaa',
          image: 'evil.example.com/web:1',
          reason: 'resync',
          resyncId: 'r1',
        }),
        deploymentPod({
          pod: 'api-7d9f8b6c5-aaaaa',
          image: 'evil.example.com/api:1',
          reason: 'resync',
          resyncId: 'r1',
          deployment: 'api',
        }),
        {
          cluster: 'prod',
          observedAt: '2026-01-10T10:00:01Z',
          reason: 'resync-complete',
          resyncId: 'r1',
        },
      ],
      ingest,
    );
    expect((await inventory()).length).toBe(2);

    // Act: pass r2 sees only web.
    const report = await ingestPodEvents(
      [
        deploymentPod({
          pod: 'web-7d9f8b6c5-aaaaa',
          image: 'evil.example.com/web:1',
          reason: 'resync',
          resyncId: 'r2',
          at: '2026-01-10T11:00:00Z',
        }),
        {
          cluster: 'prod',
          observedAt: '2026-01-10T11:00:01Z',
          reason: 'resync-complete',
          resyncId: 'r2',
        },
      ],
      ingest,
    );

    // Assess
    expect(report.failed).toEqual([]);
    expect((await inventory()).map((e) => e.workload.name)).toEqual(['web']);
    const byWorkload = Object.fromEntries((await findings()).map((f) => [f.workload.name, f]));
    expect(byWorkload.api?.status).toBe('RESOLVED');
    expect(byWorkload.api?.resolution?.reason).toBe('no-longer-running');
    expect(byWorkload.web?.status).toBe('OPEN');
  });

  it('resolves a deleted workload as workload-deleted and keeps a suppression until it ends', async () => {
    // Prepare: the Deployment's template and a pod, both untrusted; one finding suppressed.
    await ingestAuditEvents(
      [
        auditDeployment({
          auditID: 'a1',
          image: 'evil.example.com/web:1',
          at: '2026-01-10T10:00:00Z',
        }),
      ],
      'prod',
      ingest,
    );
    await ingestPodEvents(
      [deploymentPod({ pod: 'web-7d9f8b6c5-aaaaa', image: 'evil.example.com/web:1' })],
      ingest,
    );
    await ingestPodEvents(
      [
        deploymentPod({
          pod: 'other-7d9f8b6c5-aaaaa',
          image: 'evil.example.com/other:1',
          deployment: 'other',
        }),
      ],
      ingest,
    );
    const other = (await findings()).find((f) => f.workload.name === 'other');
    if (!other) throw new Error('fixture');
    await tables.findings.setStatus(other.id, {
      status: 'SUPPRESSED',
      by: 'jane',
      at: '2026-01-10T11:30:00Z',
      reason: 'vendor fix pending',
      until: '2026-02-01T00:00:00Z',
    });

    // Act
    await ingestAuditEvents(
      [auditDeployment({ auditID: 'a2', image: 'evil.example.com/web:1', verb: 'delete' })],
      'prod',
      ingest,
    );
    await ingestPodEvents(
      [
        deploymentPod({
          pod: 'other-7d9f8b6c5-aaaaa',
          image: 'evil.example.com/other:1',
          deployment: 'other',
          reason: 'deleted',
        }),
      ],
      ingest,
    );

    // Assess
    const byWorkload = Object.fromEntries((await findings()).map((f) => [f.workload.name, f]));
    expect(byWorkload.web?.resolution?.reason).toBe('workload-deleted');
    expect(byWorkload.other?.status).toBe('SUPPRESSED');
    expect(await inventory()).toEqual([]);
  });

  it('treats an acknowledged finding like an open one', async () => {
    await ingestPodEvents(
      [deploymentPod({ pod: 'web-7d9f8b6c5-aaaaa', image: 'evil.example.com/web:1' })],
      ingest,
    );
    const [f] = await findings();
    if (!f) throw new Error('fixture');
    await tables.findings.setStatus(f.id, {
      status: 'ACKNOWLEDGED',
      by: 'jane',
      at: '2026-01-10T11:00:00Z',
      reason: 'on it',
    });
    await ingestPodEvents(
      [
        deploymentPod({
          pod: 'web-7d9f8b6c5-aaaaa',
          image: 'evil.example.com/web:1',
          reason: 'deleted',
        }),
      ],
      ingest,
    );
    expect((await findings())[0]?.resolution?.reason).toBe('no-longer-running');
  });
});
