/**
 * Folds finding candidates into one finding per fingerprint, the way the Findings table
 * does, for offline use (replay): count distinct events, first/last seen, who did it.
 */
import type { Actor, FindingCandidate } from './types.ts';

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
 * A pod created by a controller is attributed to the person who changed its workload when
 * that change is in the same stream, so a human actor beats a controller's service account.
 */
function isControllerActor(actor: Actor): boolean {
  return (
    /^system:serviceaccount:kube-system:[a-z-]*controller$/.test(actor.username) ||
    actor.username === 'system:kube-controller-manager'
  );
}

function betterActor(current: Actor | null, candidate: Actor | null, candidateIsEarlier: boolean) {
  if (!candidate) return current;
  if (!current) return candidate;
  const curCtl = isControllerActor(current);
  const candCtl = isControllerActor(candidate);
  if (curCtl !== candCtl) return curCtl ? candidate : current;
  return candidateIsEarlier ? candidate : current;
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

export class FindingAggregator {
  private readonly byFingerprint = new Map<string, AggregatedFinding>();
  private readonly seenEvents = new Set<string>();
  /** `Date.parse` of each finding's firstSeen / lastSeen, so each time is parsed once. */
  private readonly instants = new Map<string, { first: number; last: number }>();

  /** Adds one candidate; the same event seen twice for one finding counts once. */
  add(c: FindingCandidate): void {
    const eventKey = `${c.fingerprint}\u0000${c.eventId}`;
    if (this.seenEvents.has(eventKey)) return;
    this.seenEvents.add(eventKey);
    const existing = this.byFingerprint.get(c.fingerprint);
    const at = Date.parse(c.observedAt);
    if (!existing) {
      this.instants.set(c.fingerprint, { first: at, last: at });
      this.byFingerprint.set(c.fingerprint, {
        fingerprint: c.fingerprint,
        cluster: c.cluster,
        namespace: c.namespace,
        workload: { kind: c.workload.kind, name: c.workload.name },
        container: c.container,
        image: c.image,
        reference: c.reference,
        rule: c.rule,
        severity: c.severity,
        count: 1,
        firstSeen: c.observedAt,
        lastSeen: c.observedAt,
        actor: c.actor,
        digest: c.digest,
        message: c.message,
        matchedRule: c.matchedRule,
      });
      return;
    }
    existing.count += 1;
    const known = this.instants.get(c.fingerprint) ?? {
      first: Date.parse(existing.firstSeen),
      last: Date.parse(existing.lastSeen),
    };
    const earlier = compareParsed(at, c.observedAt, known.first, existing.firstSeen) < 0;
    existing.actor = betterActor(existing.actor, c.actor, earlier);
    if (earlier) {
      existing.firstSeen = c.observedAt;
      known.first = at;
    }
    if (compareParsed(at, c.observedAt, known.last, existing.lastSeen) >= 0) {
      existing.lastSeen = c.observedAt;
      known.last = at;
      // The latest sighting knows best what ran.
      if (c.digest) existing.digest = c.digest;
    } else if (!existing.digest && c.digest) {
      existing.digest = c.digest;
    }
  }

  get size(): number {
    return this.byFingerprint.size;
  }

  /** Findings ordered by first sighting, then fingerprint, so output is deterministic. */
  results(): AggregatedFinding[] {
    const firstMs = (f: AggregatedFinding) =>
      this.instants.get(f.fingerprint)?.first ?? Date.parse(f.firstSeen);
    return [...this.byFingerprint.values()]
      .map((f) => ({ f, ms: firstMs(f) }))
      .sort(
        (a, b) =>
          compareParsed(a.ms, a.f.firstSeen, b.ms, b.f.firstSeen) ||
          a.f.fingerprint.localeCompare(b.f.fingerprint),
      )
      .map(({ f }) => f);
  }
}
