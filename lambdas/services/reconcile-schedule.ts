/**
 * The reconciler's triggers where nothing stays running (the reconcile Lambda): run every
 * minute, it compares the stored allowlist with the state the previous run left (its version
 * and one compact line per rule), re-judges what changed rules and rules whose `expiresAt`
 * passed since then can affect, and on the sweep schedule re-judges everything. So an
 * allowlist change or an expiry is applied within a minute (plus the pass), and the sweep's
 * `changed` count is the drift metric (zero on a healthy system).
 */
import { compileAllowlist } from '../core/allowlist/compile-allowlist.ts';
import type { AllowlistDocument, AllowlistRule } from '../core/allowlist/schema.ts';
import {
  emptyReconcileReport,
  exactHost,
  type InventoryPort,
  mergeReconcileReports,
  type ReconcileDeps,
  type ReconcileReport,
  reconcileAll,
  rejudgeEntry,
} from './reconcile.ts';
import type { FanOutReport } from './reconcile-fanout.ts';

/** What a run remembers for the next: per rule a content hash and its host (null = wildcard). */
export interface ScheduleState {
  version: number;
  /** The instant this run judged at: expiries after it are the next run's. */
  at: string;
  settings: string;
  /** Rule ids in document order: a reorder of kept rules can change a verdict anywhere. */
  order: string[];
  /** Null when the allowlist is too large to remember per rule (then any change is a full pass). */
  rules: Record<string, { h: string; host: string | null }> | null;
  /** A full pass cut short by `maxPages`: where the next run goes on. */
  resume?: Record<string, unknown> | undefined;
}

/** Above this many rules the state is not kept per rule (a DynamoDB item holds 400 KB). */
export const MAX_REMEMBERED_RULES = 2000;

export interface ScheduleDeps extends ReconcileDeps {
  inventory: InventoryPort & {
    getMeta(name: string): Promise<unknown>;
    putMeta(name: string, value: unknown): Promise<void>;
  };
  allowlist: { load(): Promise<{ document: AllowlistDocument; version: number }> };
  /**
   * Starts a full pass fanned out by cluster (AWS: the reconcile queue). Without it a full
   * pass runs here, bounded by `maxPages` and resumed by the next run.
   */
  fanOut?: ((cause: string) => Promise<FanOutReport>) | undefined;
}

export interface ScheduleOutcome {
  /** Why this run re-judged what it did: `first-run`, `allowlist`, `expiry`, `sweep`, or none. */
  causes: string[];
  scope: 'none' | 'registries' | 'full';
  report: ReconcileReport;
  /** Set when the full pass was fanned out (the clusters sent), not run here. */
  fanOut?: FanOutReport | undefined;
  /** The allowlist this run judged by (the expiry warnings read it too). */
  document: AllowlistDocument;
}

const STATE = 'reconcile-schedule';
/**
 * The allowlist version the last fanned-out full pass was started at (by the stream or a
 * run): an allowlist change up to that version needs no second full pass from the minute run.
 */
export const FULL_PASS_MARK = 'reconcile-full-pass';

function hash(value: unknown): string {
  // Canonical JSON is enough: equality, not secrecy.
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)),
        )
      : v,
  );
}

const hostOf = (rule: AllowlistRule): string | null => exactHost(rule);

function stateOf(document: AllowlistDocument, version: number, at: Date): ScheduleState {
  return {
    version,
    at: at.toISOString(),
    settings: hash({ s: document.severities ?? {}, p: document.pullThroughCache ?? [] }),
    order: document.rules.map((r) => r.id),
    rules:
      document.rules.length > MAX_REMEMBERED_RULES
        ? null
        : Object.fromEntries(document.rules.map((r) => [r.id, { h: hash(r), host: hostOf(r) }])),
  };
}

function isState(v: unknown): v is ScheduleState {
  return (
    v !== null &&
    typeof v === 'object' &&
    typeof (v as ScheduleState).version === 'number' &&
    typeof (v as ScheduleState).at === 'string'
  );
}

/** One scheduled run; `sweep` re-judges everything whatever changed. */
export async function scheduledReconcile(
  deps: ScheduleDeps,
  opts: { sweep: boolean; maxPages?: number },
): Promise<ScheduleOutcome> {
  const now = deps.clock();
  const snapshot = await deps.allowlist.load();
  const decider = compileAllowlist(snapshot.document);
  const stored = await deps.inventory.getMeta(STATE);
  const prev = isState(stored) ? stored : null;
  const next = stateOf(snapshot.document, snapshot.version, now);
  const causes: string[] = [];
  let full = opts.sweep || prev === null;
  /** A full pass needed only because of allowlist changes (the stream may have started it). */
  let fullForAllowlist = false;
  if (opts.sweep) causes.push('sweep');
  if (prev === null) causes.push('first-run');
  const hosts = new Set<string>();

  if (prev && prev.version !== snapshot.version) {
    causes.push('allowlist');
    const kept = (ids: readonly string[], other: readonly string[]) =>
      ids.filter((id) => other.includes(id)).join('\n');
    const reordered = kept(prev.order ?? [], next.order) !== kept(next.order, prev.order ?? []);
    if (prev.settings !== next.settings || reordered || prev.rules === null || next.rules === null)
      fullForAllowlist = true;
    else {
      const ids = new Set([...Object.keys(prev.rules), ...Object.keys(next.rules)]);
      for (const id of ids) {
        const a = prev.rules[id];
        const b = next.rules[id];
        if (a?.h === b?.h) continue;
        for (const side of [a, b]) {
          if (!side) continue;
          if (side.host === null) fullForAllowlist = true;
          else hosts.add(side.host);
        }
      }
    }
  }
  if (prev) {
    const since = Date.parse(prev.at);
    for (const rule of snapshot.document.rules) {
      if (rule.expiresAt === undefined) continue;
      const at = Date.parse(rule.expiresAt);
      if (!(at > since && at <= now.getTime())) continue;
      causes.push(`expiry:${rule.id}`);
      const host = hostOf(rule);
      if (host === null) full = true;
      else hosts.add(host);
    }
  }

  if (fullForAllowlist && !full) {
    const mark = (await deps.inventory.getMeta(FULL_PASS_MARK)) as
      | { version?: unknown }
      | undefined;
    if (deps.fanOut && typeof mark?.version === 'number' && mark.version >= snapshot.version)
      causes.push('full-pass-under-way');
    else full = true;
  }
  let report = emptyReconcileReport();
  let scope: ScheduleOutcome['scope'] = 'none';
  let fanOut: FanOutReport | undefined;
  // The sweep's own cause: its fanned-out clusters report their changes under `sweep`.
  const cause = `${opts.sweep ? 'sweep' : 'schedule'}:${now.toISOString()}`;
  if (prev?.resume && !full) {
    causes.push('resume');
    full = true;
  }
  if (full && deps.fanOut) {
    scope = 'full';
    fanOut = await deps.fanOut(cause);
    await deps.inventory.putMeta(FULL_PASS_MARK, { version: snapshot.version });
  } else if (full) {
    scope = 'full';
    report = await reconcileAll(decider, deps, {
      cause,
      maxPages: opts.maxPages,
      // A fresh reason to look at everything starts over; otherwise go on where the last stopped.
      start: causes.includes('resume') ? prev?.resume : undefined,
    });
    if (report.next) next.resume = report.next;
  } else if (hosts.size > 0) {
    scope = 'registries';
    for (const host of hosts) {
      const part = emptyReconcileReport();
      for await (const s of deps.inventory.byRegistry(host))
        await rejudgeEntry(s, decider, deps, part, cause);
      mergeReconcileReports(report, part);
    }
  }
  // Written last: a run that fails is redone whole by the next one.
  await deps.inventory.putMeta(STATE, next);
  return { causes, scope, report, document: snapshot.document, ...(fanOut ? { fanOut } : {}) };
}
