/**
 * Which audit events can put an image on a cluster. One list serves the interpreter and the
 * raw-line pre-filter, so the pre-filter cannot drift from what the interpreter keeps.
 */

export const RELEVANT_VERBS = ['create', 'update', 'patch'] as const;

/**
 * What the pre-filters keep: the writes above, and `delete`, which takes an image away (the
 * inventory follows it; the interpreter still skips it as `verb`).
 */
export const PREFILTER_VERBS = [...RELEVANT_VERBS, 'delete'] as const;

/** Resource → the kind of its objects and the API groups it is served from. */
export const RELEVANT_RESOURCES = {
  pods: { kind: 'Pod', groups: [''] },
  podtemplates: { kind: 'PodTemplate', groups: [''] },
  replicationcontrollers: { kind: 'ReplicationController', groups: [''] },
  deployments: { kind: 'Deployment', groups: ['apps', 'extensions'] },
  replicasets: { kind: 'ReplicaSet', groups: ['apps', 'extensions'] },
  statefulsets: { kind: 'StatefulSet', groups: ['apps'] },
  daemonsets: { kind: 'DaemonSet', groups: ['apps', 'extensions'] },
  jobs: { kind: 'Job', groups: ['batch'] },
  cronjobs: { kind: 'CronJob', groups: ['batch'] },
} as const satisfies Record<string, { kind: string; groups: readonly string[] }>;
export type RelevantResource = keyof typeof RELEVANT_RESOURCES;

/** `pods/ephemeralcontainers` is how `kubectl debug` adds a container to a running pod. */
export const RELEVANT_SUBRESOURCES: Readonly<Record<string, readonly string[]>> = {
  pods: ['ephemeralcontainers'],
};

export function isRelevantVerb(verb: string): boolean {
  return (RELEVANT_VERBS as readonly string[]).includes(verb);
}

export function isRelevantResource(resource: string): resource is RelevantResource {
  return Object.hasOwn(RELEVANT_RESOURCES, resource);
}

/**
 * Whether an objectRef can matter:
 * - `relevant`: a pod or pod-template owner of its own API group, with no subresource or one
 *   of `RELEVANT_SUBRESOURCES`; or a pod-template owner whose objectRef lacks its API group
 *   (the interpreter reports it: which API served it cannot be told);
 * - `if-pod-spec`: a resource of an extension API group (`isExtensionGroup`: a CRD) without
 *   subresource, which matters only if its body carries a pod spec (found by shape);
 * - `irrelevant`: anything else.
 * Shared by the interpreter and the text and byte pre-filters.
 */
export type RefRelevance = 'relevant' | 'if-pod-spec' | 'irrelevant';

export function refRelevance(
  resource: string | undefined,
  subresource: string | undefined,
  apiGroup: string | undefined,
): RefRelevance {
  if (resource === undefined) return 'irrelevant';
  const hasSub = subresource !== undefined && subresource !== '';
  if (isRelevantResource(resource)) {
    const groups = RELEVANT_RESOURCES[resource].groups as readonly string[];
    const subOk = !hasSub || (RELEVANT_SUBRESOURCES[resource] ?? []).includes(subresource);
    if (groups.includes(apiGroup ?? '')) return subOk ? 'relevant' : 'irrelevant';
    if ((apiGroup === undefined || apiGroup === '') && subOk) return 'relevant';
  }
  return isExtensionGroup(apiGroup) && !hasSub ? 'if-pod-spec' : 'irrelevant';
}

/**
 * An API group whose objects may embed a pod spec we only know by shape: a CRD group (CRD
 * groups must hold a dot, the built-in workload groups do not), except Kubernetes' own
 * `*.k8s.io` groups (leases, events, RBAC, networking, flow control…: none holds a pod spec,
 * and CRDs there need API approval). Keeping those out keeps the busiest audit traffic (lease
 * renewals) on the pre-filter's cheapest path. `*.x-k8s.io` (JobSet, LeaderWorkerSet) is kept.
 */
export function isExtensionGroup(apiGroup: string | undefined): boolean {
  return apiGroup?.includes('.') === true && !apiGroup.endsWith('.k8s.io');
}

/** `refRelevance(…) === 'relevant'`. */
export function isRelevantRef(
  resource: string | undefined,
  subresource: string | undefined,
  apiGroup: string | undefined,
): boolean {
  return refRelevance(resource, subresource, apiGroup) === 'relevant';
}

/**
 * Text every pod spec found by shape holds (`containers`, `initContainers`,
 * `ephemeralContainers`, and JSON-patch paths into them): an `if-pod-spec` event without it
 * cannot matter.
 */
export const POD_SPEC_MARK = 'ontainers';
