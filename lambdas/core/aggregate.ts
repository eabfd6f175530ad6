/**
 * Folds finding candidates into one finding per fingerprint, the way the Findings table
 * does, for offline use (replay): count distinct events, first/last seen, who did it.
 */
import { findingId } from './fingerprint.ts';
import { foldSighting, newFinding } from './lifecycle.ts';
import type { Actor, Finding, FindingCandidate } from './types.ts';

export interface AggregatedFinding {
  fingerprint: string;
  cluster: string;
  namespace: string;
  workload: { kind: string; name: string };
  container: string;
  image: string;
  reference: string | null;
  rule: FindingCandidate['rule'];
  severity: FindingCandidate['severity'];
  count: number;
  firstSeen: string;
  lastSeen: string;
  actor: Actor | null;
  digest: string | null;
  message: string;
  matchedRule: string | null;
}

/**
 * Orders ISO-8601 times. Plain string order is wrong across precisions
 * (`…:00.5Z` sorts before `…:00Z`), so compare the instants, then the text.
 */
export function compareTimes(a: string, b: string): number {
  const d = Date.parse(a) - Date.parse(b);
  if (d !== 0 && !Number.isNaN(d)) return d;
  return a.localeCompare(b);
}

/** `compareTimes` with both instants already parsed (`Date.parse` of `a` and `b`). */
function compareParsed(aMs: number, a: string, bMs: number, b: string): number {
  const d = aMs - bMs;
  if (d !== 0 && !Number.isNaN(d)) return d;
  return a === b ? 0 : a.localeCompare(b);
}

/**
 * Replay's view of the Findings table: each candidate folds through the same lifecycle
 * (`foldSighting`) the store uses, so counts, first/last seen, actor and digest agree.
 */
export class FindingAggregator {
  private readonly byFingerprint = new Map<string, Finding>();
  private readonly seenEvents = new Set<string>();
  /** `Date.parse` of each finding's firstSeen, for the output order. */
  private readonly firstMs = new Map<string, number>();
  /** Replay judges history: there is no "now" that could end a suppression. */
  private readonly now = new Date(0);

  /** Adds one candidate; the same event seen twice for one finding counts once. */
  add(c: FindingCandidate): void {
    const eventKey = `${c.fingerprint}\u0000${c.eventId}`;
    if (this.seenEvents.has(eventKey)) return;
    this.seenEvents.add(eventKey);
    const existing = this.byFingerprint.get(c.fingerprint);
    if (!existing) {
      this.byFingerprint.set(c.fingerprint, newFinding(c, findingId(c.fingerprint)));
      this.firstMs.set(c.fingerprint, Date.parse(c.observedAt));
      return;
    }
    const before = existing.firstSeen;
    foldSighting(existing, c, this.now);
    if (existing.firstSeen !== before) this.firstMs.set(c.fingerprint, Date.parse(c.observedAt));
  }

  get size(): number {
    return this.byFingerprint.size;
  }

  /** The folded findings themselves (the store's shape), unordered. */
  findings(): IterableIterator<Finding> {
    return this.byFingerprint.values();
  }

  /** Findings ordered by first sighting, then fingerprint, so output is deterministic. */
  results(): AggregatedFinding[] {
    return [...this.byFingerprint.values()]
      .map((f) => ({ f, ms: this.firstMs.get(f.fingerprint) ?? Date.parse(f.firstSeen) }))
      .sort(
        (a, b) =>
          compareParsed(a.ms, a.f.firstSeen, b.ms, b.f.firstSeen) ||
          a.f.fingerprint.localeCompare(b.f.fingerprint),
      )
      .map(({ f }) => ({
        fingerprint: f.fingerprint,
        cluster: f.cluster,
        namespace: f.namespace,
        workload: { kind: f.workload.kind, name: f.workload.name },
        container: f.container,
        image: f.image,
        reference: f.reference,
        rule: f.rule,
        severity: f.severity,
        count: f.count,
        firstSeen: f.firstSeen,
        lastSeen: f.lastSeen,
        actor: f.actor,
        digest: f.digest,
        message: f.message,
        matchedRule: f.matchedRule,
      }));
  }
}
