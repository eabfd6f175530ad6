/** Small builders for the bodies local mode receives, shaped like the real senders' output. */
import { createHash } from 'node:crypto';

export const ECR = '444455556666.dkr.ecr.eu-central-1.amazonaws.com';

export function sha(seed: string): string {
  return `sha256:${createHash('sha256').update(seed).digest('hex')}`;
}

export interface PodSpec {
  cluster?: string;
  namespace?: string;
  name: string;
  uid?: string;
  /** container name → image */
  containers: Record<string, string>;
  reason?: 'added' | 'running' | 'resync';
}

/** A forwarder pod event of a bare pod (the workload is the pod itself). */
export function podEvent(spec: PodSpec): Record<string, unknown> {
  const entries = Object.entries(spec.containers);
  return {
    cluster: spec.cluster ?? 'orion-prod-euc1',
    observedAt: '2026-01-10T10:00:00Z',
    reason: spec.reason ?? 'running',
    pod: {
      metadata: {
        name: spec.name,
        namespace: spec.namespace ?? 'web',
        uid: spec.uid ?? `uid-${spec.name}`,
      },
      spec: { containers: entries.map(([name, image]) => ({ name, image })) },
      status: {
        phase: 'Running',
        containerStatuses: entries.map(([name, image]) => ({
          name,
          image,
          imageID: `${image.split(/[:@]/)[0]}@${sha(image)}`,
        })),
      },
    },
  };
}

/** An `audit.k8s.io/v1` pod create at ResponseComplete with the created pod. */
export function auditPodCreate(opts: {
  auditID: string;
  namespace: string;
  name: string;
  image: string;
  user?: string;
}): Record<string, unknown> {
  const pod = {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: { name: opts.name, namespace: opts.namespace, uid: `uid-${opts.auditID}` },
    spec: { containers: [{ name: opts.name, image: opts.image }] },
  };
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: opts.auditID,
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/${opts.namespace}/pods`,
    verb: 'create',
    user: { username: opts.user ?? 'oidc:jane@corp.example', groups: ['system:authenticated'] },
    sourceIPs: ['172.20.14.9'],
    userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/39683505',
    objectRef: { resource: 'pods', namespace: opts.namespace, name: opts.name, apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 201 },
    requestObject: pod,
    responseObject: pod,
    requestReceivedTimestamp: '2026-01-10T10:00:00.000000Z',
    stageTimestamp: '2026-01-10T10:00:00.020000Z',
  };
}

export function eventList(items: unknown[]): Record<string, unknown> {
  return { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items };
}

/** An `ECR Image Action` PUSH / SUCCESS as EventBridge delivers it. */
export function ecrPush(opts: {
  id: string;
  repository: string;
  tag: string | null;
  time: string;
  account?: string;
}): Record<string, unknown> {
  return {
    version: '0',
    id: opts.id,
    'detail-type': 'ECR Image Action',
    source: 'aws.ecr',
    account: opts.account ?? '444455556666',
    time: opts.time,
    region: 'eu-central-1',
    resources: [],
    detail: {
      result: 'SUCCESS',
      'repository-name': opts.repository,
      'image-digest': sha(`${opts.repository}:${opts.tag}`),
      'action-type': 'PUSH',
      ...(opts.tag === null ? {} : { 'image-tag': opts.tag }),
    },
  };
}
