/**
 * Audit `delete` events of pods and pod-template owners, for the inventory: the interpreter
 * (`audit/interpret.ts`) judges only writes that can put an image on a cluster; a delete takes
 * one away. Pure; never throws on bad input.
 */
import { isRelevantResource, RELEVANT_RESOURCES } from './audit/rules.ts';
import { workloadOf } from './kube/workload.ts';
import type { WorkloadRef } from './types.ts';

export type AuditDeletion =
  | {
      kind: 'pod';
      namespace: string;
      podName: string;
      /** The pod's workload when the event carries the deleted pod (RequestResponse level). */
      workload: WorkloadRef | null;
      observedAt: string;
    }
  | { kind: 'workload'; namespace: string; workload: WorkloadRef; observedAt: string };

type Loose = Record<string, unknown>;
const isObj = (v: unknown): v is Loose => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The deletion an audit event records, or null when it is not a successful delete of one. */
export function auditDeletion(event: unknown): AuditDeletion | null {
  if (!isObj(event) || event.verb !== 'delete' || event.stage !== 'ResponseComplete') return null;
  const status = isObj(event.responseStatus) ? event.responseStatus.code : undefined;
  if (typeof status !== 'number' || status < 200 || status > 299) return null;
  const ref = isObj(event.objectRef) ? event.objectRef : {};
  const resource = str(ref.resource) ?? '';
  if (!isRelevantResource(resource) || (str(ref.subresource) ?? '') !== '') return null;
  const spec = RELEVANT_RESOURCES[resource];
  if (!(spec.groups as readonly string[]).includes(str(ref.apiGroup) ?? '')) return null;
  const namespace = str(ref.namespace);
  const name = str(ref.name);
  if (!namespace || !name) return null;
  let observedAt: string | null = null;
  for (const t of [event.stageTimestamp, event.requestReceivedTimestamp, event.timestamp]) {
    const ms = typeof t === 'string' ? Date.parse(t) : Number.NaN;
    if (!Number.isNaN(ms)) {
      observedAt = new Date(ms).toISOString();
      break;
    }
  }
  if (!observedAt) return null;
  if (resource === 'pods') {
    const object =
      isObj(event.responseObject) && event.responseObject.kind === 'Pod'
        ? event.responseObject
        : null;
    return {
      kind: 'pod',
      namespace,
      podName: name,
      workload: object ? workloadOf({ ...object, kind: 'Pod' }, {}, 'Pod') : null,
      observedAt,
    };
  }
  // The object itself: deleting a ReplicaSet its Deployment owns is not deleting the Deployment.
  return { kind: 'workload', namespace, workload: { kind: spec.kind, name }, observedAt };
}
