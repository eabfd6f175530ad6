import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTables,
  LOCAL_TABLE_NAMES,
  type RegwatchTables,
  regwatchTables,
} from '../../lambdas/adapters/dynamodb/index.ts';
import { compileAllowlist, parseAllowlist } from '../../lambdas/core/allowlist/index.ts';
import { ingestPodEvents } from '../../lambdas/services/ingest.ts';
import { jsonLines, runCli } from '../helpers/cli.ts';
import { type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';
import { runningPod } from '../helpers/pod-events.ts';

const ECR = '444455556666.dkr.ecr.eu-central-1.amazonaws.com';
const DIGEST = `sha256:${'b'.repeat(64)}`;
const ALLOWLIST = `version: 1
rules:
  - id: company-ecr
    registry: "${ECR}"
  - id: quay-vendor
    registry: quay.io
    repository: "vendor/**"
`;

function pod(name: string, image: string, namespace = 'shop', cluster = 'prod') {
  return runningPod({
    name,
    image,
    namespace,
    cluster,
    imageID: `${image.split(':')[0]}@${DIGEST}`,
  });
}

describe('regwatch inventory and allowlist what-if against local DynamoDB', () => {
  let dynamo: LocalDynamo;
  let tables: RegwatchTables;
  let target: string[];
  let dir: string;

  beforeAll(async () => {
    dynamo = await startDynalite();
    await createTables(dynamo.client, LOCAL_TABLE_NAMES);
    tables = regwatchTables(dynamo.doc, LOCAL_TABLE_NAMES);
    const doc = parseAllowlist(ALLOWLIST);
    await tables.allowlist.applyDiff(doc);
    await ingestPodEvents(
      [
        pod('web', `${ECR}/shop/web:2`),
        pod('agent', 'quay.io/vendor/agent:3', 'ops'),
        pod('tool', 'evil.example.com/tool:1', 'ops', 'staging'),
      ],
      {
        allowlist: { current: async () => compileAllowlist(doc) },
        findings: tables.findings,
        clock: () => new Date('2026-01-10T10:00:01Z'),
        minAlertSeverity: 'low',
        inventory: { store: tables.inventory, findings: tables.findings },
      },
    );
    target = ['--dynamodb-endpoint', dynamo.endpoint];
    dir = mkdtempSync(path.join(tmpdir(), 'regwatch-inventory-'));
  });
  afterAll(() => dynamo.stop());

  it('lists entries as the contract JSON lines, judged by the stored allowlist', async () => {
    // Act
    const run = await runCli(['inventory', 'list', ...target, '-o', 'json']);

    // Assess
    expect(run.code).toBe(0);
    const lines = jsonLines(run.stdout) as Record<string, unknown>[];
    expect(lines).toHaveLength(3);
    const web = lines.find((l) => l.namespace === 'shop');
    expect(Object.keys(web ?? {})).toEqual([
      'cluster',
      'namespace',
      'workload',
      'container',
      'containerKind',
      'image',
      'reference',
      'digests',
      'sources',
      'firstSeen',
      'lastSeen',
      'actor',
      'allowed',
      'violations',
    ]);
    expect(web).toMatchObject({
      cluster: 'prod',
      workload: { kind: 'Pod', name: 'web' },
      container: 'app',
      containerKind: 'container',
      reference: `${ECR}/shop/web:2`,
      digests: [DIGEST],
      sources: ['forwarder'],
      allowed: true,
      violations: [],
    });
    const tool = lines.find((l) => l.cluster === 'staging');
    expect(tool).toMatchObject({
      allowed: false,
      violations: [{ rule: 'untrusted-source', severity: 'high' }],
    });
  });

  it('filters by cluster, namespace, image and --violating', async () => {
    const ns = await runCli([
      'inventory',
      'list',
      ...target,
      '--cluster',
      'prod',
      '--namespace',
      'ops',
      '--json',
    ]);
    const image = await runCli([
      'inventory',
      'list',
      ...target,
      '--image',
      'quay.io/vendor/agent',
      '--json',
    ]);
    const digest = await runCli(['inventory', 'list', ...target, '--image', DIGEST, '--json']);
    const violating = await runCli(['inventory', 'list', ...target, '--violating', '--json']);
    const csv = await runCli(['inventory', 'list', ...target, '-o', 'csv']);
    const bad = await runCli(['inventory', 'list', ...target, '--namespace', 'ops']);

    expect(
      (jsonLines(ns.stdout) as { container: string; namespace: string }[]).map((l) => l.namespace),
    ).toEqual(['ops']);
    expect(jsonLines(image.stdout)).toHaveLength(1);
    expect(jsonLines(digest.stdout)).toHaveLength(3);
    expect((jsonLines(violating.stdout) as { cluster: string }[]).map((l) => l.cluster)).toEqual([
      'staging',
    ]);
    expect(csv.stdout.split('\r\n')[0]).toContain('cluster,namespace,workloadKind');
    expect(bad.code).toBe(2);
  });

  it('reports per cluster the share trusted and pinned', async () => {
    const run = await runCli(['inventory', 'report', ...target, '-o', 'json']);
    expect(run.code).toBe(0);
    expect(jsonLines(run.stdout)).toEqual([
      {
        cluster: 'prod',
        containers: 2,
        trusted: { count: 2, share: 1 },
        pinned: { count: 0, share: 0 },
        scanned: { count: 0, share: 0 },
        vulnerable: { count: 0, share: 0 },
      },
      {
        cluster: 'staging',
        containers: 1,
        trusted: { count: 0, share: 0 },
        pinned: { count: 0, share: 0 },
        scanned: { count: 0, share: 0 },
        vulnerable: { count: 0, share: 0 },
      },
    ]);
  });

  it('shows the impact of an allowlist change without writing it, and fails on impact when asked', async () => {
    // Prepare: drop the quay exception, allow evil.example.com.
    const file = path.join(dir, 'next.yaml');
    writeFileSync(
      file,
      `version: 1\nrules:\n  - id: company-ecr\n    registry: "${ECR}"\n  - id: evil-ok\n    registry: evil.example.com\n`,
    );

    // Act
    const whatIf = await runCli(['allowlist', 'what-if', file, ...target, '-o', 'json']);
    const gated = await runCli([
      'allowlist',
      'import',
      file,
      '--dry-run',
      '--fail-on-impact',
      ...target,
      '-o',
      'json',
    ]);
    const stored = await runCli(['allowlist', 'list', ...target, '--json']);

    // Assess
    expect(whatIf.code).toBe(0);
    expect(jsonLines(whatIf.stdout)).toEqual([
      {
        rules: { added: ['evil-ok'], removed: ['quay-vendor'], changed: [] },
        impact: {
          newViolations: [
            {
              cluster: 'prod',
              namespace: 'ops',
              workload: { kind: 'Pod', name: 'agent' },
              container: 'app',
              reference: 'quay.io/vendor/agent:3',
              rule: 'untrusted-source',
            },
          ],
          resolved: [
            {
              cluster: 'staging',
              namespace: 'ops',
              workload: { kind: 'Pod', name: 'tool' },
              container: 'app',
              reference: 'evil.example.com/tool:1',
              rule: 'untrusted-source',
            },
          ],
        },
      },
    ]);
    expect(gated.code).toBe(1);
    expect((jsonLines(stored.stdout) as { id: string }[]).map((r) => r.id)).toEqual([
      'company-ecr',
      'quay-vendor',
    ]);
  });
});

describe('regwatch replay --inventory-at', () => {
  const audit = (o: {
    id: string;
    verb: string;
    resource: 'deployments' | 'pods';
    name: string;
    image?: string;
    at: string;
  }) => {
    const object =
      o.resource === 'deployments'
        ? {
            kind: 'Deployment',
            metadata: { name: o.name, namespace: 'shop' },
            spec: { template: { spec: { containers: [{ name: 'app', image: o.image }] } } },
          }
        : {
            kind: 'Pod',
            metadata: {
              name: o.name,
              namespace: 'shop',
              uid: `uid-${o.name}`,
              labels: { 'pod-template-hash': '7d9f8b6c5' },
              ownerReferences: [{ kind: 'ReplicaSet', name: 'web-7d9f8b6c5', controller: true }],
            },
            spec: { containers: [{ name: 'app', image: o.image }] },
          };
    return JSON.stringify({
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'RequestResponse',
      auditID: o.id,
      stage: 'ResponseComplete',
      verb: o.verb,
      user: { username: 'oidc:jane@corp.example', groups: [] },
      objectRef: {
        resource: o.resource,
        namespace: 'shop',
        name: o.name,
        apiGroup: o.resource === 'pods' ? '' : 'apps',
      },
      responseStatus: { code: o.verb === 'create' ? 201 : 200 },
      ...(o.verb === 'delete' ? {} : { requestObject: object, responseObject: object }),
      requestReceivedTimestamp: o.at,
      stageTimestamp: o.at,
    });
  };

  it('folds the log up to TIME: template changes and deletes included', async () => {
    // Prepare
    const dir = mkdtempSync(path.join(tmpdir(), 'regwatch-inventory-at-'));
    const log = path.join(dir, 'audit.jsonl');
    const allowlist = path.join(dir, 'allowlist.yaml');
    writeFileSync(allowlist, ALLOWLIST);
    writeFileSync(
      log,
      `${[
        audit({
          id: '1',
          verb: 'create',
          resource: 'deployments',
          name: 'web',
          image: 'evil.example.com/web:1',
          at: '2026-01-10T10:00:00Z',
        }),
        audit({
          id: '2',
          verb: 'create',
          resource: 'pods',
          name: 'web-7d9f8b6c5-aaaaa',
          image: 'evil.example.com/web:1',
          at: '2026-01-10T10:00:01Z',
        }),
        audit({
          id: '3',
          verb: 'update',
          resource: 'deployments',
          name: 'web',
          image: `${ECR}/shop/web:2`,
          at: '2026-01-10T11:00:00Z',
        }),
        audit({
          id: '4',
          verb: 'create',
          resource: 'pods',
          name: 'web-7d9f8b6c5-bbbbb',
          image: `${ECR}/shop/web:2`,
          at: '2026-01-10T11:00:01Z',
        }),
        audit({
          id: '5',
          verb: 'delete',
          resource: 'pods',
          name: 'web-7d9f8b6c5-aaaaa',
          at: '2026-01-10T11:00:02Z',
        }),
      ].join('\n')}\n`,
    );
    const run = (at: string) =>
      runCli([
        'replay',
        log,
        '--allowlist',
        allowlist,
        '--cluster',
        'prod',
        '--inventory-at',
        at,
        '--json',
      ]);

    // Act
    const early = await run('2026-01-10T10:30:00Z');
    const late = await run('2026-01-10T12:00:00Z');

    // Assess
    const pick = (out: string) =>
      (jsonLines(out) as { image: string; allowed: boolean; workload: { name: string } }[]).map(
        (l) => [l.workload.name, l.image, l.allowed],
      );
    expect(early.code).toBe(0);
    expect(pick(early.stdout)).toEqual([['web', 'evil.example.com/web:1', false]]);
    expect(pick(late.stdout)).toEqual([['web', `${ECR}/shop/web:2`, true]]);
    expect(late.stderr).toContain(
      'inventory at 2026-01-10T12:00:00.000Z: 1 container entry from 5 event(s)',
    );
  });
});
