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
 * Whether an objectRef can matter: a pod or pod-template owner of its own API group, with no
 * subresource or one of `RELEVANT_SUBRESOURCES`. Shared by the text and byte pre-filters.
 */
export function isRelevantRef(
  resource: string | undefined,
  subresource: string | undefined,
  apiGroup: string | undefined,
): boolean {
  if (resource === undefined || !isRelevantResource(resource)) return false;
  const spec = RELEVANT_RESOURCES[resource];
  if (!(spec.groups as readonly string[]).includes(apiGroup ?? '')) return false;
  if (subresource === undefined || subresource === '') return true;
  return (RELEVANT_SUBRESOURCES[resource] ?? []).includes(subresource);
}
