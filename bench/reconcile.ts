/**
 * Issue 11 benches, each a ratio measured in the same run on dynalite (ingest with the
 * inventory vs without is `bench/ingest.ts`, over the HTTP path local mode serves):
 *  - a full reconciliation of N inventory entries (default 100,000) of a healthy system (no
 *    verdict changes) vs a bare paginated Scan of the same table (target ≤ 3× the Scan's time);
 *  - a one-rule change (a rule for one exact registry host) re-judging only the entries of
 *    that host through the registry index, vs the full pass.
 *
 * Run: npx node bench/reconcile.ts  (REGWATCH_BENCH_ENTRIES=20000 for a quicker run)
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { regwatchTables } from '../lambdas/adapters/dynamodb/index.ts';
import { compileAllowlist, parseAllowlist } from '../lambdas/core/allowlist/index.ts';
import type { AllowlistRule } from '../lambdas/core/allowlist/schema.ts';
import type { InventoryEntry } from '../lambdas/core/inventory.ts';
import {
  type ReconcileDeps,
  reconcileAll,
  reconcileChange,
} from '../lambdas/services/reconcile.ts';
import { freshTables, startDynalite } from '../test/helpers/dynalite.ts';
import { type BenchResult, report } from './lib.ts';

const ALLOWLIST = parseAllowlist(`version: 1
rules:
  - id: company-ecr
    registry: "444455556666.dkr.ecr.*.amazonaws.com"
  - id: quay-prometheus
    image: "quay.io/prometheus/*"
  - id: k8s
    registry: registry.k8s.io
`);
const IMAGES = [
  '444455556666.dkr.ecr.eu-central-1.amazonaws.com/storefront/web:4.18.2',
  'registry.k8s.io/kube-proxy:v1.30.2',
  'quay.io/prometheus/node-exporter:v1.8.1',
  'ghcr.io/acme/reporter:2.3',
  'redis:7.2.4',
];
const NOW = new Date('2026-01-10T12:00:00Z');

/** Entries judged already (a healthy system): the sweep finds nothing to change. */
function entries(count: number): InventoryEntry[] {
  const decider = compileAllowlist(ALLOWLIST);
  return Array.from({ length: count }, (_, i) => {
    const image = IMAGES[i % IMAGES.length] as string;
    const d = decider.decide(image, { cluster: `c${i % 10}`, namespace: `ns-${i % 50}` }, NOW);
    return {
      cluster: `c${i % 10}`,
      namespace: `ns-${i % 50}`,
      workload: { kind: 'Deployment', name: `w-${i}` },
      container: 'app',
      containerKind: 'container',
      image,
      reference: d.reference?.string ?? null,
      repository: d.reference?.name ?? null,
      registry: d.reference?.domain ?? null,
      digests: [`sha256:${String(i % 1000).padStart(64, 'b')}`],
      sources: ['forwarder'],
      firstSeen: '2026-01-10T10:00:00.000Z',
      lastSeen: '2026-01-10T10:00:00.000Z',
      actor: null,
      pods: [`w-${i}-abcde`],
      template: false,
      violations: d.violations.map((v) => ({ rule: v.rule, severity: v.severity })),
    };
  });
}

export async function run(): Promise<BenchResult[]> {
  const dynamo = await startDynalite();
  const results: BenchResult[] = [];
  try {
    // 1. Full reconciliation vs a bare paginated Scan of the same table.
    const n = Number(process.env.REGWATCH_BENCH_ENTRIES ?? 100_000);
    const tables = regwatchTables(dynamo.doc, await freshTables(dynamo));
    await tables.inventory.importEntries(entries(n));
    const scanStart = performance.now();
    let scanned = 0;
    let key: Record<string, unknown> | undefined;
    do {
      const out = await dynamo.doc.send(
        new ScanCommand({
          TableName: tables.inventory.tableName,
          Limit: 500,
          ...(key ? { ExclusiveStartKey: key } : {}),
        }),
      );
      scanned += out.Items?.length ?? 0;
      key = out.LastEvaluatedKey;
    } while (key);
    const scanMs = performance.now() - scanStart;
    const deps: ReconcileDeps = {
      inventory: tables.inventory,
      findings: tables.findings,
      minAlertSeverity: 'low',
      clock: () => NOW,
    };
    const decider = compileAllowlist(ALLOWLIST);
    const fullStart = performance.now();
    const full = await reconcileAll(decider, deps);
    const fullMs = performance.now() - fullStart;
    results.push({
      name: `full reconciliation of ${n} entries`,
      value: fullMs,
      unit: 'ms',
      baseline: { name: `bare Scan (${scanned} items)`, value: scanMs },
      ratio: fullMs / scanMs,
      note: `${full.judged} judged, ${full.changed} changed; target ≤ 3x the Scan's time`,
    });

    // 2. One rule for one exact host changes (its text, not its verdicts): only that host's
    // entries are re-judged, through the registry index, against the full pass's N.
    const k8s = ALLOWLIST.rules.find((r) => r.id === 'k8s') as AllowlistRule;
    const edited: AllowlistRule = { ...k8s, reason: 'reviewed' };
    const after = compileAllowlist({
      ...ALLOWLIST,
      rules: ALLOWLIST.rules.map((r) => (r.id === 'k8s' ? edited : r)),
    });
    const oneStart = performance.now();
    const one = await reconcileChange([k8s, edited], false, after, deps, 'bench:one-rule');
    const oneMs = performance.now() - oneStart;
    results.push({
      name: 'one-rule change',
      value: oneMs,
      unit: 'ms',
      baseline: { name: 'full pass', value: fullMs },
      ratio: oneMs / fullMs,
      note: `${one.scope}: ${one.judged} of ${n} entries re-judged (${full.judged} in the full pass), ${one.changed} changed`,
    });
  } finally {
    await dynamo.stop();
  }
  return results;
}

if (import.meta.main) report(await run());
