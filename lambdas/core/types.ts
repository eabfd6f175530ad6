/**
 * Shared vocabulary of the evaluation core. Pure types and constants only: every
 * module in `lambdas/core` (no I/O) and every adapter, handler and CLI command speaks it.
 */

import type { SignatureCheck, SignatureVerdict } from './signatures/verdict.ts';

/** A parsed, normalised image reference (Go `distribution/reference` `ParseNormalizedNamed`). */
export interface ImageReference {
  /** Registry host with optional port, as written (e.g. `docker.io`, `reg:5000`, `[::1]:5000`). */
  domain: string;
  /** Repository path below the domain (e.g. `library/nginx`). */
  path: string;
  /** `domain/path`. */
  name: string;
  tag: string | null;
  /** `algorithm:encoded`, e.g. `sha256:…`. */
  digest: string | null;
  /** Canonical string: `name[:tag][@digest]`. */
  string: string;
  /** Docker's short form: `nginx`, `user/app`, `ghcr.io/x/y`. */
  familiarName: string;
}

export type ParseResult = { ok: true; ref: ImageReference } | { ok: false; error: string };

/** Ordered from least to most severe; index order is used for "minimum severity" filters. */
export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const VIOLATION_RULES = [
  'untrusted-source',
  'denied-source',
  'invalid-reference',
  'unpinned-image',
  'mutable-tag',
  'expired-exception',
  'vulnerable-image',
  'scan-missing',
  'unsigned-image',
  'signature-invalid',
] as const;
export type ViolationRule = (typeof VIOLATION_RULES)[number];

export interface Violation {
  rule: ViolationRule;
  severity: Severity;
  message: string;
}

/** Where an image runs; an empty scope matches only rules without scope restrictions. */
export interface Scope {
  cluster?: string | undefined;
  namespace?: string | undefined;
}

/** The verdict for one image in one scope. */
export interface Decision {
  /** The image exactly as given. */
  image: string;
  allowed: boolean;
  /** Null when the reference does not parse (then the violation is `invalid-reference`). */
  reference: ImageReference | null;
  /** The reference that was judged: differs from `reference` for pull-through-cache images. */
  judged: ImageReference | null;
  /** Id of the allowlist rule that allowed the image, or whose constraints failed. */
  matchedRule: string | null;
  violations: Violation[];
  /**
   * The signature checks the decision consulted (rules with `requireSignature`, in the order
   * tried), when any: a caller without verdicts verifies these and decides again.
   */
  signatureChecks?: SignatureCheck[] | undefined;
  /** The verdict that satisfied the allowing rule's `requireSignature`. */
  signature?: SignatureVerdict | undefined;
}

/* ---------------------------------------------------------------- Kubernetes side */

export type ContainerKind = 'container' | 'initContainer' | 'ephemeralContainer';

export interface ContainerImage {
  name: string;
  kind: ContainerKind;
  /** The spec image, as written. */
  image: string;
  /** `status.*ContainerStatuses[].imageID` when known (what actually ran). */
  imageID: string | null;
  /** The `sha256:…` digest taken from `imageID`, when it carries one. */
  digest: string | null;
}

/** The owning workload: a Deployment rather than each of its pods. */
export interface WorkloadRef {
  kind: string;
  name: string;
}

/** Who did it. */
export interface Actor {
  username: string;
  uid?: string | undefined;
  groups: string[];
  /** Set when the request was made with impersonation: the identity that was assumed. */
  impersonatedUser?: { username: string; groups: string[] } | undefined;
  sourceIPs: string[];
  userAgent: string | null;
  auditID: string | null;
  /** Selected `user.extra` values, e.g. EKS `arn`, `canonicalArn`, `sessionName`. */
  extra?: Record<string, string[]> | undefined;
  /**
   * True when the actor is a kube-controller-manager controller (replicaset-controller,
   * job-controller, …) acting for a workload: the person who changed the workload appears on
   * the workload's own event, not on the pod's.
   */
  controller?: boolean | undefined;
}

export type ObservationSource = 'audit' | 'forwarder' | 'ecr' | 'inspector';

/** One sighting of a workload's containers, from any event source. */
export interface PodObservation {
  source: ObservationSource;
  cluster: string;
  namespace: string;
  workload: WorkloadRef;
  podName: string | null;
  podUid: string | null;
  serviceAccount: string | null;
  node: string | null;
  containers: ContainerImage[];
  /** Null when the source cannot tell (the forwarder sees pods, not requests). */
  actor: Actor | null;
  /** ISO-8601 time of the underlying event. */
  observedAt: string;
  /** Idempotency key of the underlying event: an auditID, a pod uid + reason, an EventBridge id. */
  eventId: string;
  /** True when the object was partial (a `patch` body): only the named containers are known. */
  partial: boolean;
  /**
   * What a reader of the finding should know about how it was read: the request object was
   * used (mutating webhooks may have changed it), the kind was judged by shape, a pod claims
   * an owner it was not created by.
   */
  notes?: string[] | undefined;
}

/* ---------------------------------------------------------------- findings */

export const FINDING_STATUSES = ['OPEN', 'ACKNOWLEDGED', 'RESOLVED', 'SUPPRESSED'] as const;
export type FindingStatus = (typeof FINDING_STATUSES)[number];

/** What the core produces for one violation of one container; the store turns it into a Finding. */
export interface FindingCandidate {
  fingerprint: string;
  cluster: string;
  namespace: string;
  workload: WorkloadRef;
  container: string;
  containerKind: ContainerKind;
  /** The image as written in the spec. */
  image: string;
  /** Normalised reference string, or null when the image does not parse. */
  reference: string | null;
  /** Normalised repository name (`domain/path`), or null when the image does not parse. */
  repository: string | null;
  /** The digest that ran (from imageID) or the pinned digest of the reference. */
  digest: string | null;
  rule: ViolationRule;
  severity: Severity;
  message: string;
  matchedRule: string | null;
  actor: Actor | null;
  source: ObservationSource;
  observedAt: string;
  eventId: string;
  /** The pod of this sighting, when the source names one (a workload's finding joins many). */
  podName?: string | null | undefined;
  /** The observation's notes (see `PodObservation.notes`). */
  notes?: string[] | undefined;
}

/**
 * One sighting as a finding remembers it: which pod, who, from where. A pod that names a
 * Deployment in its ownerReferences joins that Deployment's finding; its sightings show a pod
 * name and an actor that no ReplicaSet would have, so a claimed owner stays visible.
 */
export interface Sighting {
  at: string;
  source: ObservationSource;
  eventId: string;
  podName: string | null;
  /** The actor's username (null when the source cannot tell, as for the forwarder). */
  actor: string | null;
  notes?: string[] | undefined;
}

export interface StatusChange {
  status: FindingStatus;
  by: string;
  at: string;
  reason: string;
  /** For SUPPRESSED: the suppression ends at this time. */
  until?: string | undefined;
}

export interface Finding extends FindingCandidate {
  /** Short stable id for people (`findings show ID`): the first 16 hex of the fingerprint. */
  id: string;
  status: FindingStatus;
  firstSeen: string;
  lastSeen: string;
  count: number;
  lastStatusChange?: StatusChange | undefined;
  /** Actor of the earliest sighting (`actor` is the latest one's), when the store keeps it. */
  firstActor?: Actor | null | undefined;
  /** Recent status changes, oldest first (bounded), when the store keeps them. */
  statusHistory?: StatusChange[] | undefined;
  /** Recent sightings, oldest first (bounded), when the store keeps them. */
  sightings?: Sighting[] | undefined;
  /** Set while RESOLVED: who resolved it and why (`by: "regwatch"` for auto-resolution). */
  resolution?: Resolution | undefined;
}

/** Why regwatch resolved a finding on its own (docs/reconciliation.md). */
export const AUTO_RESOLUTION_REASONS = [
  'no-longer-running',
  'now-allowed',
  'workload-deleted',
] as const;
export type AutoResolutionReason = (typeof AUTO_RESOLUTION_REASONS)[number];

export interface Resolution {
  by: string;
  /** One of `AUTO_RESOLUTION_REASONS` when `by` is regwatch; a person's reason otherwise. */
  reason: string;
  at: string;
}

/** What a finding upsert did; only `new` and `reopened` alert. */
export type UpsertOutcome = 'new' | 'reopened' | 'repeat';

export interface UpsertResult {
  outcome: UpsertOutcome;
  /** False when the same event (eventId) was already counted: a redelivery changes nothing. */
  counted: boolean;
  finding: Finding;
}

/* ---------------------------------------------------------------- forwarder pod events */

/** Reasons of a pod event that carries a running pod (a sighting to evaluate). */
export const POD_SIGHTING_REASONS = ['added', 'running', 'resync'] as const;
export type PodSightingReason = (typeof POD_SIGHTING_REASONS)[number];
/**
 * Every reason of the `/v1/pod-events` contract: the sightings, `deleted` (the pod is gone; it
 * carries the trimmed pod) and `resync-complete` (a full resync pass ended; no pod).
 */
export const POD_EVENT_REASONS = [...POD_SIGHTING_REASONS, 'deleted', 'resync-complete'] as const;
export type PodEventReason = (typeof POD_EVENT_REASONS)[number];
/** The end of a forwarder resync pass: `{"cluster","observedAt","reason","resyncId"}`, no pod. */
export const RESYNC_COMPLETE_REASON = 'resync-complete';

/* ---------------------------------------------------------------- images (registry side) */

/** Scan state of a pushed image; `MISSING` = no scan result came within the expected time. */
export const SCAN_STATUSES = ['PENDING', 'COMPLETE', 'FAILED', 'UNSUPPORTED', 'MISSING'] as const;
export type ScanStatus = (typeof SCAN_STATUSES)[number];

/** Vulnerability severities as ECR / Inspector report them (not the finding `Severity`). */
export const SCAN_SEVERITIES = [
  'CRITICAL',
  'HIGH',
  'MEDIUM',
  'LOW',
  'INFORMATIONAL',
  'UNDEFINED',
] as const;
export type ScanSeverity = (typeof SCAN_SEVERITIES)[number];
export type SeverityCounts = Record<ScanSeverity, number>;

/** One pushed digest in one repository, with what is known about its scan. */
export interface ImageRecord {
  /** Normalised repository name (`domain/path`), as in `FindingCandidate.repository`. */
  repository: string;
  digest: string;
  /** Registry host, e.g. `123456789012.dkr.ecr.eu-west-1.amazonaws.com`. */
  registry: string;
  account: string | null;
  region: string | null;
  tags: string[];
  /** Earliest push seen; null while only a scan result is known. */
  pushedAt: string | null;
  tagMutability: 'MUTABLE' | 'IMMUTABLE' | null;
  scanStatus: ScanStatus;
  severityCounts: SeverityCounts | null;
  scanCompletedAt: string | null;
  /** Where the scan information came from, e.g. `inspector2-event`, `ecr-api`. */
  scanSource: string | null;
}
