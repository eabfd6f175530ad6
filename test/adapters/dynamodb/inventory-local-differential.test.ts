/**
 * Local mode's single-writer Inventory adapter against the Lambdas' conditional one: for the
 * same generated sequences of pod sightings, image changes, pod and workload deletes, template
 * writes and resync passes, both leave the same Inventory and Findings tables, item for item,
 * and the same ingest reports; and a reconciliation under a changed allowlist afterwards (the
 * reconciler's conditional verdict writes) keeps them equal.
 */
import { createHash } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FindingsStore } from '../../../lambdas/adapters/dynamodb/findings.ts';
import { InventoryStore } from '../../../lambdas/adapters/dynamodb/inventory.ts';
import { LocalInventoryStore } from '../../../lambdas/adapters/dynamodb/inventory-local.ts';
import { compileAllowlist, parseAllowlist } from '../../../lambdas/core/allowlist/index.ts';
import { ingestAuditEvents, ingestPodEvents } from '../../../lambdas/services/ingest.ts';
import type { IngestDeps } from '../../../lambdas/services/ports.ts';
import { reconcileAll } from '../../../lambdas/services/reconcile.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../../helpers/dynalite.ts';

const before = compileAllowlist(
  parseAllowlist('version: 1\nrules:\n  - id: good\n    registry: good.example.com\n'),
);
// Changed: evil.example.com becomes allowed, good.example.com/lib no longer is.
const after = compileAllowlist(
  parseAllowlist(
    [
      'version: 1',
      'rules:',
      '  - id: evil-now-ok',
      '    registry: evil.example.com',
      '  - id: good-one',
      '    image: "good.example.com/app"',
    ].join('\n'),
  ),
);

const DEPLOYMENTS = ['web', 'api'] as const;
const PODS = ['aaaaa', 'bbbbb', 'ccccc'] as const;
const IMAGES = [
  'good.example.com/app:1',
  'good.example.com/lib:2',
  'evil.example.com/app:1',
] as const;
const RESYNCS = ['r1', 'r2'] as const;
const BASE = Date.parse('2026-01-10T10:00:00Z');

const digestOf = (image: string) => `sha256:${createHash('sha256').update(image).digest('hex')}`;

type PodStep =
  | {
      type: 'pod';
      deployment: string;
      pod: string;
      image: string;
      reason: 'added' | 'running' | 'resync' | 'deleted';
      resyncId: string;
    }
  | { type: 'resync-complete'; resyncId: string };
type AuditStep = { type: 'template' | 'delete'; deployment: string; image: string };
type Batch = { kind: 'pods'; steps: PodStep[] } | { kind: 'audit'; steps: AuditStep[] };

const arbPodStep: fc.Arbitrary<PodStep> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      type: fc.constant('pod' as const),
      deployment: fc.constantFrom(...DEPLOYMENTS),
      pod: fc.constantFrom(...PODS),
      image: fc.constantFrom(...IMAGES),
      reason: fc.constantFrom('added', 'running', 'resync', 'deleted'),
      resyncId: fc.constantFrom(...RESYNCS),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('resync-complete' as const),
      resyncId: fc.constantFrom(...RESYNCS),
    }),
  },
);
const arbAuditStep: fc.Arbitrary<AuditStep> = fc.record({
  type: fc.constantFrom('template', 'delete'),
  deployment: fc.constantFrom(...DEPLOYMENTS),
  image: fc.constantFrom(...IMAGES),
});
const arbBatches: fc.Arbitrary<Batch[]> = fc.array(
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('pods' as const),
        steps: fc.array(arbPodStep, { minLength: 1, maxLength: 5 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('audit' as const),
        steps: fc.array(arbAuditStep, { minLength: 1, maxLength: 2 }),
      }),
    },
  ),
  { minLength: 1, maxLength: 10 },
);

function podEventOf(step: PodStep, at: string): Record<string, unknown> {
  if (step.type === 'resync-complete')
    return { cluster: 'prod', observedAt: at, reason: 'resync-complete', resyncId: step.resyncId };
  const name = `${step.deployment}-7d9f8b6c5-${step.pod}`;
  return {
    cluster: 'prod',
    observedAt: at,
    reason: step.reason,
    ...(step.reason === 'resync' ? { resyncId: step.resyncId } : {}),
    pod: {
      metadata: {
        name,
        namespace: 'shop',
        uid: `uid-${name}`,
        labels: { 'pod-template-hash': '7d9f8b6c5' },
        ownerReferences: [
          { kind: 'ReplicaSet', name: `${step.deployment}-7d9f8b6c5`, controller: true },
        ],
      },
      spec: { containers: [{ name: 'app', image: step.image }] },
      status: {
        containerStatuses: [
          { name: 'app', imageID: `${step.image.split(':')[0]}@${digestOf(step.image)}` },
        ],
      },
    },
  };
}

function auditEventOf(step: AuditStep, at: string, auditID: string): Record<string, unknown> {
  const object = {
    kind: 'Deployment',
    apiVersion: 'apps/v1',
    metadata: { name: step.deployment, namespace: 'shop', uid: `uid-deploy-${step.deployment}` },
    spec: { template: { spec: { containers: [{ name: 'app', image: step.image }] } } },
  };
  const del = step.type === 'delete';
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID,
    stage: 'ResponseComplete',
    verb: del ? 'delete' : 'update',
    user: { username: 'oidc:jane@corp.example', groups: ['system:authenticated'] },
    sourceIPs: ['10.0.0.1'],
    userAgent: 'kubectl/v1.31.0',
    objectRef: {
      resource: 'deployments',
      namespace: 'shop',
      name: step.deployment,
      apiGroup: 'apps',
      apiVersion: 'v1',
    },
    responseStatus: { metadata: {}, code: 200 },
    requestObject: object,
    responseObject: del ? { kind: 'Status', status: 'Success' } : object,
    requestReceivedTimestamp: at,
    stageTimestamp: at,
  };
}

describe('LocalInventoryStore vs InventoryStore (differential, on dynalite)', () => {
  let dynamo: LocalDynamo;
  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(() => dynamo.stop());

  async function scanAll(table: string): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await dynamo.doc.send(
        new ScanCommand({ TableName: table, ...(start ? { ExclusiveStartKey: start } : {}) }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    const key = (i: Record<string, unknown>) =>
      JSON.stringify([i.workloadKey, i.entryKey, i.pk, i.sk, i.id, i.fingerprint]);
    return items.sort((a, b) => key(a).localeCompare(key(b)));
  }

  const RESYNC_MARKER_ORDER = JSON.parse(
    '[{"kind":"pods","steps":[{"type":"pod","deployment":"web","pod":"aaaaa","image":"good.example.com/app:1","reason":"resync","resyncId":"r1"},{"type":"pod","deployment":"web","pod":"aaaaa","image":"good.example.com/app:1","reason":"added","resyncId":"r1"}]},{"kind":"pods","steps":[{"type":"pod","deployment":"api","pod":"aaaaa","image":"good.example.com/app:1","reason":"resync","resyncId":"r2"},{"type":"pod","deployment":"web","pod":"aaaaa","image":"good.example.com/app:1","reason":"added","resyncId":"r1"},{"type":"pod","deployment":"web","pod":"aaaaa","image":"good.example.com/app:1","reason":"resync","resyncId":"r1"}]}]',
  ) as Batch[];

  it('leaves identical tables and reports for every generated sequence', async () => {
    await fc.assert(
      fc.asyncProperty(arbBatches, async (batches) => {
        // Prepare: two table sets, one per adapter, and one clock they share.
        let now = new Date(BASE);
        const sides = await Promise.all(
          (['conditional', 'local'] as const).map(async (kind) => {
            const names = await freshTables(dynamo);
            const findings = new FindingsStore(dynamo.doc, names.findings);
            const store =
              kind === 'local'
                ? await LocalInventoryStore.load(dynamo.doc, names.inventory)
                : new InventoryStore(dynamo.doc, names.inventory);
            const deps: IngestDeps = {
              allowlist: { current: async () => before },
              findings,
              clock: () => now,
              minAlertSeverity: 'low',
              inventory: { store, findings },
            };
            return { names, findings, store, deps };
          }),
        );
        const [conditional, local] = sides as [(typeof sides)[0], (typeof sides)[0]];

        // Act: each batch to both, in turn.
        let step = 0;
        for (const batch of batches) {
          const reports = [];
          for (const side of [conditional, local]) {
            let i = step;
            // 25 s apart: some seen-time advances are under a minute (no write), some over.
            const at = () => new Date(BASE + i++ * 25_000).toISOString();
            now = new Date(BASE + step * 25_000);
            reports.push(
              batch.kind === 'pods'
                ? await ingestPodEvents(
                    batch.steps.map((s) => podEventOf(s, at())),
                    side.deps,
                  )
                : await ingestAuditEvents(
                    batch.steps.map((s) => auditEventOf(s, at(), `a${i}`)),
                    'prod',
                    side.deps,
                  ),
            );
          }
          step += batch.steps.length;
          // Assess: the same answer, and the same tables once answered.
          expect(reports[1]).toEqual(reports[0]);
          expect(await scanAll(local.names.inventory)).toEqual(
            await scanAll(conditional.names.inventory),
          );
          expect(await scanAll(local.names.findings)).toEqual(
            await scanAll(conditional.names.findings),
          );
        }

        // Act: the allowlist changes; the reconciler re-judges both inventories.
        now = new Date(BASE + (step + 10) * 25_000);
        const passes = [];
        for (const side of [conditional, local]) {
          passes.push(
            await reconcileAll(
              after,
              {
                inventory: side.store,
                findings: side.findings,
                minAlertSeverity: 'low',
                clock: () => now,
              },
              { cause: 'differential' },
            ),
          );
        }
        expect(passes[1]).toEqual(passes[0]);
        expect(await scanAll(local.names.inventory)).toEqual(
          await scanAll(conditional.names.inventory),
        );
        expect(await scanAll(local.names.findings)).toEqual(
          await scanAll(conditional.names.findings),
        );
        expect((local.store as LocalInventoryStore).pendingWrites).toBe(0);
      }),
      {
        numRuns: 40,
        // Found by this test in CI: a resync marker written in the workloads' lanes, out of the
        // batch's order (a later pass's start overwritten by an earlier pass's).
        examples: [[RESYNC_MARKER_ORDER]],
      },
    );
  }, 240_000);
});
