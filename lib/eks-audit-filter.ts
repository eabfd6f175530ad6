/**
 * The CloudWatch Logs subscription filter pattern for EKS audit logs. EKS writes every API
 * request of a cluster to `/aws/eks/<name>/cluster` (tens of thousands per minute on a busy
 * cluster: watches, status patches, leases); only successful writes of pods and pod-template
 * owners can change which images run, so the rest is dropped at the source, before it costs a
 * Lambda invocation. What passes here is judged exactly by the function (its pre-filter and
 * interpreter); this filter must only never drop what the interpreter would report.
 */

/**
 * Verbs that can create or change a pod spec, and `delete`, which cannot introduce an image
 * but takes one away: the inventory follows it (issue 11).
 */
export const AUDIT_VERBS = ['create', 'update', 'patch', 'delete'] as const;

/** Resources that are pods or carry a pod template. */
export const AUDIT_RESOURCES = [
  'pods',
  'deployments',
  'replicasets',
  'statefulsets',
  'daemonsets',
  'jobs',
  'cronjobs',
  'replicationcontrollers',
  'podtemplates',
] as const;

/**
 * Subresources that add containers. Every other subresource (`status`, `scale`, `binding`,
 * `eviction`, `exec`, …) is dropped: `pods/status` alone is most of a cluster's write traffic.
 */
export const AUDIT_SUBRESOURCES = [
  { resource: 'pods', subresource: 'ephemeralcontainers' },
] as const;

/**
 * Custom resources are judged by shape (Argo Rollouts, Knative, JobSet…: any extension API
 * group may embed a pod spec), so their writes must reach the function too. The interpreter's
 * rule (`isExtensionGroup` in lambdas/core/audit/rules.ts) is "the group holds a dot and does
 * not end with `.k8s.io`"; CloudWatch Logs can say exactly that with its two regular
 * expressions per pattern (its limit), which also keeps leases and other `*.k8s.io` traffic
 * out. `*.x-k8s.io` groups do not end with `.k8s.io` and are kept, as the interpreter keeps them.
 */
export const EXTENSION_GROUP_REGEXES = { contains: '\\.', notEndsWith: '\\.k8s\\.io$' } as const;

/** CloudWatch Logs rejects filter patterns longer than this. */
export const FILTER_PATTERN_MAX_LENGTH = 1024;

function anyOf(selector: string, values: readonly string[]): string {
  return `(${values.map((value) => `${selector} = "${value}"`).join(' || ')})`;
}

/**
 * Builds the JSON filter pattern. Every `&&` / `||` group is parenthesised so the pattern never
 * depends on CloudWatch's operator precedence. Only `ResponseComplete` events with a 2xx status
 * pass (or those without a status, which the interpreter reports): the earlier `RequestReceived`
 * stage has no outcome, and a rejected request ran nothing.
 */
export function buildAuditFilterPattern(): string {
  const extensionGroup = `($.objectRef.apiGroup = %${EXTENSION_GROUP_REGEXES.contains}% && $.objectRef.apiGroup != %${EXTENSION_GROUP_REGEXES.notEndsWith}%)`;
  const ownResource = `($.objectRef.subresource NOT EXISTS && (${anyOf('$.objectRef.resource', AUDIT_RESOURCES)} || ${extensionGroup}))`;
  const subresources = AUDIT_SUBRESOURCES.map(
    ({ resource, subresource }) =>
      `($.objectRef.resource = "${resource}" && $.objectRef.subresource = "${subresource}")`,
  );
  const pattern = [
    '{ ($.stage = "ResponseComplete")',
    // No responseStatus at all is kept: the interpreter reports such a write as a failure
    // (`no-response-status`), it must not vanish here.
    '($.responseStatus.code NOT EXISTS || ($.responseStatus.code >= 200 && $.responseStatus.code < 300))',
    anyOf('$.verb', AUDIT_VERBS),
    `(${[ownResource, ...subresources].join(' || ')}) }`,
  ].join(' && ');
  if (pattern.length > FILTER_PATTERN_MAX_LENGTH) {
    // A programming error (the lists above grew), not bad input: fail synthesis loudly.
    throw new Error(
      `EKS audit filter pattern is ${pattern.length} characters; CloudWatch Logs allows ${FILTER_PATTERN_MAX_LENGTH}`,
    );
  }
  return pattern;
}

/** The log group EKS writes control-plane logs to. */
export function eksClusterLogGroupName(cluster: string): string {
  return `/aws/eks/${cluster}/cluster`;
}
