/**
 * The AWS parts of the reconciler on dynalite, below the handler: what a stream batch
 * re-judges (only its rules' index), the fan-out by cluster and its continuations, and the
 * expiry warning's once-only delivery shared with local mode's in-process loop.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type RegwatchTables, regwatchTables } from '../../lambdas/adapters/dynamodb/index.ts';
import type { StoredEntry } from '../../lambdas/adapters/dynamodb/inventory.ts';
import { WarningMarks } from '../../lambdas/adapters/dynamodb/warning-marks.ts';
import type { ExpiryWarning } from '../../lambdas/core/alerts/expiry-warning.ts';
import { compileAllowlist, parseAllowlist } from '../../lambdas/core/allowlist/index.ts';
import type { AllowlistRule } from '../../lambdas/core/allowlist/schema.ts';
import type { ReconcileMessage } from '../../lambdas/core/reconcile-message.ts';
import { ingestPodEvents } from '../../lambdas/services/ingest.ts';
import {
  type FanOutDeps,
  fanOutByCluster,
  reconcileCluster,
} from '../../lambdas/services/reconcile-fanout.ts';
import { ReconcileLoop } from '../../lambdas/services/reconcile-loop.ts';
import { narrowChanges, reconcileStreamBatch } from '../../lambdas/services/reconcile-stream.ts';
import { sendDueExpiryWarnings } from '../../lambdas/services/reconcile-warning.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';
import { runningPod } from '../helpers/pod-events.ts';

const ALLOWLIST = `version: 1
rules:
  - id: quay
    registry: quay.io
    repository: "vendor/**"
  - id: ghcr
    registry: ghcr.io
    repository: "tools/**"
`;
const doc = parseAllowlist(ALLOWLIST);

function pod(cluster: string, name: string, image: string) {
  return runningPod({ cluster, name, image, namespace: 'ops', uid: `uid-${cluster}-${name}` });
}

let dynamo: LocalDynamo;
let tables: RegwatchTables;
let sent: ReconcileMessage[];
/** Every inventory read the pass made, by kind (what "re-judged only its index" means). */
let reads: string[];
let findingsTable: string;

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(() => dynamo.stop());

beforeEach(async () => {
  const names = await freshTables(dynamo);
  tables = regwatchTables(dynamo.doc, names);
  findingsTable = names.findings;
  await tables.allowlist.applyDiff(doc);
  sent = [];
  reads = [];
  const pods = [
    pod('prod', 'agent', 'quay.io/vendor/agent:3'),
    pod('prod', 'jq', 'ghcr.io/tools/jq:1'),
    pod('prod', 'cache', 'docker.io/library/memcached:1'),
  ];
  for (let i = 0; i < 5; i++) pods.push(pod('batch', `worker-${i}`, 'docker.io/library/busybox:1'));
  await ingestPodEvents(pods, {
    allowlist: { current: async () => compileAllowlist(doc) },
    findings: tables.findings,
    clock: () => new Date(),
    minAlertSeverity: 'low',
    inventory: { store: tables.inventory, findings: tables.findings },
  });
});

function deps(limits: { clusterNames?: number } = {}): FanOutDeps & {
  inventory: FanOutDeps['inventory'] & { putMeta: (n: string, v: unknown) => Promise<void> };
  allowlist: RegwatchTables['allowlist'];
} {
  const inv = tables.inventory;
  async function* counted(kind: string, source: AsyncGenerator<StoredEntry>) {
    reads.push(kind);
    yield* source;
  }
  return {
    inventory: {
      scanPage: (next, o) => {
        reads.push('scan');
        return inv.scanPage(next, o);
      },
      query: (f) => counted(`query:${JSON.stringify(f)}`, inv.query(f)),
      byRegistry: (h) => counted(`registry:${h}`, inv.byRegistry(h)),
      get: (c, n, w, k) => inv.get(c, n, w, k),
      setViolations: (e, r, v, g) => inv.setViolations(e, r, v, g),
      clusterPage: (c, next, limit) => {
        reads.push(`cluster:${c}`);
        return inv.clusterPage(c, next, limit);
      },
      clusterNamesPage: (next) => {
        reads.push('cluster-names');
        return inv.clusterNamesPage(next, limits.clusterNames);
      },
      putMeta: (n, v) => inv.putMeta(n, v),
    },
    findings: tables.findings,
    allowlist: tables.allowlist,
    queue: {
      send: async (messages) => {
        sent.push(...messages);
      },
    },
    minAlertSeverity: 'low',
    clock: () => new Date(),
  };
}

const plenty = { remainingMs: () => 900_000, reserveMs: 120_000 };
const none = { remainingMs: () => 0, reserveMs: 120_000 };

describe('a stream batch', () => {
  it('re-judges only the changed rule’s registry: nothing outside its index is read', async () => {
    // Prepare: a new rule for a host where one entry runs
    const rule: AllowlistRule = {
      id: 'hub-memcached',
      registry: 'docker.io',
      repository: 'library/memcached',
    };
    await tables.allowlist.put(rule);

    // Act
    const out = await reconcileStreamBatch(
      [{ kind: 'rule', after: { rule, position: 2 } }],
      deps(),
      plenty,
    );

    // Assess: docker.io's entries (memcached and the five busyboxes), one changed, no scan
    expect(out.scope).toBe('registries');
    expect(reads).toEqual(['registry:docker.io']);
    expect(out.report.judged).toBe(6);
    expect(out.report.changed).toBe(1);
    expect(out.report.resolved['now-allowed']).toBe(1);
    expect(sent).toEqual([]);
  });

  it('a rule for a host nothing runs on reads one empty index partition', async () => {
    const rule: AllowlistRule = { id: 'gcr', registry: 'gcr.io' };
    const out = await reconcileStreamBatch(
      [{ kind: 'rule', after: { rule, position: 3 } }],
      deps(),
      plenty,
    );
    expect(reads).toEqual(['registry:gcr.io']);
    expect(out.report.judged).toBe(0);
  });

  it('narrows to nothing for an unchanged rewrite and to a full pass for what no index narrows', () => {
    const rule: AllowlistRule = { id: 'quay', registry: 'quay.io', repository: 'vendor/**' };
    expect(
      narrowChanges([
        { kind: 'rule', before: { rule, position: 0 }, after: { rule, position: 0 } },
      ]),
    ).toEqual({
      rules: [],
      full: null,
    });
    expect(
      narrowChanges([{ kind: 'rule', before: { rule, position: 0 }, after: { rule, position: 4 } }])
        .full,
    ).toBe('reorder:quay');
    expect(narrowChanges([{ kind: 'settings', changed: true }]).full).toBe('settings');
    expect(narrowChanges([{ kind: 'settings', changed: false }])).toEqual({
      rules: [],
      full: null,
    });
    for (const registry of ['**', '**.example.com', '*.example.com']) {
      expect(
        narrowChanges([
          { kind: 'rule', after: { rule: { id: 'w', registry, repository: 'x/**' }, position: 1 } },
        ]).full,
        registry,
      ).toBe('wildcard-host');
    }
  });
});

describe('the fan-out by cluster', () => {
  it('sends one message per cluster, once each', async () => {
    const out = await fanOutByCluster(deps(), { cause: 'sweep:t' }, plenty);
    expect(out).toMatchObject({ clusters: 2, continued: false });
    expect(sent.map((m) => (m.kind === 'cluster' ? m.cluster : m.kind)).sort()).toEqual([
      'batch',
      'prod',
    ]);
  });

  it('goes on listing clusters from a continuation when its time runs out', async () => {
    // Prepare: one index item per page, no time left after the first page
    const d = deps({ clusterNames: 1 });

    // Act: the first invocation, then the continuation it sent, until none is left
    const first = await fanOutByCluster(d, { cause: 'sweep:t' }, none);
    let guard = 0;
    while (guard++ < 50) {
      const next = sent.find((m) => m.kind === 'clusters');
      if (!next) break;
      sent.splice(sent.indexOf(next), 1);
      await fanOutByCluster(d, next, none);
    }

    // Assess: every cluster reached the queue; only duplicates across pages repeat
    expect(first.continued).toBe(true);
    expect(new Set(sent.map((m) => (m.kind === 'cluster' ? m.cluster : '?')))).toEqual(
      new Set(['batch', 'prod']),
    );
  });

  it('a cluster message resumes from its continuation key where the last invocation stopped', async () => {
    // Prepare: allowing busybox changes the verdict of each of the five batch entries
    await tables.allowlist.put({
      id: 'hub-busybox',
      registry: 'docker.io',
      repository: 'library/busybox',
    });
    const decider = compileAllowlist((await tables.allowlist.load()).document);
    const d = deps();

    // Act: pages of two, no time after the first page: 2, then 2, then 1 entries
    const reports = [];
    let message: ReconcileMessage | undefined = {
      kind: 'cluster',
      cluster: 'batch',
      cause: 'sweep:t',
    };
    while (message?.kind === 'cluster') {
      reports.push(await reconcileCluster(message, decider, d, none, 2));
      message = sent.shift();
    }

    // Assess: each entry judged exactly once across the three invocations
    expect(reports.map((r) => r.judged)).toEqual([2, 2, 1]);
    expect(reports.map((r) => r.next !== undefined)).toEqual([true, true, false]);
    expect(reports.reduce((n, r) => n + r.resolved['now-allowed'], 0)).toBe(5);
    expect(reads.filter((r) => r.startsWith('cluster:'))).toEqual([
      'cluster:batch',
      'cluster:batch',
      'cluster:batch',
    ]);
  });
});

describe('the expiry warning on the minute run', () => {
  it('a rule nothing depends on yet is searched again an hour later, then warns once', async () => {
    // Prepare: an exception for a registry nothing runs from yet
    let now = new Date('2026-06-01T10:00:00Z');
    const rule: AllowlistRule = {
      id: 'gcr-exception',
      registry: 'gcr.io',
      expiresAt: '2026-06-05T10:00:00Z',
    };
    const document = { ...doc, rules: [...doc.rules, rule] };
    const sentWarnings: ExpiryWarning[] = [];
    const warningDeps = {
      inventory: tables.inventory,
      marks: new WarningMarks(tables.doc, findingsTable),
      notifier: {
        send: async (w: ExpiryWarning) => {
          sentWarnings.push(w);
          return 'id-1';
        },
      },
      clock: () => now,
    };
    const run = () =>
      sendDueExpiryWarnings(document, compileAllowlist(document), warningDeps, {
        warningDays: 7,
        maxPages: 10,
      });

    // Act: nothing depends; a workload appears; the next minute; an hour on; later still
    const empty = await run();
    await ingestPodEvents([pod('prod', 'builder', 'gcr.io/kaniko/executor:1')], {
      allowlist: { current: async () => compileAllowlist(document) },
      findings: tables.findings,
      clock: () => now,
      minAlertSeverity: 'low',
      inventory: { store: tables.inventory, findings: tables.findings },
    });
    now = new Date('2026-06-01T10:01:00Z');
    const soon = await run();
    now = new Date('2026-06-01T11:01:00Z');
    const later = await run();
    now = new Date('2026-06-01T13:00:00Z');
    const after = await run();

    // Assess
    const key = `gcr-exception@${rule.expiresAt}`;
    expect([empty, soon, later, after]).toEqual([
      { [key]: 'no-dependents' },
      {},
      { [key]: 'sent' },
      {},
    ]);
    expect(sentWarnings.map((w) => w.dependents.map((d) => d.workload.name))).toEqual([
      ['builder'],
    ]);
  });
});

describe('the expiry warning in local mode', () => {
  it('is alerted once per rule and expiresAt, also across a restart', async () => {
    // Prepare: an exception expiring in two days, inside the 7-day window
    const expiresAt = new Date(Date.now() + 2 * 86_400_000).toISOString();
    await tables.allowlist.put({
      id: 'ghcr',
      registry: 'ghcr.io',
      repository: 'tools/**',
      expiresAt,
    });
    const alerts: ExpiryWarning[] = [];
    const told: string[] = [];
    const marks = new WarningMarks(tables.doc, findingsTable);
    const loop = () =>
      new ReconcileLoop({
        deps: deps(),
        allowlist: tables.allowlist,
        sweepMs: 0,
        pollMs: 60_000,
        warningDays: 7,
        warnings: {
          marks,
          notifier: {
            send: async (w) => {
              alerts.push(w);
              return 'local';
            },
          },
        },
        onExpiryWarning: (_w, outcome) => told.push(outcome),
        onError: (error) => {
          throw error;
        },
      });

    // Act: one loop warns, stops; a second (a restart over the same tables) arms again
    const first = loop();
    await first.start();
    await vi.waitFor(() => expect(told).toHaveLength(1));
    await first.stop();
    const second = loop();
    await second.start();
    await vi.waitFor(() => expect(told).toHaveLength(2));
    await second.stop();

    // Assess
    expect(told).toEqual(['sent', 'already-sent']);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      rule: { id: 'ghcr', expiresAt },
      total: 1,
      dependents: [{ cluster: 'prod', workload: { name: 'jq' }, image: 'ghcr.io/tools/jq:1' }],
    });
  });
});
