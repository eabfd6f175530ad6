/**
 * The owning workload of a pod or pod-template owner: the identity a finding is keyed on, so
 * the 50 pods of one Deployment make one finding, not 50.
 */
import type { WorkloadRef } from '../types.ts';

type Loose = Record<string, unknown>;
const obj = (v: unknown): Loose =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Loose) : {};
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export interface OwnerReference {
  kind: string;
  name: string;
  uid?: string | undefined;
  controller?: boolean | undefined;
}

/**
 * Looks up the controller of an owner the object itself cannot tell about, e.g. a caller that
 * has seen the Job objects (their ownerReferences) can map Job `nightly-29123340` to CronJob
 * `nightly`. Return undefined when unknown.
 */
export type OwnerResolver = (
  owner: OwnerReference & { namespace: string },
) => WorkloadRef | undefined;

export interface WorkloadOptions {
  resolveOwner?: OwnerResolver | undefined;
}

/** The controlling owner reference: the one marked `controller`, else the only/first one. */
export function controllerOf(object: unknown): OwnerReference | null {
  const refs = obj(obj(object).metadata).ownerReferences;
  if (!Array.isArray(refs)) return null;
  const valid: OwnerReference[] = [];
  for (const r of refs) {
    const o = obj(r);
    const kind = str(o.kind);
    const name = str(o.name);
    if (!kind || !name) continue;
    valid.push({ kind, name, uid: str(o.uid), controller: o.controller === true });
  }
  return valid.find((r) => r.controller) ?? valid[0] ?? null;
}

// rand.SafeEncodeString's alphabet (k8s.io/apimachinery): consonants and digits without
// vowels or look-alikes, so generated names never spell words.
const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/**
 * Kubernetes 1.8–1.11 labelled pods with the decimal template hash but named the ReplicaSet
 * with its safe encoding (`1787755869` → `5cdcc99dbf`); newer versions use the encoded form
 * for both.
 */
export function safeEncode(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += SAFE_ALPHABET[s.charCodeAt(i) % SAFE_ALPHABET.length];
  return out;
}

/**
 * The Deployment a ReplicaSet name belongs to, proven by the pod-template-hash label: the
 * deployment controller names each ReplicaSet `<deployment>-<hash>`. Null when it does not fit.
 */
export function deploymentOfReplicaSet(
  replicaSet: string,
  templateHash: string | undefined,
): string | null {
  if (!templateHash) return null;
  for (const suffix of [templateHash, safeEncode(templateHash)]) {
    const tail = `-${suffix}`;
    if (replicaSet.length > tail.length && replicaSet.endsWith(tail)) {
      return replicaSet.slice(0, -tail.length);
    }
  }
  return null;
}

/**
 * The CronJob a Job name belongs to: the CronJob controller names each Job
 * `<cronjob>-<scheduled time in minutes since the epoch>` (8 digits from 2017 to 2160; CronJob
 * names are at most 52 characters so the Job name fits). Null when the name does not fit.
 * A hand-made Job named like that is attributed to a CronJob of that name: the cost of that is
 * a finding under a name that was never a CronJob, while the alternative is one new finding
 * (and one alert) for every run of every CronJob.
 */
export function cronJobOfJob(job: string): string | null {
  const m = /^([a-z0-9](?:[-a-z0-9]{0,50}[a-z0-9])?)-(\d{8})$/.exec(job);
  if (!m) return null;
  // Minutes since the epoch from mid-2017 on: smaller numbers are not schedule times.
  return Number(m[2]) >= 25_000_000 ? (m[1] as string) : null;
}

/**
 * The workload of an object from its controlling owner:
 * - ReplicaSet owner whose name is `<deployment>-<pod-template-hash>` → that Deployment;
 *   a ReplicaSet without that proof → the ReplicaSet;
 * - a Job owner named `<cronjob>-<8-digit schedule minute>` → that CronJob (`cronJobOfJob`:
 *   one finding per CronJob, not one per run), any other Job → the Job, unless `resolveOwner`
 *   knows better; a ReplicaSet or Job *object* owned by a Deployment / CronJob → that owner;
 * - any other owner (StatefulSet, DaemonSet, ReplicationController, Job, CronJob, a custom
 *   controller, a Node for static pods) → the owner itself;
 * - no owner → the object itself (`fallbackKind`, or its `kind`, default Pod).
 */
export function workloadOf(
  object: unknown,
  opts: WorkloadOptions = {},
  fallbackKind?: string,
): WorkloadRef {
  const o = obj(object);
  const md = obj(o.metadata);
  const owner = controllerOf(o);
  const ownKind = fallbackKind ?? str(o.kind) ?? 'Pod';
  const ownName = str(md.name) ?? '';
  if (!owner) return { kind: ownKind, name: ownName };
  const namespace = str(md.namespace) ?? '';
  const resolved = opts.resolveOwner?.({ ...owner, namespace });
  if (resolved) return resolved;
  if (owner.kind === 'ReplicaSet') {
    const hash = str(obj(md.labels)['pod-template-hash']);
    const deployment = deploymentOfReplicaSet(owner.name, hash);
    return deployment
      ? { kind: 'Deployment', name: deployment }
      : { kind: 'ReplicaSet', name: owner.name };
  }
  if (owner.kind === 'Job') {
    const cronJob = cronJobOfJob(owner.name);
    if (cronJob) return { kind: 'CronJob', name: cronJob };
  }
  return { kind: owner.kind, name: owner.name };
}
