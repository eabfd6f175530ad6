/**
 * End to end, issue 11: `regwatch local` as a child process keeps findings equal to what runs
 * now, judged by the allowlist in force now: a fixed Deployment auto-resolves without an
 * alert, removing a rule opens (and alerts) a finding for a workload that did not change, an
 * exception expires on time, a scan reaches the running digest at once, and a resync pass
 * that misses a pod removes its entry. Everything goes in over HTTP and the CLI.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../lambdas/core/types.ts';
import { jsonLines, runCli } from '../helpers/cli.ts';
import { type LocalChild, localReady, spawnLocal } from '../helpers/local-child.ts';

const ECR = '444455556666.dkr.ecr.eu-central-1.amazonaws.com';
const sha = (c: string) => `sha256:${c.repeat(64)}`;
/** The exception expires this long after the child starts. */
const EXPIRY_MS = 8000;

let child: ChildProcess | undefined;
let local: LocalChild | undefined;
const output = () => local?.output() ?? '';
let dir: string;
let ready: { url: string; dynamodbEndpoint: string };
let expiresAt: string;

function killChild(): void {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  limitMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`gave up waiting for ${what}; child said:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function pod(o: {
  name: string;
  image: string;
  digest: string;
  reason?: string;
  resyncId?: string;
  deployment?: string;
  namespace?: string;
}) {
  const deployment = o.deployment ?? o.name;
  return {
    cluster: 'orion-prod-euc1',
    observedAt: new Date().toISOString(),
    reason: o.reason ?? 'running',
    ...(o.resyncId ? { resyncId: o.resyncId } : {}),
    pod: {
      metadata: {
        name: `${deployment}-7d9f8b6c5-${o.name.padEnd(5, 'x').slice(0, 5)}`,
        namespace: o.namespace ?? 'shop',
        uid: `uid-${o.name}`,
        labels: { 'pod-template-hash': '7d9f8b6c5' },
        ownerReferences: [
          { kind: 'ReplicaSet', name: `${deployment}-7d9f8b6c5`, controller: true },
        ],
      },
      spec: { containers: [{ name: 'app', image: o.image }] },
      status: {
        containerStatuses: [
          { name: 'app', image: o.image, imageID: `${o.image.split(/[:@]/)[0]}@${o.digest}` },
        ],
      },
    },
  };
}

function deploymentUpdate(image: string) {
  const object = {
    kind: 'Deployment',
    apiVersion: 'apps/v1',
    metadata: { name: 'web', namespace: 'shop', uid: 'uid-deploy-web' },
    spec: { template: { spec: { containers: [{ name: 'app', image }] } } },
  };
  const now = new Date().toISOString();
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: 'audit-deploy-fix',
    stage: 'ResponseComplete',
    verb: 'update',
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
    responseObject: object,
    requestReceivedTimestamp: now,
    stageTimestamp: now,
  };
}

async function post(route: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${ready.url}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const report = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`${route}: HTTP ${res.status} ${JSON.stringify(report)}`);
  return report;
}

const target = () => ['--dynamodb-endpoint', ready.dynamodbEndpoint];

async function findings(): Promise<Finding[]> {
  const run = await runCli(['findings', 'list', ...target(), '--json']);
  return jsonLines(run.stdout) as Finding[];
}
const alerts = () =>
  output()
    .split('\n')
    .filter((l) => l.startsWith('ALERT '));

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'regwatch-reconcile-e2e-'));
  const readyFile = path.join(dir, 'ready.json');
  const allowlist = path.join(dir, 'allowlist.yaml');
  expiresAt = new Date(Date.now() + EXPIRY_MS).toISOString();
  writeFileSync(
    allowlist,
    `version: 1
rules:
  - id: company-ecr
    registry: "${ECR}"
  - id: quay-vendor
    registry: quay.io
    repository: "vendor/**"
  - id: ghcr-tool-exception
    registry: ghcr.io
    repository: "tools/**"
    expiresAt: "${expiresAt}"
    reason: until the vendor publishes to ECR
`,
  );
  process.once('exit', killChild);
  local = spawnLocal(['--allowlist', allowlist], readyFile);
  child = local.child;
  ready = await localReady(local, readyFile, 30_000);
}, 60_000);

afterAll(() => {
  killChild();
  process.off('exit', killChild);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('regwatch local keeps the picture true', () => {
  it('auto-resolves a fixed Deployment as no-longer-running, without an alert', async () => {
    // Prepare: an untrusted pod of Deployment web.
    await post('/v1/pod-events', [
      pod({ name: 'web', image: 'evil.example.com/web:1', digest: sha('1') }),
    ]);
    const [open] = await findings();
    expect(open).toMatchObject({ status: 'OPEN', rule: 'untrusted-source' });
    const alertsBefore = alerts().length;
    expect(alertsBefore).toBe(1);

    // Act: the Deployment moves to an allowed image; its new pod runs; the old pod goes.
    await post('/v1/audit?cluster=orion-prod-euc1', {
      kind: 'EventList',
      apiVersion: 'audit.k8s.io/v1',
      items: [deploymentUpdate(`${ECR}/shop/web:2`)],
    });
    await post('/v1/pod-events', [
      pod({ name: 'webnew', deployment: 'web', image: `${ECR}/shop/web:2`, digest: sha('2') }),
      pod({ name: 'web', image: 'evil.example.com/web:1', digest: sha('1'), reason: 'deleted' }),
    ]);

    // Assess
    const [resolved] = await findings();
    expect(resolved?.status).toBe('RESOLVED');
    expect(resolved?.resolution).toMatchObject({ by: 'regwatch', reason: 'no-longer-running' });
    expect(alerts().length).toBe(alertsBefore);
  });

  it('opens a finding and alerts when a rule is removed, for a workload that did not change', async () => {
    // Prepare
    await post('/v1/pod-events', [
      pod({ name: 'agent', image: 'quay.io/vendor/agent:3', digest: sha('3') }),
    ]);
    expect((await findings()).filter((f) => f.workload.name === 'agent')).toEqual([]);

    // Act
    const removed = await runCli(['allowlist', 'remove', 'quay-vendor', ...target()]);

    // Assess
    expect(removed.code).toBe(0);
    const opened = await waitFor('the finding for agent', async () =>
      (await findings()).find((f) => f.workload.name === 'agent'),
    );
    expect(opened).toMatchObject({ status: 'OPEN', rule: 'untrusted-source' });
    await waitFor('its alert', () => alerts().find((l) => l.includes('quay.io/vendor/agent:3')));
  });

  it('re-judges an exception within a minute of its expiresAt: expired-exception and its alert', async () => {
    // Prepare
    await post('/v1/pod-events', [
      pod({ name: 'tool', image: 'ghcr.io/tools/jq:1', digest: sha('4') }),
    ]);
    expect((await findings()).filter((f) => f.workload.name === 'tool')).toEqual([]);

    // Act / Assess: wait past the expiry (bounded by the one-minute guarantee).
    const expired = await waitFor(
      'the expired-exception finding',
      async () => (await findings()).find((f) => f.workload.name === 'tool'),
      60_000 + EXPIRY_MS,
    );
    expect(expired.rule).toBe('expired-exception');
    expect(Date.parse(expired.firstSeen)).toBeGreaterThanOrEqual(Date.parse(expiresAt));
    expect(Date.parse(expired.firstSeen) - Date.parse(expiresAt)).toBeLessThan(60_000);
    await waitFor('its alert', () => alerts().find((l) => l.includes('ghcr.io/tools/jq:1')));
  }, 90_000);

  it('gives a running digest its vulnerable-image finding as soon as a scan with criticals arrives', async () => {
    // Prepare: web's new pod runs sha('2') of shop/web.
    const scan = {
      version: '0',
      id: 'scan-1',
      'detail-type': 'Inspector2 Scan',
      source: 'aws.inspector2',
      account: '444455556666',
      time: new Date().toISOString(),
      region: 'eu-central-1',
      resources: [`arn:aws:ecr:eu-central-1:444455556666:repository/shop/web`],
      detail: {
        'scan-status': 'INITIAL_SCAN_COMPLETE',
        'repository-name': 'arn:aws:ecr:eu-central-1:444455556666:repository/shop/web',
        'image-digest': sha('2'),
        'image-tags': ['2'],
        'finding-severity-counts': { CRITICAL: 2, HIGH: 1, TOTAL: 3 },
      },
    };

    // Act
    await post('/v1/events', [scan]);

    // Assess: at once, when the request returns.
    const vulnerable = (await findings()).filter(
      (f) => f.rule === 'vulnerable-image' && f.cluster === 'orion-prod-euc1',
    );
    expect(vulnerable.map((f) => [f.workload.name, f.severity, f.status])).toEqual([
      ['web', 'critical', 'OPEN'],
    ]);
  });

  it('removes the inventory entry of a pod a resync pass missed', async () => {
    // Prepare: pass r1 sees both pods.
    const a = {
      name: 'cachea',
      deployment: 'cache',
      image: `${ECR}/shop/cache:1`,
      digest: sha('5'),
      namespace: 'infra',
    };
    const b = {
      name: 'queueb',
      deployment: 'queue',
      image: `${ECR}/shop/queue:1`,
      digest: sha('6'),
      namespace: 'infra',
    };
    const complete = (resyncId: string) => ({
      cluster: 'orion-prod-euc1',
      observedAt: new Date().toISOString(),
      reason: 'resync-complete',
      resyncId,
    });
    await post('/v1/pod-events', [
      pod({ ...a, reason: 'resync', resyncId: 'r1' }),
      pod({ ...b, reason: 'resync', resyncId: 'r1' }),
      complete('r1'),
    ]);
    const listed = async () =>
      (
        jsonLines(
          (
            await runCli([
              'inventory',
              'list',
              ...target(),
              '--cluster',
              'orion-prod-euc1',
              '--namespace',
              'infra',
              '-o',
              'json',
            ])
          ).stdout,
        ) as { workload: { name: string } }[]
      ).map((l) => l.workload.name);
    expect(await listed()).toEqual(['cache', 'queue']);

    // Act: pass r2 misses queue.
    await post('/v1/pod-events', [pod({ ...a, reason: 'resync', resyncId: 'r2' }), complete('r2')]);

    // Assess
    expect(await listed()).toEqual(['cache']);
  });
});
