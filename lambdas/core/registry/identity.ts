/**
 * Finding identity on the registry side. A push or a scan has no cluster, namespace or pod,
 * so the Kubernetes fields carry the registry's own coordinates, chosen so the ordinary
 * findings filters work on them:
 *
 *   cluster   = `ecr:<account>:<region>`     (`findings list --cluster ecr:1234…:eu-west-1`)
 *   namespace = the ECR repository name      (`--namespace team/app`)
 *   workload  = { kind: 'EcrRepository', name: <repository name> }
 *   container = `push` (allowlist verdicts on a push) or `scan` (vulnerability and coverage)
 *
 * What the fingerprint's image field holds decides how many findings one problem makes:
 * an untrusted repository is one finding however many digests are pushed to it; a forbidden
 * tag is one per tag; a vulnerable or unscanned image is one per digest (a fix is a new one).
 */
import { fingerprint } from '../fingerprint.ts';
import type { Decision, FindingCandidate, Severity, ViolationRule } from '../types.ts';

export const REGISTRY_WORKLOAD_KIND = 'EcrRepository';
export const PUSH_CONTAINER = 'push';
export const SCAN_CONTAINER = 'scan';

/** The normalised repository name of an ECR repository, as image references spell it. */
export function ecrRepositoryName(account: string, region: string, repositoryName: string): string {
  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `${account}.dkr.ecr.${region}.${suffix}/${repositoryName}`;
}

export function registryCluster(account: string, region: string): string {
  return `ecr:${account}:${region}`;
}

/** The image reference a push makes available: `<repository>[:tag]@<digest>`. */
export function pushedReference(repository: string, tag: string | null, digest: string): string {
  return `${repository}${tag === null ? '' : `:${tag}`}@${digest}`;
}

/** What the fingerprint's image field holds for a registry-side finding of `rule`. */
export function identityImage(
  rule: ViolationRule,
  repository: string,
  tag: string | null,
  digest: string,
): string {
  switch (rule) {
    case 'mutable-tag':
      return tag === null ? repository : `${repository}:${tag}`;
    case 'vulnerable-image':
    case 'scan-missing':
    case 'unpinned-image':
    case 'unsigned-image':
    case 'signature-invalid':
      return `${repository}@${digest}`;
    default:
      // untrusted-source, expired-exception, invalid-reference: a property of the repository.
      return repository;
  }
}

export interface RegistrySubject {
  account: string;
  region: string;
  repositoryName: string;
  /** Normalised repository (`<host>/<name>`). */
  repository: string;
  digest: string;
  tag: string | null;
}

export interface RegistryViolation {
  rule: ViolationRule;
  severity: Severity;
  message: string;
  matchedRule: string | null;
  /** The idempotency key of what caused it (an EventBridge id, a scan-check id). */
  eventId: string;
  observedAt: string;
  source: FindingCandidate['source'];
}

/** One registry-side finding candidate, with the identity described above. */
export function registryCandidate(
  subject: RegistrySubject,
  container: typeof PUSH_CONTAINER | typeof SCAN_CONTAINER,
  v: RegistryViolation,
): FindingCandidate {
  const cluster = registryCluster(subject.account, subject.region);
  const workload = { kind: REGISTRY_WORKLOAD_KIND, name: subject.repositoryName };
  const reference = pushedReference(subject.repository, subject.tag, subject.digest);
  return {
    fingerprint: fingerprint({
      cluster,
      namespace: subject.repositoryName,
      workload,
      container,
      image: identityImage(v.rule, subject.repository, subject.tag, subject.digest),
      rule: v.rule,
    }),
    cluster,
    namespace: subject.repositoryName,
    workload,
    container,
    containerKind: 'container',
    image: reference,
    reference,
    repository: subject.repository,
    digest: subject.digest,
    rule: v.rule,
    severity: v.severity,
    message: v.message,
    matchedRule: v.matchedRule,
    actor: null,
    source: v.source,
    observedAt: v.observedAt,
    eventId: v.eventId,
  };
}

/** Candidates for an allowlist decision on a pushed reference; none when it is allowed. */
export function pushCandidates(
  subject: RegistrySubject,
  decision: Decision,
  event: { eventId: string; observedAt: string },
): FindingCandidate[] {
  if (decision.allowed) return [];
  return decision.violations.map((violation) =>
    registryCandidate(subject, PUSH_CONTAINER, {
      rule: violation.rule,
      severity: violation.severity,
      message: `pushed to ECR: ${violation.message}`,
      matchedRule: decision.matchedRule,
      eventId: event.eventId,
      observedAt: event.observedAt,
      source: 'ecr',
    }),
  );
}
