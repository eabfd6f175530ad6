/**
 * What interpreting an audit event yields: an observation, or a named reason why not — some
 * reasons being failures to report rather than skips — and the redelivery key of an event.
 */
import { hash } from 'node:crypto';
import type { WorkloadOptions } from '../kube/workload.ts';
import type { Actor, ContainerImage, PodObservation, WorkloadRef } from '../types.ts';

export const SKIP_REASONS = [
  /** Not an audit Event (wrong shape, missing auditID/stage/verb/user/time). A reported failure. */
  'not-audit-event',
  /** A log line that is not JSON (e.g. plain-text CloudWatch messages); set by readers. */
  'not-json',
  /** Not `ResponseComplete` (RequestReceived, ResponseStarted, Panic). */
  'stage',
  /** Not create/update/patch. */
  'verb',
  /** Not a pod or pod-template owner (or an API group that does not serve one). */
  'resource',
  /** A subresource other than pods/ephemeralcontainers (exec, status, scale, …). */
  'subresource',
  /** Not a 2xx response. */
  'failed-request',
  /** Logged at Metadata level (or without any object): the images are unknown. */
  'metadata-only',
  /** The object names no container image (e.g. a patch that changes replicas only). */
  'no-containers',
  /**
   * A completed write of a pod or pod-template owner without `responseStatus`: whether it
   * succeeded cannot be told, so it is a reported failure, never a quiet skip.
   */
  'no-response-status',
  /**
   * A pod-template owner resource (deployments, jobs, …) whose objectRef has no `apiGroup`:
   * which API served it cannot be told. A reported failure.
   */
  'no-api-group',
  /**
   * A write that may set an image the event does not show (JSON-patch `copy` / `move` /
   * `test` on a container, an unreadable patch, a body too large to search). A reported failure.
   */
  'image-unknown',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/**
 * Reasons that are failures to report (by auditID), not ordinary skips: each is a write that
 * may have put an image on the cluster which was not judged.
 */
export const FAILURE_REASONS: ReadonlySet<SkipReason> = new Set<SkipReason>([
  'not-audit-event',
  'no-response-status',
  'no-api-group',
  'image-unknown',
]);

export function isReportedFailure(reason: SkipReason): boolean {
  return FAILURE_REASONS.has(reason);
}

/** What is known of a request even when it yields no observation (for counting and reports). */
export interface AuditRequestSummary {
  auditID: string;
  verb: string;
  /** `resource` or `resource/subresource`. */
  resource: string;
  namespace: string | null;
  name: string | null;
  workload: WorkloadRef | null;
  actor: Actor;
  observedAt: string;
}

export type AuditOutcome =
  | { kind: 'observation'; observation: PodObservation }
  | {
      kind: 'skipped';
      reason: SkipReason;
      detail: string;
      request?: AuditRequestSummary | undefined;
    };

export interface InterpretOptions extends WorkloadOptions {
  cluster: string;
}

export function skip(
  reason: SkipReason,
  detail: string,
  request?: AuditRequestSummary,
): AuditOutcome {
  return { kind: 'skipped', reason, detail, request };
}

/**
 * The redelivery key: the auditID alone is chosen by the client (the `Audit-ID` header), so
 * an old ID must not hide a new event. The ID plus a digest of the stage timestamp, the
 * request and every container's image tells a true redelivery from a reused ID.
 */
export function auditEventKey(
  auditID: string,
  stageTimestamp: string,
  request: string,
  containers: readonly ContainerImage[],
): string {
  // One string hashed at once (`crypto.hash`): the same bytes as one update per part, at a
  // third of the cost of a Hash object per event.
  let text = `${stageTimestamp}\n${request}\n`;
  for (const c of containers) text += `${c.kind}\0${c.name}\0${c.image}\n`;
  // A long client-chosen ID is stored 50 times per finding: past 128 characters, its digest.
  const id =
    auditID.length <= 128 ? auditID : `sha256-${hash('sha256', auditID, 'hex').slice(0, 32)}`;
  return `${id}:${hash('sha256', text, 'hex').slice(0, 16)}`;
}
