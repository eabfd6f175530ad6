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
  return {
    cluster,
    observedAt: '2026-01-10T10:00:00Z',
    reason: 'running',
    pod: {
      metadata: { name, namespace, uid: `uid-${name}` },
      spec: { containers: [{ name: 'app', image }] },
      status: {
        containerStatuses: [{ name: 'app', imageID: `${image.split(':')[0]}@${DIGEST}` }],
      },
    },
  };
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
