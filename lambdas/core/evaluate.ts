/**
 * Observation + allowlist → finding candidates. The one place where a sighting of
 * containers becomes findings, used by replay, local mode and every Lambda handler.
 */
import { fingerprint } from './fingerprint.ts';
import type { SignatureVerdicts } from './signatures/verdict.ts';
import type { Decision, FindingCandidate, PodObservation, Scope } from './types.ts';

/** What evaluation needs of a compiled allowlist. */
export interface Decider {
  decide(image: string, scope: Scope, now: Date, signatures?: SignatureVerdicts): Decision;
}

export interface ContainerVerdict {
  container: PodObservation['containers'][number];
  decision: Decision;
}

/**
 * Judges every container of an observation at time `now` (the time the allowlist is applied:
 * the event's own time when replaying history, the wall clock for live events).
 */
export function judgeObservation(
  obs: PodObservation,
  decider: Decider,
  now: Date,
): ContainerVerdict[] {
  const scope: Scope = { cluster: obs.cluster, namespace: obs.namespace };
  return obs.containers.map((container) => ({
    container,
    decision: decider.decide(container.image, scope, now),
  }));
}

/** One candidate per violation per container; an allowed container yields none. */
export function candidatesFromVerdicts(
  obs: PodObservation,
  verdicts: readonly ContainerVerdict[],
): FindingCandidate[] {
  const out: FindingCandidate[] = [];
  for (const { container, decision } of verdicts) {
    if (decision.allowed) continue;
    const reference = decision.reference?.string ?? null;
    for (const violation of decision.violations) {
      out.push({
        fingerprint: fingerprint({
          cluster: obs.cluster,
          namespace: obs.namespace,
          workload: obs.workload,
          container: container.name,
          image: reference ?? container.image,
          rule: violation.rule,
        }),
        cluster: obs.cluster,
        namespace: obs.namespace,
        workload: obs.workload,
        container: container.name,
        containerKind: container.kind,
        image: container.image,
        reference,
        repository: decision.reference?.name ?? null,
        // What ran beats what was asked for: the imageID digest is the truth when known.
        digest: container.digest ?? decision.reference?.digest ?? null,
        rule: violation.rule,
        severity: violation.severity,
        message: violation.message,
        matchedRule: decision.matchedRule,
        actor: obs.actor,
        source: obs.source,
        observedAt: obs.observedAt,
        eventId: obs.eventId,
        podName: obs.podName,
        ...(obs.notes && obs.notes.length > 0 ? { notes: obs.notes } : {}),
      });
    }
  }
  return out;
}

export function evaluateObservation(
  obs: PodObservation,
  decider: Decider,
  now: Date,
): FindingCandidate[] {
  return candidatesFromVerdicts(obs, judgeObservation(obs, decider, now));
}
