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

export interface DeploymentPod {
  pod: string;
  image: string;
  /** Default `web`. */
  deployment?: string;
  reason?: string;
  resyncId?: string;
  at?: string;
  imageID?: string;
}

/** An event of a Deployment's pod (owned by its ReplicaSet) in `prod`/`shop`, one container `app`. */
export function deploymentPod(p: DeploymentPod): Record<string, unknown> {
  const deployment = p.deployment ?? 'web';
  return {
    cluster: 'prod',
    observedAt: p.at ?? '2026-01-10T10:00:00Z',
    reason: p.reason ?? 'running',
    ...(p.resyncId ? { resyncId: p.resyncId } : {}),
    pod: {
      metadata: {
        name: p.pod,
        namespace: 'shop',
        uid: `uid-${p.pod}`,
        labels: { 'pod-template-hash': '7d9f8b6c5' },
        ownerReferences: [
          { kind: 'ReplicaSet', name: `${deployment}-7d9f8b6c5`, controller: true },
        ],
      },
      spec: { containers: [{ name: 'app', image: p.image }] },
      status: {
        containerStatuses: [{ name: 'app', ...(p.imageID ? { imageID: p.imageID } : {}) }],
      },
    },
  };
}
