/**
 * The finding lifecycle, once: how a sighting, a person's status change and regwatch's own
 * auto-resolution change a finding. Pure; the Findings table (`adapters/dynamodb/findings.ts`)
 * and offline replay (`aggregate.ts`) both fold through here, so they cannot disagree on
 * counts, first/last seen, the actor or the status. docs/reconciliation.md lists every transition.
 */
import { ConflictError } from './errors.ts';
import type {
  Actor,
  AutoResolutionReason,
  Finding,
  FindingCandidate,
  FindingStatus,
  Sighting,
  StatusChange,
  UpsertOutcome,
} from './types.ts';

/** Who changes a finding on its own (reopen, auto-resolve). */
export const SYSTEM_ACTOR = 'regwatch';
/** How many status changes a finding keeps. */
export const STATUS_HISTORY = 20;
/** How many sightings (pod, actor, source) a finding keeps. */
export const SIGHTINGS = 20;

/** What a finding remembers of one sighting: which pod, who, from where, and its notes. */
export function sightingOf(c: FindingCandidate): Sighting {
  const s: Sighting = {
    at: c.observedAt,
    source: c.source,
    eventId: c.eventId,
    podName: c.podName ?? null,
    actor: c.actor?.username ?? null,
  };
  if (c.notes && c.notes.length > 0) s.notes = c.notes;
  return s;
}

/** Allowed status changes by a person; anything else is a `ConflictError`. */
export const STATUS_TRANSITIONS: Readonly<Record<FindingStatus, readonly FindingStatus[]>> = {
  OPEN: ['ACKNOWLEDGED', 'RESOLVED', 'SUPPRESSED'],
  ACKNOWLEDGED: ['RESOLVED', 'SUPPRESSED', 'OPEN'],
  SUPPRESSED: ['OPEN', 'RESOLVED'],
  RESOLVED: ['OPEN'],
};

/**
 * A kube-controller-manager controller acting for a workload. The person who changed the
 * workload is on the workload's own event, so they beat the controller that made the pod.
 */
export function isControllerActor(actor: Actor): boolean {
  return (
    actor.controller === true ||
    /^system:serviceaccount:kube-system:[a-z-]*controller$/.test(actor.username) ||
    actor.username === 'system:kube-controller-manager'
  );
}

/**
 * The actor a finding names: a person beats a controller; between equals the latest sighting
 * wins (it is who touched it last). `candidateIsLatest` says whether the candidate's sighting
 * is at or after the finding's lastSeen.
 */
export function preferActor(
  current: Actor | null,
  candidate: Actor | null,
  candidateIsLatest: boolean,
): Actor | null {
  if (!candidate) return current;
  if (!current) return candidate;
  const curCtl = isControllerActor(current);
  const candCtl = isControllerActor(candidate);
  if (curCtl !== candCtl) return curCtl ? candidate : current;
  return candidateIsLatest ? candidate : current;
}

/** Milliseconds of an ISO time; NaN-safe order with text as the tie-break. */
function ms(time: string): number {
  return Date.parse(time);
}

/** A new finding from its first sighting. */
export function newFinding(c: FindingCandidate, id: string): Finding {
  return {
    ...c,
    id,
    status: 'OPEN',
    firstSeen: c.observedAt,
    lastSeen: c.observedAt,
    count: 1,
    firstActor: c.actor,
    sightings: [sightingOf(c)],
  };
}

/**
 * Folds one more sighting into `finding` IN PLACE (replay folds millions; the store folds a
 * copy): count, first/last seen, the latest sighting's details (image, digest, message,
 * event), the actor by `preferActor`, and the reopen of a resolved finding or one whose
 * suppression ended. Redelivery (the same event twice) is the caller's to detect.
 */
export function foldSighting(
  finding: Finding,
  c: FindingCandidate,
  now: Date,
): { outcome: UpsertOutcome } {
  const seen = ms(c.observedAt);
  const isLatest = seen >= ms(finding.lastSeen);
  const isEarliest = seen < ms(finding.firstSeen);
  finding.actor = preferActor(finding.actor, c.actor, isLatest);
  if (isLatest) {
    finding.lastSeen = c.observedAt;
    finding.image = c.image;
    finding.reference = c.reference;
    finding.repository = c.repository;
    finding.severity = c.severity;
    finding.message = c.message;
    finding.matchedRule = c.matchedRule;
    finding.source = c.source;
    finding.observedAt = c.observedAt;
    finding.eventId = c.eventId;
    finding.containerKind = c.containerKind;
    // The latest sighting knows best what ran; one that does not know keeps what was known.
    if (c.digest) finding.digest = c.digest;
    // The latest sighting's pod and notes, not a mix of old and new.
    if (c.podName === undefined) delete finding.podName;
    else finding.podName = c.podName;
    if (c.notes === undefined) delete finding.notes;
    else finding.notes = c.notes;
  } else if (!finding.digest && c.digest) {
    finding.digest = c.digest;
  }
  if (isEarliest) {
    finding.firstSeen = c.observedAt;
    finding.firstActor = c.actor;
  }
  finding.count += 1;
  // Every sighting is kept (bounded), so a claimed owner that never existed shows its pods.
  const sightings = finding.sightings ?? [];
  sightings.push(sightingOf(c));
  if (sightings.length > SIGHTINGS) sightings.splice(0, sightings.length - SIGHTINGS);
  finding.sightings = sightings;

  const reason = reopenReason(finding, c.observedAt, now);
  if (!reason) return { outcome: 'repeat' };
  record(finding, { status: 'OPEN', by: SYSTEM_ACTOR, at: now.toISOString(), reason });
  delete finding.resolution;
  return { outcome: 'reopened' };
}

/**
 * Why a sighting reopens a finding, or null. A sighting from before the resolution (or from
 * inside the suppression window) is a late delivery of something already judged: no reopen.
 */
export function reopenReason(prev: Finding, observed: string, now: Date): string | null {
  const change = prev.lastStatusChange;
  const seen = ms(observed);
  if (prev.status === 'RESOLVED') {
    if (change && seen <= ms(change.at)) return null;
    return `seen again at ${observed} after it was resolved`;
  }
  if (prev.status === 'SUPPRESSED') {
    const until = change?.until;
    if (until === undefined) return null;
    const ends = ms(until);
    if (ends > now.getTime() || seen < ends) return null;
    return `seen again at ${observed} after the suppression ended at ${until}`;
  }
  return null;
}

function record(finding: Finding, change: StatusChange): void {
  finding.status = change.status;
  finding.lastStatusChange = change;
  finding.statusHistory = [...(finding.statusHistory ?? []), change].slice(-STATUS_HISTORY);
}

/** A person's status change; returns a new finding or throws `ConflictError`. */
export function applyStatusChange(prev: Finding, change: StatusChange): Finding {
  if (!STATUS_TRANSITIONS[prev.status].includes(change.status)) {
    throw new ConflictError(
      `finding ${prev.id} is ${prev.status}; it cannot become ${change.status} (allowed: ${
        STATUS_TRANSITIONS[prev.status].join(', ') || 'none'
      })`,
    );
  }
  const finding: Finding = { ...prev };
  record(finding, change);
  if (change.status === 'RESOLVED')
    finding.resolution = { by: change.by, reason: change.reason, at: change.at };
  else delete finding.resolution;
  return finding;
}

/**
 * Whether regwatch may resolve a finding on its own now: OPEN and ACKNOWLEDGED yes; a
 * SUPPRESSED one only once its `until` has passed (a suppression without end stays); a
 * RESOLVED one is already resolved.
 */
export function canAutoResolve(prev: Finding, now: Date): boolean {
  if (prev.status === 'OPEN' || prev.status === 'ACKNOWLEDGED') return true;
  if (prev.status === 'SUPPRESSED') {
    const until = prev.lastStatusChange?.until;
    return until !== undefined && ms(until) <= now.getTime();
  }
  return false;
}

/** regwatch's own resolution, or null when `canAutoResolve` says no. */
export function autoResolve(
  prev: Finding,
  reason: AutoResolutionReason,
  now: Date,
): Finding | null {
  if (!canAutoResolve(prev, now)) return null;
  const at = now.toISOString();
  const finding: Finding = { ...prev };
  record(finding, { status: 'RESOLVED', by: SYSTEM_ACTOR, at, reason });
  finding.resolution = { by: SYSTEM_ACTOR, reason, at };
  return finding;
}
