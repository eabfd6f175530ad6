/** Forwarder pod events as tests post them (`/v1/pod-events`, the pod-events edge). */

export interface RunningPod {
  name: string;
  image: string;
  cluster?: string;
  namespace?: string;
  /** Default `uid-<name>`. */
  uid?: string;
  observedAt?: string;
  /** The container's status imageID (a digest the kubelet resolved), if any. */
  imageID?: string;
}

/** A `running` event of a pod with one container, `app`. */
export function runningPod(p: RunningPod) {
  return {
    cluster: p.cluster ?? 'prod',
    observedAt: p.observedAt ?? '2026-01-10T10:00:00Z',
    reason: 'running',
    pod: {
      metadata: { name: p.name, namespace: p.namespace ?? 'shop', uid: p.uid ?? `uid-${p.name}` },
      spec: { containers: [{ name: 'app', image: p.image }] },
      ...(p.imageID === undefined
        ? {}
        : { status: { containerStatuses: [{ name: 'app', imageID: p.imageID }] } }),
    },
  };
}
