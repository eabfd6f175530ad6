/** The forwarder's pod event as a `PodObservation`, the shape every source is evaluated in. */
import { createHash } from 'node:crypto';
import type { PodObservation } from '../types.ts';
import { extractContainers } from './containers.ts';
import type { PodDeletedEvent, PodEvent } from './pod-event.ts';
import { type WorkloadOptions, workloadOf } from './workload.ts';

/**
 * `eventId` = `<pod uid>:<reason>:<hash of every container's name, image and imageID>`: a
 * re-delivered or resynced identical event maps to the same id (idempotent), while the same pod
 * seen again once its digests resolved (or after an in-place image change) is a new event.
 */
export function observationFromPodEvent(
  // A deleted pod's event carries the same trimmed pod: it names the workload that lost it.
  event: PodEvent | PodDeletedEvent,
  opts: WorkloadOptions = {},
): PodObservation {
  const pod = event.pod;
  const containers = extractContainers({ ...pod, kind: 'Pod' }, 'Pod');
  const hash = createHash('sha256');
  for (const c of containers) hash.update(`${c.kind}\0${c.name}\0${c.image}\0${c.imageID ?? ''}\n`);
  return {
    source: 'forwarder',
    cluster: event.cluster,
    namespace: pod.metadata.namespace,
    workload: workloadOf({ ...pod, kind: 'Pod' }, opts, 'Pod'),
    podName: pod.metadata.name,
    podUid: pod.metadata.uid,
    serviceAccount: pod.spec.serviceAccountName ?? null,
    node: pod.spec.nodeName ?? null,
    containers,
    actor: null,
    observedAt: event.observedAt,
    eventId: `${pod.metadata.uid}:${event.reason}:${hash.digest('hex').slice(0, 16)}`,
    partial: false,
  };
}
