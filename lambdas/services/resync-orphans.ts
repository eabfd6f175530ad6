/**
 * At the end of a forwarder resync pass: active findings of the cluster that no inventory
 * entry holds, last seen before the pass began, are resolved as `no-longer-running`. The pass
 * listed every pod of the cluster (a forwarder watching some namespaces sends no
 * `resync-complete`), and no entry means neither a pod it listed nor a template runs that
 * container and image. This is how findings the inventory never held leave: those made before
 * the inventory existed, and those whose entry's removal was stored but whose resolution was
 * lost (a crash between the two writes). The reconciler's passes walk entries, so they cannot
 * see such a finding.
 */
import { entryId } from '../core/inventory.ts';
import type { Finding, FindingStatus } from '../core/types.ts';

/** The findings operations orphan resolution needs (`FindingsStore` fits). */
export interface OrphanFindingsPort {
  /** Findings matching the filter, newest `lastSeen` first. */
  query(filter: {
    cluster: string;
    status: readonly FindingStatus[];
    until: Date;
  }): AsyncGenerator<Finding>;
  autoResolve(fingerprint: string, reason: 'no-longer-running', now: Date): Promise<Finding | null>;
}

/** Looks an entry up again, read consistently, before its finding is resolved. */
export type EntryLookup = (finding: Finding) => Promise<boolean>;

/** Statuses that auto-resolution moves (a SUPPRESSED finding stays until its `until`). */
const ACTIVE: readonly FindingStatus[] = ['OPEN', 'ACKNOWLEDGED'];

/** Per pass: at most this long reading, and this many resolutions; the next pass goes on. */
export const ORPHAN_BUDGET = { ms: 5_000, resolutions: 500 } as const;

/**
 * Resolves the cluster's orphaned findings; `held` are the `entryId`s of the entries the
 * cluster has after the pass (a finding's container has the same identity). Bounded
 * (`budget`): a pass runs inside the pod-events function's timeout, beside the prune it must
 * not put at risk, and findings are kept forever by default,
 * so a cluster's history can be long: in one whose findings (of every status) take longer
 * than the budget to read, tens of thousands, the oldest are not reached (README, "Limits").
 * Resolutions past the cap wait for the next pass.
 */
export async function resolveOrphanedFindings(opts: {
  cluster: string;
  passStartedAt: string;
  held: ReadonlySet<string>;
  findings: OrphanFindingsPort;
  stillHeld: EntryLookup;
  now: Date;
  budget?: { ms: number; resolutions: number };
}): Promise<{ resolved: number; complete: boolean }> {
  const until = new Date(opts.passStartedAt);
  if (Number.isNaN(until.getTime())) return { resolved: 0, complete: true };
  const budget = opts.budget ?? ORPHAN_BUDGET;
  const stopAt = performance.now() + budget.ms;
  let resolved = 0;
  for await (const finding of opts.findings.query({
    cluster: opts.cluster,
    status: ACTIVE,
    until,
  })) {
    if (performance.now() > stopAt || resolved >= budget.resolutions)
      return { resolved, complete: false };
    // The index answers the filter; checked again so a looser store cannot widen it.
    if (finding.cluster !== opts.cluster || !ACTIVE.includes(finding.status)) continue;
    if (Date.parse(finding.lastSeen) >= until.getTime()) continue;
    if (opts.held.has(entryId(finding))) continue;
    // An entry made after the snapshot (a sighting racing the pass) keeps its finding.
    if (await opts.stillHeld(finding)) continue;
    if (await opts.findings.autoResolve(finding.fingerprint, 'no-longer-running', opts.now))
      resolved++;
  }
  return { resolved, complete: true };
}
