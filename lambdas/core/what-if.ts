/**
 * What-if: the impact of replacing one allowlist with another on what the inventory says runs.
 * Pure: both allowlists are judged at the same instant, so only the rule change shows.
 */
import type { Decider } from './evaluate.ts';
import type { InventoryEntry } from './inventory.ts';
import type { ViolationRule, WorkloadRef } from './types.ts';

export interface ImpactItem {
  cluster: string;
  namespace: string;
  workload: WorkloadRef;
  container: string;
  reference: string | null;
  rule: ViolationRule;
}

export interface Impact {
  /** Violations the new allowlist adds (each would open a finding and alert). */
  newViolations: ImpactItem[];
  /** Violations the new allowlist removes (each finding would auto-resolve as now-allowed). */
  resolved: ImpactItem[];
}

function rulesOf(decider: Decider, e: InventoryEntry, now: Date): Set<ViolationRule> {
  const d = decider.decide(e.image, { cluster: e.cluster, namespace: e.namespace }, now);
  return new Set(d.violations.map((v) => v.rule));
}

/** Folds one entry into `impact`. */
export function addImpact(
  impact: Impact,
  entry: InventoryEntry,
  before: Decider,
  after: Decider,
  now: Date,
): void {
  const was = rulesOf(before, entry, now);
  const will = rulesOf(after, entry, now);
  const item = (rule: ViolationRule): ImpactItem => ({
    cluster: entry.cluster,
    namespace: entry.namespace,
    workload: { kind: entry.workload.kind, name: entry.workload.name },
    container: entry.container,
    reference: entry.reference ?? entry.image,
    rule,
  });
  for (const rule of will) if (!was.has(rule)) impact.newViolations.push(item(rule));
  for (const rule of was) if (!will.has(rule)) impact.resolved.push(item(rule));
}

export function impactOf(
  entries: Iterable<InventoryEntry>,
  before: Decider,
  after: Decider,
  now: Date,
): Impact {
  const impact: Impact = { newViolations: [], resolved: [] };
  for (const e of entries) addImpact(impact, e, before, after, now);
  return impact;
}
