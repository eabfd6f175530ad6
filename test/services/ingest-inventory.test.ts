/**
 * A batch's inventory steps run in per-workload lanes beside the findings writes: within one
 * batch, a workload's events still apply in order, work spanning workloads waits for every
 * step, a failed step fails the batch only after every step settled, and failures are listed
 * in record order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RegwatchTables, regwatchTables } from '../../lambdas/adapters/dynamodb/index.ts';
import { compileAllowlist, parseAllowlist } from '../../lambdas/core/allowlist/index.ts';
import { ValidationError } from '../../lambdas/core/errors.ts';
import { ingestPodEvents } from '../../lambdas/services/ingest.ts';
import type { IngestDeps, InventoryIngestPort } from '../../lambdas/services/ports.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';
import { deploymentPod } from '../helpers/pod-events.ts';

const decider = compileAllowlist(
  parseAllowlist('version: 1\nrules:\n  - id: good\n    registry: good.example.com\n'),
);
const NOW = new Date('2026-01-10T12:00:00Z');

describe('ingest keeps the inventory through per-workload lanes', () => {
  let dynamo: LocalDynamo;
  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(() => dynamo.stop());

  async function setup(wrap?: (port: InventoryIngestPort) => InventoryIngestPort): Promise<{
    tables: RegwatchTables;
    deps: IngestDeps;
  }> {
    const tables = regwatchTables(dynamo.doc, await freshTables(dynamo));
    const store = wrap ? wrap(tables.inventory) : tables.inventory;
    return {
      tables,
      deps: {
        allowlist: { current: async () => decider },
        findings: tables.findings,
        clock: () => NOW,
        minAlertSeverity: 'low',
        inventory: { store, findings: tables.findings },
      },
    };
  }
  const entriesOf = async (tables: RegwatchTables, deployment: string) =>
    (
      await tables.inventory.workloadEntries('prod', 'shop', {
        kind: 'Deployment',
        name: deployment,
      })
    ).map((s) => [s.entry.image, [...s.entry.pods].sort()]);

  it('applies one workload’s events in batch order among many workloads', async () => {
    // Prepare: twelve Deployments; "web" runs image 1, moves to image 2 in place, then a pod
    // goes; the other workloads interleave
    const { tables, deps } = await setup();
    const others = Array.from({ length: 12 }, (_, i) =>
      deploymentPod({ pod: `o${i}-1`, deployment: `other-${i}`, image: 'evil.example.com/o:1' }),
    );
    const batch = [
      deploymentPod({ pod: 'web-1', deployment: 'web', image: 'evil.example.com/web:1' }),
      ...others.slice(0, 4),
      deploymentPod({ pod: 'web-2', deployment: 'web', image: 'evil.example.com/web:1' }),
      ...others.slice(4, 8),
      deploymentPod({
        pod: 'web-1',
        deployment: 'web',
        image: 'evil.example.com/web:2',
        at: '2026-01-10T10:01:00Z',
      }),
      deploymentPod({
        pod: 'web-2',
        deployment: 'web',
        image: 'evil.example.com/web:1',
        reason: 'deleted',
        at: '2026-01-10T10:02:00Z',
      }),
      ...others.slice(8),
    ];

    // Act
    const report = await ingestPodEvents(batch, deps);

    // Assess: image 1's entry lost web-1 (image change) and web-2 (deleted): removed, and
    // its finding resolved; image 2's entry has web-1
    expect(report.failed).toEqual([]);
    expect(await entriesOf(tables, 'web')).toEqual([['evil.example.com/web:2', ['web-1']]]);
    expect(report.findings.resolved).toBe(1);
    for (let i = 0; i < 12; i++)
      expect(await entriesOf(tables, `other-${i}`)).toEqual([
        ['evil.example.com/o:1', [`o${i}-1`]],
      ]);
    const old = [];
    for await (const f of tables.findings.query({ cluster: 'prod', status: 'RESOLVED' }))
      old.push(f);
    expect(old.map((f) => [f.image, f.resolution?.reason])).toEqual([
      ['evil.example.com/web:1', 'no-longer-running'],
    ]);
  });

  it('ends a resync pass only after every sighting of the pass before it in the batch', async () => {
    // Prepare: nine pods seen before the pass; the pass sees eight of them again, and their
    // inventory steps are slow to answer (slower than the pass's end reads the table)
    const { tables, deps } = await setup((port) =>
      wrapApply(port, async (cluster, namespace, workload, event) => {
        await new Promise((resolve) => setTimeout(resolve, 200));
        return port.applyToWorkload(cluster, namespace, workload, event);
      }),
    );
    const names = Array.from({ length: 8 }, (_, i) => `p-${i}`);
    await ingestPodEvents(
      [
        deploymentPod({ pod: 'gone-1', deployment: 'gone', image: 'evil.example.com/g:1' }),
        ...names.map((d) =>
          deploymentPod({ pod: `${d}-1`, deployment: d, image: 'evil.example.com/p:1' }),
        ),
      ],
      deps,
    );
    const pass = names.map((d) =>
      deploymentPod({
        pod: `${d}-1`,
        deployment: d,
        image: 'evil.example.com/p:1',
        reason: 'resync',
        resyncId: 'r1',
        at: '2026-01-10T10:05:00Z',
      }),
    );

    // Act
    const report = await ingestPodEvents(
      [
        ...pass,
        {
          cluster: 'prod',
          observedAt: '2026-01-10T10:06:00Z',
          reason: 'resync-complete',
          resyncId: 'r1',
        },
      ],
      deps,
    );

    // Assess: only the pod the pass missed is gone (nothing removed and seen again)
    expect(report.failed).toEqual([]);
    expect(report.findings.resolved).toBe(1);
    expect(report.findings.reopened).toBe(0);
    expect(await entriesOf(tables, 'gone')).toEqual([]);
    for (const d of names)
      expect(await entriesOf(tables, d)).toEqual([['evil.example.com/p:1', [`${d}-1`]]]);
  });

  it('fails the batch with a step’s store error only after every other step settled', async () => {
    // Prepare: the inventory of one workload is unreachable; the others answer later
    let running = 0;
    const { tables, deps } = await setup((port) =>
      wrapApply(port, async (cluster, namespace, workload, event) => {
        if (workload.name === 'broken') throw new Error('inventory table unreachable');
        running++;
        try {
          await new Promise((resolve) => setTimeout(resolve, 20));
          return await port.applyToWorkload(cluster, namespace, workload, event);
        } finally {
          running--;
        }
      }),
    );
    const batch = [
      ...Array.from({ length: 4 }, (_, i) =>
        deploymentPod({ pod: `a${i}-1`, deployment: `a-${i}`, image: 'evil.example.com/a:1' }),
      ),
      deploymentPod({ pod: 'broken-1', deployment: 'broken', image: 'evil.example.com/b:1' }),
    ];

    // Act
    let runningAtFailure = -1;
    const outcome = await ingestPodEvents(batch, deps).catch((error: Error) => {
      runningAtFailure = running;
      return error.message;
    });

    // Assess: the error reached the caller (it retries the batch), after the other steps
    expect(outcome).toBe('inventory table unreachable');
    expect(runningAtFailure).toBe(0);
    const written = [];
    for (let i = 0; i < 4; i++) written.push(...(await entriesOf(tables, `a-${i}`)));
    expect(written).toHaveLength(4);
  });

  it('lists failures in record order, a refused step’s among the others', async () => {
    // Prepare: record 0's inventory step is refused (after record 1 failed inline)
    const { deps } = await setup((port) =>
      wrapApply(port, async (cluster, namespace, workload, event) => {
        if (workload.name === 'refused') {
          await new Promise((resolve) => setTimeout(resolve, 20));
          throw new ValidationError('entry too large');
        }
        return port.applyToWorkload(cluster, namespace, workload, event);
      }),
    );
    const batch = [
      deploymentPod({ pod: 'refused-1', deployment: 'refused', image: 'evil.example.com/x:1' }),
      42,
      deploymentPod({ pod: 'y-1', deployment: 'y', image: 'evil.example.com/y:1' }),
      { cluster: 'prod', reason: 'running' },
    ];

    // Act
    const report = await ingestPodEvents(batch, deps);

    // Assess
    expect(report.failed.map((f) => f.index)).toEqual([0, 1, 3]);
    expect(report.failed[0]?.error).toBe('not recorded: entry too large');
    expect(report.findings.new).toBe(2);
  });
});

/** The port with `applyToWorkload` replaced (the rest delegates). */
function wrapApply(
  port: InventoryIngestPort,
  applyToWorkload: InventoryIngestPort['applyToWorkload'],
): InventoryIngestPort {
  return {
    applyToWorkload,
    applyToFound: (found, event) => port.applyToFound(found, event),
    query: (filter) => port.query(filter),
    resyncStarted: (cluster, id, at) => port.resyncStarted(cluster, id, at),
    resyncStart: (cluster, id) => port.resyncStart(cluster, id),
    get: (cluster, namespace, workload, key) => port.get(cluster, namespace, workload, key),
  };
}
