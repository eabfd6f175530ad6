/** Who made an audit-logged request. */
import type { Actor } from '../types.ts';

type Loose = Record<string, unknown>;
const obj = (v: unknown): Loose =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Loose) : {};
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/**
 * `user.extra` keys worth keeping: they say which IAM role / session (EKS) or which pod and
 * node (bound service-account tokens) acted. Everything else is dropped, in particular
 * `accessKeyId` and anything token-like: findings are stored and sent to Slack.
 */
export const KEPT_EXTRA_KEYS = [
  'arn',
  'canonicalArn',
  'sessionName',
  'authentication.kubernetes.io/pod-name',
  'authentication.kubernetes.io/node-name',
] as const;

/**
 * The kube-controller-manager controllers that create pods or pod-template owners on behalf
 * of a workload (`--use-service-account-credentials` gives each its own service account).
 */
export const WORKLOAD_CONTROLLERS = [
  'replicaset-controller',
  'replication-controller',
  'deployment-controller',
  'statefulset-controller',
  'daemon-set-controller',
  'job-controller',
  'cronjob-controller',
] as const;

export function isWorkloadController(username: string): boolean {
  if (username === 'system:kube-controller-manager') return true;
  const prefix = 'system:serviceaccount:kube-system:';
  return (
    username.startsWith(prefix) &&
    (WORKLOAD_CONTROLLERS as readonly string[]).includes(username.slice(prefix.length))
  );
}

/**
 * Bounds on what a client can make us store: the user agent, source IPs and audit ID are
 * chosen by the client, user and group names by whoever configures authentication. Real
 * values are far shorter; a longer one is cut (marked with "…") so that a finding item stays
 * small and a hostile header cannot make every write of a batch fail.
 */
export const ACTOR_LIMITS = { text: 512, userAgent: 1024, list: 64 } as const;

function cut(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function cutList(list: string[]): string[] {
  return list.slice(0, ACTOR_LIMITS.list).map((s) => cut(s, ACTOR_LIMITS.text));
}

/** The actor of an audit event (v1 or v1beta1). Missing fields become empty, never invented. */
export function actorFromAuditEvent(event: unknown): Actor {
  const e = obj(event);
  const user = obj(e.user);
  const username = str(user.username) ?? '';
  const userAgent = str(e.userAgent);
  const auditID = str(e.auditID);
  const actor: Actor = {
    username: cut(username, ACTOR_LIMITS.text),
    groups: cutList(strings(user.groups)),
    sourceIPs: cutList(strings(e.sourceIPs)),
    userAgent: userAgent === undefined ? null : cut(userAgent, ACTOR_LIMITS.userAgent),
    auditID: auditID === undefined ? null : cut(auditID, ACTOR_LIMITS.text),
  };
  const uid = str(user.uid);
  if (uid) actor.uid = cut(uid, ACTOR_LIMITS.text);
  const imp = obj(e.impersonatedUser);
  const impName = str(imp.username);
  if (impName !== undefined)
    actor.impersonatedUser = {
      username: cut(impName, ACTOR_LIMITS.text),
      groups: cutList(strings(imp.groups)),
    };
  const extra = obj(user.extra);
  let kept: Record<string, string[]> | undefined;
  for (const key of KEPT_EXTRA_KEYS) {
    // Most users have none of these: no lists are made for keys that are absent.
    const raw = Object.hasOwn(extra, key) ? extra[key] : undefined;
    if (!Array.isArray(raw)) continue;
    const values = cutList(strings(raw));
    if (values.length === 0) continue;
    kept ??= {};
    kept[key] = values;
  }
  if (kept) actor.extra = kept;
  // Impersonation: the request ran as the impersonated identity, so that is what acted.
  const effective = impName ?? username;
  if (isWorkloadController(effective)) actor.controller = true;
  return actor;
}
