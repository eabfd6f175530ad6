/**
 * A complete forwarder resync pass resolves the cluster's active findings that no inventory
 * entry holds and that were last seen before the pass began: findings made before the
 * inventory existed, or whose entry went without its resolution. Both Inventory adapters, on
 * dynalite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileAllowlist, parseAllowlist } from '../../lambdas/core/allowlist/index.ts';
import { entryId } from '../../lambdas/core/inventory.ts';
import type { Finding } from '../../lambdas/core/types.ts';
import { ingestPodEvents } from '../../lambdas/services/ingest.ts';
import type { IngestDeps } from '../../lambdas/services/ports.ts';
import { resolveOrphanedFindings } from '../../lambdas/services/resync-orphans.ts';
import { freshStores, type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';
import { deploymentPod } from '../helpers/pod-events.ts';

const decider = compileAllowlist(
  parseAllowlist(`version: 1
rules:
  - id: company-ecr
    registry: "444455556666.dkr.ecr.eu-central-1.amazonaws.com"
`),
);
const UNTRUSTED = 'evil.example.com/tool:1';
const resyncComplete = (id: string, at: string) => ({
  cluster: 'prod',
  observedAt: at,
  reason: 'resync-complete',
  resyncId: id,
});

describe.each(['conditional', 'local'] as const)('orphaned findings (%s adapter)', (adapter) => {
  let dynamo: LocalDynamo;

  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(() => dynamo.stop());

  async function setup() {
    const { tables, inventory } = await freshStores(dynamo, adapter);
    const now = { at: new Date('2026-01-10T12:00:00Z') };
    const base: IngestDeps = {
      allowlist: { current: async () => decider },
      findings: tables.findings,
      clock: () => now.at,
      minAlertSeverity: 'low',
    };
    const withInventory: IngestDeps = {
      ...base,
      inventory: { store: inventory, findings: tables.findings },
    };
    const statuses = async () => {
      const out: [string, string, string | undefined][] = [];
      for await (const f of tables.findings.query({}))
        out.push([f.workload.name, f.status, f.resolution?.reason]);
      return out.sort((a, b) => a[0].localeCompare(b[0]));
    };
    return { tables, base, withInventory, statuses };
  }

  it('resolves a finding made before the inventory, once a complete pass has not seen it', async () => {
    // Prepare: two findings from before the inventory; then a pass that sees only one pod.
    const { base, withInventory, statuses } = await setup();
    await ingestPodEvents(
      [
        deploymentPod({ pod: 'old-1', deployment: 'old', image: UNTRUSTED }),
        deploymentPod({ pod: 'live-1', deployment: 'live', image: UNTRUSTED }),
      ],
      base,
    );
    const pass = deploymentPod({
      pod: 'live-1',
      deployment: 'live',
      image: UNTRUSTED,
      reason: 'resync',
      resyncId: 'r1',
      at: '2026-01-10T11:00:00Z',
    });

    // Act
    const report = await ingestPodEvents(
      [pass, resyncComplete('r1', '2026-01-10T11:01:00Z')],
      withInventory,
    );

    // Assess: nothing runs `old`; `live` runs and stays open. A second pass changes nothing.
    expect(report.failed).toEqual([]);
    expect(report.findings.resolved).toBe(1);
    expect(await statuses()).toEqual([
      ['live', 'OPEN', undefined],
      ['old', 'RESOLVED', 'no-longer-running'],
    ]);
    const again = await ingestPodEvents(
      [
        { ...pass, resyncId: 'r2', observedAt: '2026-01-10T11:10:00Z' },
        resyncComplete('r2', '2026-01-10T11:11:00Z'),
      ],
      withInventory,
    );
    expect(again.findings.resolved ?? 0).toBe(0);
  });

  it('keeps a finding seen after the pass began and a suppressed one', async () => {
    // Prepare
    const { tables, base, withInventory, statuses } = await setup();
    await ingestPodEvents(
      [deploymentPod({ pod: 'quiet-1', deployment: 'quiet', image: UNTRUSTED })],
      base,
    );
    const quiet = (await first(tables.findings.query({}))) as Finding;
    await tables.findings.setStatus(quiet.fingerprint, {
      status: 'SUPPRESSED',
      by: 'alice',
      reason: 'vendor fix pending',
      at: '2026-01-10T10:30:00.000Z',
      until: '2026-02-01T00:00:00.000Z',
    });
    const startPass = deploymentPod({
      pod: 'other-1',
      deployment: 'other',
      image: '444455556666.dkr.ecr.eu-central-1.amazonaws.com/app:1',
      reason: 'resync',
      resyncId: 'r1',
      at: '2026-01-10T11:00:00Z',
    });
    // The pass begins; then `late` is seen (without the inventory, as by an older writer).
    await ingestPodEvents([startPass], withInventory);
    await ingestPodEvents(
      [
        deploymentPod({
          pod: 'late-1',
          deployment: 'late',
          image: UNTRUSTED,
          at: '2026-01-10T11:00:30Z',
        }),
      ],
      base,
    );

    // Act
    const report = await ingestPodEvents(
      [resyncComplete('r1', '2026-01-10T11:01:00Z')],
      withInventory,
    );

    // Assess
    expect(report.findings.resolved ?? 0).toBe(0);
    expect(await statuses()).toEqual([
      ['late', 'OPEN', undefined],
      ['quiet', 'SUPPRESSED', undefined],
    ]);
  });

  it('resolves nothing when the pass’s start is not known', async () => {
    // Prepare: a finding from before the inventory, and a marker for a pass never begun here.
    const { base, withInventory, statuses } = await setup();
    await ingestPodEvents(
      [deploymentPod({ pod: 'old-1', deployment: 'old', image: UNTRUSTED })],
      base,
    );

    // Act
    const report = await ingestPodEvents(
      [resyncComplete('unknown', '2026-01-10T11:01:00Z')],
      withInventory,
    );

    // Assess
    expect(report.findings.resolved ?? 0).toBe(0);
    expect(await statuses()).toEqual([['old', 'OPEN', undefined]]);
  });
});

async function first<T>(items: AsyncIterable<T>): Promise<T | undefined> {
  for await (const item of items) return item;
  return undefined;
}

describe('resolveOrphanedFindings bounds', () => {
  const finding = (name: string, over: Partial<Finding> = {}): Finding =>
    ({
      fingerprint: `fp-${name}`,
      cluster: 'prod',
      namespace: 'shop',
      workload: { kind: 'Deployment', name },
      container: 'app',
      image: UNTRUSTED,
      reference: UNTRUSTED,
      status: 'OPEN',
      lastSeen: '2026-01-10T10:00:00.000Z',
      ...over,
    }) as Finding;
  function port(items: Finding[]) {
    const resolved: string[] = [];
    return {
      resolved,
      findings: {
        async *query() {
          yield* items;
        },
        async autoResolve(fingerprint: string) {
          resolved.push(fingerprint);
          return {} as Finding;
        },
      },
    };
  }
  const run = (
    items: Finding[],
    extra: Partial<Parameters<typeof resolveOrphanedFindings>[0]> = {},
  ) => {
    const p = port(items);
    return resolveOrphanedFindings({
      cluster: 'prod',
      passStartedAt: '2026-01-10T11:00:00.000Z',
      held: new Set(),
      findings: p.findings,
      stillHeld: async () => false,
      now: new Date('2026-01-10T12:00:00Z'),
      ...extra,
    }).then((out) => ({ ...out, resolved: p.resolved }));
  };

  it('checks each candidate: cluster, status, seen before the pass, held, still held', async () => {
    // Prepare
    const items = [
      finding('orphan'),
      finding('other-cluster', { cluster: 'staging' }),
      finding('suppressed', { status: 'SUPPRESSED' }),
      finding('seen-during-pass', { lastSeen: '2026-01-10T11:00:00.000Z' }),
      finding('held'),
      finding('raced'),
    ];

    // Act
    const out = await run(items, {
      held: new Set([entryId(finding('held'))]),
      stillHeld: async (f) => f.workload.name === 'raced',
    });

    // Assess
    expect(out).toEqual({ resolved: ['fp-orphan'], complete: true });
  });

  it('stops at its resolution cap and at its time budget, and says the pass was cut short', async () => {
    // Prepare
    const items = ['a', 'b', 'c', 'd'].map((n) => finding(n));

    // Act
    const capped = await run(items, { budget: { ms: 60_000, resolutions: 2 } });
    const timed = await run(items, { budget: { ms: -1, resolutions: 100 } });

    // Assess
    expect(capped).toEqual({ resolved: ['fp-a', 'fp-b'], complete: false });
    expect(timed).toEqual({ resolved: [], complete: false });
  });

  it('resolves nothing for a pass start that is not a time', async () => {
    expect(await run([finding('a')], { passStartedAt: 'not a time' })).toEqual({
      resolved: [],
      complete: true,
    });
  });
});
