import { describe, expect, it } from 'vitest';
import { digestFromImageID, extractContainers } from '../../../lambdas/core/kube/containers.ts';
import { extractFromManifest } from '../../../lambdas/core/kube/manifest.ts';
import { observationFromPodEvent } from '../../../lambdas/core/kube/observation.ts';
import type { PodEvent } from '../../../lambdas/core/kube/pod-event.ts';
import { safeEncode, workloadOf } from '../../../lambdas/core/kube/workload.ts';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const template = (image = 'nginx:1.27') => ({ spec: { containers: [{ name: 'app', image }] } });
const owned = (kind: string, name: string, labels: Record<string, string> = {}) => ({
  kind: 'Pod',
  metadata: {
    name: 'p-x',
    namespace: 'ns',
    labels,
    ownerReferences: [{ kind, name, controller: true }],
  },
  spec: { containers: [] },
});

describe('digestFromImageID', () => {
  it.each([
    [`docker-pullable://nginx@${DIGEST}`, DIGEST],
    [`docker.io/library/nginx@${DIGEST}`, DIGEST],
    [`123.dkr.ecr.eu-west-1.amazonaws.com/a/b@${DIGEST}`, DIGEST],
    [DIGEST, null], // a bare id is the local config digest, not a registry digest
    [`docker://${DIGEST}`, null],
    ['', null],
    ['nginx@sha256:short', null],
  ])('%s → %s', (imageID, expected) => {
    expect(digestFromImageID(imageID)).toBe(expected);
  });
});

describe('extractContainers', () => {
  it('reads every container kind of a pod and joins statuses by name', () => {
    // Prepare
    const pod = {
      kind: 'Pod',
      spec: {
        containers: [{ name: 'app', image: 'nginx' }],
        initContainers: [{ name: 'init', image: 'busybox' }],
        ephemeralContainers: [{ name: 'dbg', image: 'netshoot' }],
      },
      status: {
        containerStatuses: [
          {
            name: 'app',
            image: 'docker.io/library/nginx:latest',
            imageID: `docker.io/library/nginx@${DIGEST}`,
          },
        ],
        initContainerStatuses: [{ name: 'init', imageID: DIGEST }],
        ephemeralContainerStatuses: [{ name: 'dbg', imageID: '' }],
      },
    };
    // Act
    const cs = extractContainers(pod);
    // Assess
    expect(cs).toEqual([
      {
        name: 'app',
        kind: 'container',
        image: 'nginx',
        imageID: `docker.io/library/nginx@${DIGEST}`,
        digest: DIGEST,
      },
      { name: 'init', kind: 'initContainer', image: 'busybox', imageID: DIGEST, digest: null },
      { name: 'dbg', kind: 'ephemeralContainer', image: 'netshoot', imageID: null, digest: null },
    ]);
  });

  it('ignores a stale status that describes another repository', () => {
    // Prepare
    const pod = {
      kind: 'Pod',
      spec: { containers: [{ name: 'app', image: 'ghcr.io/acme/app:2' }] },
      status: {
        containerStatuses: [
          { name: 'app', image: 'docker.io/library/nginx:1', imageID: `nginx@${DIGEST}` },
        ],
      },
    };
    // Act & Assess
    expect(extractContainers(pod)[0]?.digest).toBeNull();
  });

  it.each([
    ['Deployment', { spec: { template: template('a') } }, 'a'],
    ['ReplicaSet', { spec: { template: template('b') } }, 'b'],
    ['StatefulSet', { spec: { template: template('c') } }, 'c'],
    ['DaemonSet', { spec: { template: template('d') } }, 'd'],
    ['Job', { spec: { template: template('e') } }, 'e'],
    ['ReplicationController', { spec: { template: template('f') } }, 'f'],
    ['CronJob', { spec: { jobTemplate: { spec: { template: template('g') } } } }, 'g'],
    ['PodTemplate', { template: template('h') }, 'h'],
  ])('reads the pod template of a %s', (kind, body, image) => {
    expect(extractContainers({ kind, ...body }).map((c) => c.image)).toEqual([image]);
  });
});

describe('workloadOf', () => {
  it('Deployment via the ReplicaSet hash', () => {
    expect(
      workloadOf(owned('ReplicaSet', 'web-5f8c9d7b6', { 'pod-template-hash': '5f8c9d7b6' })),
    ).toEqual({
      kind: 'Deployment',
      name: 'web',
    });
  });

  it('Deployment via the pre-1.12 decimal hash label (the ReplicaSet name holds its safe encoding)', () => {
    // Prepare
    const hash = '1787755869';
    // Act & Assess
    expect(safeEncode(hash)).toBe('5cdcc99dbf');
    expect(
      workloadOf(owned('ReplicaSet', 'nginx-deployment-5cdcc99dbf', { 'pod-template-hash': hash })),
    ).toEqual({
      kind: 'Deployment',
      name: 'nginx-deployment',
    });
  });

  it('a bare ReplicaSet (no hash label, or one that does not fit) stays a ReplicaSet', () => {
    expect(workloadOf(owned('ReplicaSet', 'web-abc'))).toEqual({
      kind: 'ReplicaSet',
      name: 'web-abc',
    });
    expect(workloadOf(owned('ReplicaSet', 'web-abc', { 'pod-template-hash': 'zzz' }))).toEqual({
      kind: 'ReplicaSet',
      name: 'web-abc',
    });
  });

  it.each([
    ['StatefulSet', 'db'],
    ['DaemonSet', 'node-exporter'],
    ['Job', 'db-migrate-7'],
    ['Job', 'backup-123'],
    ['Node', 'ip-10-0-0-1'],
  ])('a %s owner is the workload', (kind, name) => {
    expect(workloadOf(owned(kind, name))).toEqual({ kind, name });
  });

  it('a Job named <cronjob>-<schedule minute> is its CronJob, so every run is one workload', () => {
    // Prepare: two runs of one CronJob, a minute apart.
    const run1 = owned('Job', 'nightly-report-29123340', { 'job-name': 'nightly-report-29123340' });
    const run2 = owned('Job', 'nightly-report-29123341', { 'job-name': 'nightly-report-29123341' });
    // Act + Assess
    expect(workloadOf(run1)).toEqual({ kind: 'CronJob', name: 'nightly-report' });
    expect(workloadOf(run2)).toEqual(workloadOf(run1));
  });

  it('a Job whose suffix is not a schedule minute stays a Job; resolveOwner still wins', () => {
    expect(workloadOf(owned('Job', 'load-12345678'))).toEqual({
      kind: 'Job',
      name: 'load-12345678',
    });
    expect(workloadOf(owned('Job', 'x-291233401'))).toEqual({ kind: 'Job', name: 'x-291233401' });
    const pod = owned('Job', 'nightly-29123340');
    const resolved = workloadOf(pod, {
      resolveOwner: (o) => (o.kind === 'Job' ? { kind: 'CronJob', name: 'real-name' } : undefined),
    });
    expect(resolved).toEqual({ kind: 'CronJob', name: 'real-name' });
  });

  it('a bare pod is its own workload; a Job object owned by a CronJob is the CronJob', () => {
    expect(workloadOf({ kind: 'Pod', metadata: { name: 'curl-probe' } })).toEqual({
      kind: 'Pod',
      name: 'curl-probe',
    });
    expect(
      workloadOf({
        kind: 'Job',
        metadata: {
          name: 'n-1',
          ownerReferences: [{ kind: 'CronJob', name: 'n', controller: true }],
        },
      }),
    ).toEqual({ kind: 'CronJob', name: 'n' });
  });
});

describe('extractFromManifest', () => {
  it('expands Lists, reads workloads and reports kinds without a pod template', () => {
    // Prepare
    const doc = {
      kind: 'List',
      items: [
        {
          kind: 'Deployment',
          metadata: { name: 'web', namespace: 'prod' },
          spec: { template: template('nginx') },
        },
        { kind: 'ConfigMap', metadata: { name: 'cfg' } },
        {
          kind: 'CronJob',
          metadata: { name: 'nightly' },
          spec: { jobTemplate: { spec: { template: template('busybox') } } },
        },
      ],
    };
    // Act
    const entries = extractFromManifest(doc);
    // Assess
    expect(
      entries.map((e) => [
        e.kind,
        e.name,
        e.namespace,
        e.containers.map((c) => c.image),
        e.skipped,
      ]),
    ).toEqual([
      ['Deployment', 'web', 'prod', ['nginx'], undefined],
      ['ConfigMap', 'cfg', null, [], 'no pod template'],
      ['CronJob', 'nightly', null, ['busybox'], undefined],
    ]);
    expect(entries[0]?.workload).toEqual({ kind: 'Deployment', name: 'web' });
  });

  it('an empty YAML document yields nothing and a scalar is reported, not thrown', () => {
    expect(extractFromManifest(null)).toEqual([]);
    expect(extractFromManifest('oops')[0]?.skipped).toBe('not a Kubernetes object');
  });
});

describe('observationFromPodEvent', () => {
  const event = (imageID?: string): PodEvent => ({
    cluster: 'c1',
    observedAt: '2025-06-02T08:00:00Z',
    reason: 'running',
    pod: {
      metadata: {
        name: 'web-5f8c9d7b6-x4tqm',
        namespace: 'web',
        uid: 'uid-1',
        labels: { 'pod-template-hash': '5f8c9d7b6' },
        ownerReferences: [{ kind: 'ReplicaSet', name: 'web-5f8c9d7b6', controller: true }],
      },
      spec: {
        serviceAccountName: 'sa',
        nodeName: 'n1',
        containers: [{ name: 'app', image: 'nginx' }],
      },
      status: { containerStatuses: [{ name: 'app', ...(imageID ? { imageID } : {}) }] },
    },
  });

  it('maps workload, digests and pod identity; the same event twice has the same id', () => {
    // Act
    const a = observationFromPodEvent(event(`nginx@${DIGEST}`));
    const b = observationFromPodEvent(event(`nginx@${DIGEST}`));
    // Assess
    expect(a).toMatchObject({
      source: 'forwarder',
      cluster: 'c1',
      namespace: 'web',
      workload: { kind: 'Deployment', name: 'web' },
      podUid: 'uid-1',
      serviceAccount: 'sa',
      node: 'n1',
      actor: null,
      partial: false,
    });
    expect(a.containers[0]?.digest).toBe(DIGEST);
    expect(a.eventId).toBe(b.eventId);
    expect(a.eventId.startsWith('uid-1:running:')).toBe(true);
  });

  it('a newly resolved digest makes a new event id', () => {
    expect(observationFromPodEvent(event()).eventId).not.toBe(
      observationFromPodEvent(event(`nginx@${DIGEST}`)).eventId,
    );
  });
});
