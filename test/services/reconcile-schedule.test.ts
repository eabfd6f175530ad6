import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RegwatchTables, regwatchTables } from '../../lambdas/adapters/dynamodb/index.ts';
import { compileAllowlist, parseAllowlist } from '../../lambdas/core/allowlist/index.ts';
import type { Finding } from '../../lambdas/core/types.ts';
import { ingestPodEvents } from '../../lambdas/services/ingest.ts';
import {
  type ScheduleDeps,
  scheduledReconcile,
} from '../../lambdas/services/reconcile-schedule.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';
import { runningPod } from '../helpers/pod-events.ts';

const ALLOWLIST = `version: 1
rules:
  - id: ecr
    registry: "ecr.example.com"
  - id: quay-vendor
    registry: quay.io
    repository: "vendor/**"
  - id: ghcr-exception
    registry: ghcr.io
    repository: "tools/**"
    expiresAt: "2026-01-10T12:00:30Z"
`;

function pod(name: string, image: string) {
  return runningPod({ name, image });
}

describe('scheduledReconcile (the reconcile Lambda) on dynalite', () => {
  let dynamo: LocalDynamo;
  let tables: RegwatchTables;
  let now: Date;
  let deps: ScheduleDeps;

  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(() => dynamo.stop());
  beforeEach(async () => {
    tables = regwatchTables(dynamo.doc, await freshTables(dynamo));
    now = new Date('2026-01-10T12:00:00Z');
    const doc = parseAllowlist(ALLOWLIST);
    await tables.allowlist.applyDiff(doc);
    await ingestPodEvents(
      [
        pod('web', 'ecr.example.com/web:1'),
        pod('agent', 'quay.io/vendor/agent:3'),
        pod('tool', 'ghcr.io/tools/jq:1'),
      ],
      {
        allowlist: { current: async () => compileAllowlist(doc) },
        findings: tables.findings,
        clock: () => now,
        minAlertSeverity: 'low',
        inventory: { store: tables.inventory, findings: tables.findings },
      },
    );
    deps = {
      inventory: tables.inventory,
      findings: tables.findings,
      allowlist: tables.allowlist,
      minAlertSeverity: 'low',
      clock: () => now,
    };
  });

  async function findings(): Promise<Finding[]> {
    const out: Finding[] = [];
    for await (const f of tables.findings.query({})) out.push(f);
    return out;
  }

  it('passes fully once, then re-judges nothing while nothing changed', async () => {
    const first = await scheduledReconcile(deps, { sweep: false });
    now = new Date('2026-01-10T12:00:10Z');
    const second = await scheduledReconcile(deps, { sweep: false });
    expect(first).toMatchObject({ causes: ['first-run'], scope: 'full' });
    expect(first.report.judged).toBe(3);
    expect(second).toMatchObject({ causes: [], scope: 'none' });
    expect(second.report.judged).toBe(0);
  });

  it("re-judges only a removed rule's host and opens the finding", async () => {
    await scheduledReconcile(deps, { sweep: false });
    await tables.allowlist.remove('quay-vendor');
    now = new Date('2026-01-10T12:00:10Z');
    const run = await scheduledReconcile(deps, { sweep: false });
    expect(run).toMatchObject({ causes: ['allowlist'], scope: 'registries' });
    expect(run.report.judged).toBe(1);
    expect((await findings()).map((f) => [f.workload.name, f.rule, f.status])).toEqual([
      ['agent', 'untrusted-source', 'OPEN'],
    ]);
  });

  it('applies an expiry that fell between two runs', async () => {
    await scheduledReconcile(deps, { sweep: false });
    now = new Date('2026-01-10T12:00:40Z');
    const run = await scheduledReconcile(deps, { sweep: false });
    expect(run.causes).toEqual(['expiry:ghcr-exception']);
    expect((await findings()).map((f) => [f.workload.name, f.rule])).toEqual([
      ['tool', 'expired-exception'],
    ]);
    // Only once: the next run has moved past it.
    now = new Date('2026-01-10T12:01:40Z');
    expect((await scheduledReconcile(deps, { sweep: false })).causes).toEqual([]);
  });

  it('goes on where a page-bounded full pass stopped', async () => {
    // Prepare: pages of one entry.
    const inv = tables.inventory;
    const small: ScheduleDeps = {
      ...deps,
      inventory: {
        scanPage: (next) => inv.scanPage(next, { limit: 1 }),
        query: (f) => inv.query(f),
        byRegistry: (h) => inv.byRegistry(h),
        get: (c, n, w, k) => inv.get(c, n, w, k),
        setViolations: (e, r, v, g) => inv.setViolations(e, r, v, g),
        getMeta: (name) => inv.getMeta(name),
        putMeta: (name, value) => inv.putMeta(name, value),
      },
    };
    const first = await scheduledReconcile(small, { sweep: true, maxPages: 2 });
    now = new Date('2026-01-10T12:00:10Z');
    const second = await scheduledReconcile(small, { sweep: false, maxPages: 10 });
    expect(first.report.next).toBeDefined();
    expect(second.causes).toEqual(['resume']);
    expect(first.report.judged + second.report.judged).toBeGreaterThanOrEqual(3);
    now = new Date('2026-01-10T12:00:20Z');
    expect((await scheduledReconcile(small, { sweep: false })).scope).toBe('none');
  });
});
