/**
 * Allowlist changes from the allowlist table's stream (issue 11, AWS): each record is one
 * rule item (added, changed, removed, moved) or the `#meta` item (settings, version). A batch
 * of records is narrowed to what it can affect — the registries of the changed rules, through
 * `byRegistry` — and re-judged against the allowlist as stored now; a change no index narrows
 * (a wildcard host, a settings change, a reorder) becomes a full pass fanned out by cluster.
 */
import { compileAllowlist } from '../core/allowlist/compile-allowlist.ts';
import type { AllowlistDocument, AllowlistRule } from '../core/allowlist/schema.ts';
import { canonicalJson } from '../core/canonical-json.ts';
import {
  affectedRegistries,
  emptyReconcileReport,
  type ReconcileReport,
  rejudgeEntry,
} from './reconcile.ts';
import {
  type FanOutDeps,
  type FanOutReport,
  fanOutByCluster,
  type RunBudget,
} from './reconcile-fanout.ts';
import { FULL_PASS_MARK } from './reconcile-schedule.ts';

/** What one stream record says changed (the edge builds it from the record's images). */
export type AllowlistItemChange =
  | {
      kind: 'rule';
      before?: { rule: AllowlistRule; position: number | null } | undefined;
      after?: { rule: AllowlistRule; position: number | null } | undefined;
    }
  | { kind: 'settings'; changed: boolean };

export interface StreamDeps extends FanOutDeps {
  inventory: FanOutDeps['inventory'] & {
    byRegistry: FanOutDeps['inventory']['byRegistry'];
    putMeta(name: string, value: unknown): Promise<void>;
  };
  allowlist: { load(): Promise<{ document: AllowlistDocument; version: number }> };
}

/**
 * The rules a batch of changes touches (both forms of a changed rule) and whether only a
 * full pass is right. A rule rewritten with the same content and place changes nothing.
 */
export function narrowChanges(changes: readonly AllowlistItemChange[]): {
  rules: AllowlistRule[];
  full: string | null;
} {
  const rules: AllowlistRule[] = [];
  let full: string | null = null;
  for (const change of changes) {
    if (change.kind === 'settings') {
      if (change.changed) full ??= 'settings';
      continue;
    }
    const { before, after } = change;
    if (before && after && canonicalJson(before.rule) === canonicalJson(after.rule)) {
      // Only its place moved: file order breaks specificity ties anywhere.
      if (before.position !== after.position) full ??= `reorder:${after.rule.id}`;
      continue;
    }
    if (before) rules.push(before.rule);
    if (after) rules.push(after.rule);
  }
  if (full === null && rules.length > 0 && affectedRegistries(rules) === null)
    full = 'wildcard-host';
  return { rules, full };
}

export interface StreamOutcome {
  scope: 'none' | 'registries' | 'full';
  /** Why a full pass was needed. */
  full: string | null;
  version: number;
  report: ReconcileReport;
  fanOut?: FanOutReport | undefined;
}

/** Re-judges what a batch of allowlist-table changes can affect. */
export async function reconcileStreamBatch(
  changes: readonly AllowlistItemChange[],
  deps: StreamDeps,
  budget: RunBudget,
): Promise<StreamOutcome> {
  const { rules, full } = narrowChanges(changes);
  const report = emptyReconcileReport();
  if (full === null && rules.length === 0) return { scope: 'none', full, version: -1, report };
  // The allowlist as stored now (it may be newer than the records): what the pass judges by.
  const snapshot = await deps.allowlist.load();
  const cause = `stream:${snapshot.version}`;
  if (full !== null) {
    const fanOut = await fanOutByCluster(deps, { cause }, budget);
    // Tells the minute run a full pass at this version is under way (it need not start one).
    await deps.inventory.putMeta(FULL_PASS_MARK, { version: snapshot.version });
    return { scope: 'full', full, version: snapshot.version, report, fanOut };
  }
  const decider = compileAllowlist(snapshot.document);
  for (const host of affectedRegistries(rules) ?? []) {
    for await (const stored of deps.inventory.byRegistry(host))
      await rejudgeEntry(stored, decider, deps, report, cause);
  }
  return { scope: 'registries', full, version: snapshot.version, report };
}
