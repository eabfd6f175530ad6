import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { actorFromAuditEvent } from '../../../lambdas/core/audit/actor.ts';
import { interpretAuditEvent, isReportedFailure } from '../../../lambdas/core/audit/interpret.ts';
import { mayBeRelevant } from '../../../lambdas/core/audit/prefilter.ts';
import { SHARED_FIXTURES } from '../../helpers/fixtures.ts';

const LOCAL = path.resolve(import.meta.dirname, '../../fixtures/audit');
const SHARED = path.join(SHARED_FIXTURES, 'audit-events');
const opts = { cluster: 'orion-prod-euc1' };

function constructed(): unknown[] {
  return readFileSync(path.join(LOCAL, 'eks-audit-events.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

function observation(event: unknown) {
  const out = interpretAuditEvent(event, opts);
  if (out.kind !== 'observation')
    throw new Error(`expected an observation, got ${out.reason}: ${out.detail}`);
  return out.observation;
}

describe('interpretAuditEvent on the constructed EKS events', () => {
  it('pod create by the replicaset-controller: Deployment workload, response object, controller actor', () => {
    // Prepare
    const [event] = constructed();
    // Act
    const o = observation(event);
    // Assess
    expect(o.workload).toEqual({ kind: 'Deployment', name: 'storefront-web' });
    expect(o.namespace).toBe('web');
    expect(o.cluster).toBe('orion-prod-euc1');
    expect(o.podName).toBe('storefront-web-5f8c9d7b6-x4tqm');
    expect(o.containers.map((c) => [c.name, c.kind, c.image])).toEqual([
      ['web', 'container', '444455556666.dkr.ecr.eu-central-1.amazonaws.com/storefront/web:4.18.2'],
      [
        'cache',
        'container',
        'memcached:1.6.26@sha256:5a1c0e9d3f7b2a6c8e4d1f0b9a7c5e3d2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e',
      ],
    ]);
    expect(o.actor?.username).toBe('system:serviceaccount:kube-system:replicaset-controller');
    expect(o.actor?.controller).toBe(true);
    expect(o.partial).toBe(false);
    // The client-choosable auditID plus a digest of the stage timestamp, request and images.
    expect(o.eventId).toMatch(/^6c1f9a52-0b8e-4d37-a2c4-91e5f0d3b7a8:[0-9a-f]{16}$/);
    expect(o.observedAt).toBe('2025-06-02T08:14:31.431Z');
  });

  it('kubectl debug: ephemeral container, Deployment from the pod, EKS actor without the access key', () => {
    // Prepare
    const [, event] = constructed();
    // Act
    const o = observation(event);
    // Assess
    expect(o.workload).toEqual({ kind: 'Deployment', name: 'invoice-api' });
    expect(o.namespace).toBe('billing');
    const debug = o.containers.find((c) => c.kind === 'ephemeralContainer');
    expect(debug).toMatchObject({ name: 'debugger-k7x2m', image: 'nicolaka/netshoot:v0.13' });
    const api = o.containers.find((c) => c.name === 'api');
    expect(api?.digest).toBe(
      'sha256:0f3e1d2c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0',
    );
    expect(o.actor).toMatchObject({
      username: 'arn:aws:sts::444455556666:assumed-role/oncall-engineers/priya.raman',
      sourceIPs: ['198.51.100.203'],
      extra: {
        canonicalArn: ['arn:aws:iam::444455556666:role/oncall-engineers'],
        sessionName: ['priya.raman'],
      },
    });
    expect(o.actor?.controller).toBeUndefined();
    expect(JSON.stringify(o.actor)).not.toContain('ASIA');
  });

  it('kubectl set image at Request level: only the named container, marked partial', () => {
    // Prepare
    const [, , event] = constructed();
    // Act
    const o = observation(event);
    // Assess
    expect(o.partial).toBe(true);
    expect(o.workload).toEqual({ kind: 'Deployment', name: 'invoice-api' });
    expect(o.containers).toEqual([
      {
        name: 'api',
        kind: 'container',
        image: '444455556666.dkr.ecr.eu-central-1.amazonaws.com/billing/invoice-api:2.9.1',
        imageID: null,
        digest: null,
      },
    ]);
    expect(o.actor?.username).toBe(
      'arn:aws:sts::444455556666:assumed-role/release-managers/marco.bianchi',
    );
    expect(o.serviceAccount).toBeNull();
  });

  it('Metadata-level pod create: skipped as metadata-only, with who and where kept for counting', () => {
    // Prepare
    const [, , , event] = constructed();
    // Act
    const out = interpretAuditEvent(event, opts);
    // Assess
    expect(out.kind).toBe('skipped');
    if (out.kind !== 'skipped') return;
    expect(out.reason).toBe('metadata-only');
    expect(out.detail).toContain('images unavailable');
    expect(out.request).toMatchObject({
      namespace: 'tools',
      name: 'pg-shell',
      verb: 'create',
      resource: 'pods',
    });
    expect(out.request?.actor.username).toContain('priya.raman');
  });

  it('two-stage EventList: RequestReceived skipped for its stage, ResponseComplete extracted once', () => {
    // Prepare
    const list = JSON.parse(
      readFileSync(path.join(LOCAL, 'webhook-eventlist-pod-create-two-stages.json'), 'utf8'),
    );
    // Act
    const outcomes = list.items.map((e: unknown) => interpretAuditEvent(e, opts));
    // Assess
    const observations = outcomes.filter((o: { kind: string }) => o.kind === 'observation');
    expect(outcomes.map((o: { kind: string; reason?: string }) => o.reason ?? o.kind)).toEqual([
      'stage',
      'observation',
    ]);
    expect(observations).toHaveLength(1);
    const o = observations[0].observation;
    expect(o.workload).toEqual({ kind: 'Pod', name: 'curl-probe' });
    expect(o.namespace).toBe('qa');
    expect(o.containers.map((c: { name: string; image: string }) => [c.name, c.image])).toEqual([
      ['curl-probe', 'curlimages/curl:8.8.0'],
    ]);
    expect(o.actor).toMatchObject({
      username: 'oidc:jane.okoye@corp.example',
      groups: ['oidc:platform-oncall', 'system:authenticated'],
      sourceIPs: ['172.20.14.9'],
    });
  });
});

describe('interpretAuditEvent on real captures', () => {
  it('falco v1beta1 traces: pod creates are observed as their Deployment, other events skipped', () => {
    // Prepare
    const dir = path.join(SHARED, 'falco-traces');
    const results: Record<string, string[]> = {};
    // Act
    for (const f of readdirSync(dir)) {
      for (const line of readFileSync(path.join(dir, f), 'utf8')
        .split('\n')
        .filter((l) => l.trim())) {
        let event: unknown;
        try {
          event = JSON.parse(line);
        } catch {
          continue;
        }
        const out = interpretAuditEvent(event, opts);
        const list = results[f] ?? [];
        list.push(out.kind === 'observation' ? 'observation' : out.reason);
        results[f] = list;
      }
    }
    // Assess
    expect(results['fal_01_003.json']).toEqual(['not-audit-event']);
    expect(results['create_nginx_pod_privileged.json']).toEqual(['observation']);
    expect(results['exec_pod.json']).toEqual(['stage']);
    expect(results['create_nginx_pod_unsensitive_mount.json']).toEqual(['verb']);
    expect(results['create_secret.json']).toEqual(['resource']);
    expect(results['create_deployment.json']).toEqual(['observation']);
    const observed = Object.entries(results).filter(([, r]) => r.includes('observation'));
    expect(observed).toHaveLength(11);
  });

  it('falco: old pod-template-hash label (decimal) still proves the Deployment; v1beta1 timestamp used', () => {
    // Prepare
    const event = JSON.parse(
      readFileSync(path.join(SHARED, 'falco-traces/create_nginx_pod_privileged.json'), 'utf8'),
    );
    // Act
    const o = observation(event);
    // Assess
    expect(o.workload).toEqual({ kind: 'Deployment', name: 'nginx-deployment' });
    expect(o.containers.map((c) => c.image)).toEqual(['nginx']);
    expect(o.observedAt).toBe('2018-10-25T14:09:12.581Z');
  });

  it('falco: a two-container pod yields both containers', () => {
    // Prepare
    const event = JSON.parse(
      readFileSync(
        path.join(SHARED, 'falco-traces/create_nginx_pod_privileged_2nd_container.json'),
        'utf8',
      ),
    );
    // Act
    const o = observation(event);
    // Assess
    expect(o.containers.map((c) => c.image)).toEqual(['nginx', 'mysql:latest']);
  });

  it('falco: a Deployment create at Request level uses the full request object, not partial', () => {
    // Prepare
    const event = JSON.parse(
      readFileSync(path.join(SHARED, 'falco-traces/create_deployment.json'), 'utf8'),
    );
    // Act
    const o = observation(event);
    // Assess
    expect(o.workload).toEqual({ kind: 'Deployment', name: 'nginx-deployment' });
    expect(o.partial).toBe(false);
    expect(o.containers.map((c) => [c.name, c.image])).toEqual([['nginx1', 'nginx']]);
  });

  it('audit2rbac Metadata-level log: nothing observed, impersonation kept on the actor', () => {
    // Prepare
    const lines = readFileSync(path.join(SHARED, 'audit2rbac-demo.log.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean);
    // Act
    const outcomes = lines.map((l) => interpretAuditEvent(JSON.parse(l), opts));
    // Assess
    expect(outcomes.filter((o) => o.kind === 'observation')).toHaveLength(0);
    expect(
      outcomes.every((o) => o.kind === 'skipped' && ['verb', 'resource'].includes(o.reason)),
    ).toBe(true);
    const actor = actorFromAuditEvent(JSON.parse(lines[0] as string));
    expect(actor.username).toBe('system:admin');
    expect(actor.impersonatedUser).toEqual({ username: 'bob', groups: ['system:authenticated'] });
  });

  it('the pre-filter agrees with the interpreter on every line of every real capture', () => {
    // Prepare
    const files = [
      ...readdirSync(path.join(SHARED, 'falco-traces')).map((f) =>
        path.join(SHARED, 'falco-traces', f),
      ),
      path.join(SHARED, 'audit2rbac-demo.log.jsonl'),
      path.join(SHARED, 'webhook-eventlist-pod-create-v1.jsonl'),
      path.join(LOCAL, 'eks-audit-events.jsonl'),
    ];
    const disagreements: string[] = [];
    // Act
    for (const f of files) {
      for (const line of readFileSync(f, 'utf8')
        .split('\n')
        .filter((l) => l.trim())) {
        let event: { items?: unknown[] };
        try {
          event = JSON.parse(line);
        } catch {
          continue;
        }
        const events = Array.isArray(event.items) ? event.items : [event];
        const kept = events.some((e) => {
          const out = interpretAuditEvent(e, opts);
          // What replay reports on: observations and the counted skips of relevant requests.
          return (
            out.kind === 'observation' ||
            ['metadata-only', 'failed-request', 'no-containers'].includes(out.reason) ||
            isReportedFailure(out.reason)
          );
        });
        if (kept && !mayBeRelevant(line))
          disagreements.push(`${path.basename(f)}: ${line.slice(0, 80)}`);
      }
    }
    // Assess
    expect(disagreements).toEqual([]);
  });
});

describe('interpretAuditEvent rules', () => {
  const base = () => ({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: 'a1',
    stage: 'ResponseComplete',
    verb: 'create',
    user: { username: 'alice', groups: ['dev'] },
    sourceIPs: ['10.0.0.1'],
    objectRef: { resource: 'pods', namespace: 'ns1', name: 'p1', apiVersion: 'v1' },
    responseStatus: { code: 201 },
    requestObject: {
      kind: 'Pod',
      metadata: { name: 'p1' },
      spec: { containers: [{ name: 'c', image: 'req:1' }] },
    },
    responseObject: {
      kind: 'Pod',
      metadata: { name: 'p1', namespace: 'ns1', uid: 'u1' },
      spec: {
        containers: [{ name: 'c', image: 'resp:1' }],
        nodeName: 'n1',
        serviceAccountName: 'sa',
      },
    },
    stageTimestamp: '2025-01-01T00:00:00.123456Z',
  });
  const reason = (e: unknown) => {
    const out = interpretAuditEvent(e, opts);
    return out.kind === 'observation' ? 'observation' : out.reason;
  };

  it('prefers the response object (after mutating admission) over the request object', () => {
    // Act
    const o = observation(base());
    // Assess
    expect(o.containers.map((c) => c.image)).toEqual(['resp:1']);
    expect(o).toMatchObject({
      podUid: 'u1',
      node: 'n1',
      serviceAccount: 'sa',
      workload: { kind: 'Pod', name: 'p1' },
    });
  });

  it.each([
    ['stage', { stage: 'RequestReceived' }],
    ['verb', { verb: 'delete' }],
    ['resource', { objectRef: { resource: 'secrets', namespace: 'ns1' } }],
    [
      'resource',
      {
        objectRef: { resource: 'jobs', namespace: 'ns1', apiGroup: 'batch.volcano.sh' },
        requestObject: { kind: 'Job', spec: { minAvailable: 1 } },
        responseObject: { kind: 'Job', spec: { minAvailable: 1 } },
      },
    ],
    ['subresource', { objectRef: { resource: 'pods', namespace: 'ns1', subresource: 'exec' } }],
    ['subresource', { objectRef: { resource: 'pods', namespace: 'ns1', subresource: 'status' } }],
    [
      'subresource',
      {
        objectRef: {
          resource: 'deployments',
          namespace: 'ns1',
          subresource: 'scale',
          apiGroup: 'apps',
        },
      },
    ],
    ['failed-request', { responseStatus: { code: 403 } }],
    ['no-response-status', { responseStatus: undefined }],
    ['no-response-status', { responseStatus: {} }],
    ['metadata-only', { level: 'Metadata', requestObject: undefined, responseObject: undefined }],
    ['not-audit-event', { auditID: undefined }],
    ['not-audit-event', { stageTimestamp: 'yesterday' }],
    [
      'no-containers',
      {
        requestObject: { kind: 'Pod', metadata: { name: 'p1' }, spec: { containers: [] } },
        responseObject: { kind: 'Pod', metadata: { name: 'p1' }, spec: { containers: [] } },
      },
    ],
  ])('skips with reason %s', (expected, change) => {
    // Act & Assess
    expect(reason({ ...base(), ...change })).toBe(expected);
  });

  it('never throws on garbage', () => {
    for (const junk of [null, 1, 'x', [], { kind: 0 }, { verb: 'create' }]) {
      expect(reason(junk)).toBe('not-audit-event');
    }
  });

  it('falls back to the request object when the response is a Status', () => {
    // Prepare
    const e = { ...base(), responseObject: { kind: 'Status', status: 'Success' } };
    // Act & Assess
    expect(observation(e).containers.map((c) => c.image)).toEqual(['req:1']);
  });

  it('a strategic-merge patch: deleted and image-less entries are not observed', () => {
    // Prepare
    const e = {
      ...base(),
      verb: 'patch',
      level: 'Request',
      objectRef: { resource: 'statefulsets', namespace: 'ns1', name: 'db', apiGroup: 'apps' },
      responseStatus: { code: 200 },
      responseObject: undefined,
      requestObject: {
        spec: {
          template: {
            spec: {
              $setElementOrder_containers: [{ name: 'db' }],
              containers: [
                { name: 'db', image: 'postgres:16' },
                { name: 'old', $patch: 'delete' },
                { name: 'x', env: [] },
              ],
            },
          },
        },
      },
    };
    // Act
    const o = observation(e);
    // Assess
    expect(o.partial).toBe(true);
    expect(o.workload).toEqual({ kind: 'StatefulSet', name: 'db' });
    expect(o.containers.map((c) => [c.name, c.image])).toEqual([['db', 'postgres:16']]);
  });

  it('a patch that changes no image yields no observation', () => {
    // Prepare
    const e = {
      ...base(),
      verb: 'patch',
      objectRef: { resource: 'deployments', namespace: 'ns1', name: 'web', apiGroup: 'apps' },
      responseStatus: { code: 200 },
      responseObject: undefined,
      requestObject: { spec: { replicas: 5 } },
    };
    // Act & Assess
    expect(reason(e)).toBe('no-containers');
  });

  it('a JSON patch names containers by index when it does not name them', () => {
    // Prepare
    const e = {
      ...base(),
      verb: 'patch',
      objectRef: { resource: 'cronjobs', namespace: 'ns1', name: 'nightly', apiGroup: 'batch' },
      responseStatus: { code: 200 },
      responseObject: undefined,
      requestObject: [
        {
          op: 'replace',
          path: '/spec/jobTemplate/spec/template/spec/containers/0/image',
          value: 'busybox:1.36',
        },
        {
          op: 'add',
          path: '/spec/jobTemplate/spec/template/spec/initContainers/-',
          value: { name: 'i', image: 'alpine' },
        },
        { op: 'remove', path: '/spec/jobTemplate/spec/template/spec/containers/1' },
      ],
    };
    // Act
    const o = observation(e);
    // Assess
    expect(o.workload).toEqual({ kind: 'CronJob', name: 'nightly' });
    expect(o.containers.map((c) => [c.name, c.kind, c.image])).toEqual([
      ['containers[0]', 'container', 'busybox:1.36'],
      ['i', 'initContainer', 'alpine'],
    ]);
  });

  it('a ReplicaSet created by the deployment controller is attributed to its Deployment', () => {
    // Prepare
    const e = {
      ...base(),
      user: { username: 'system:serviceaccount:kube-system:deployment-controller' },
      objectRef: { resource: 'replicasets', namespace: 'ns1', apiGroup: 'apps' },
      responseObject: {
        kind: 'ReplicaSet',
        metadata: {
          name: 'web-7d4b9c',
          namespace: 'ns1',
          ownerReferences: [{ kind: 'Deployment', name: 'web', controller: true }],
        },
        spec: { template: { spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
      },
    };
    // Act
    const o = observation(e);
    // Assess
    expect(o.workload).toEqual({ kind: 'Deployment', name: 'web' });
    expect(o.podName).toBeNull();
    expect(o.actor?.controller).toBe(true);
  });

  it('impersonation: the impersonated controller is flagged, the real user kept', () => {
    // Prepare
    const e = {
      ...base(),
      impersonatedUser: {
        username: 'system:serviceaccount:kube-system:job-controller',
        groups: ['g'],
      },
    };
    // Act
    const o = observation(e);
    // Assess
    expect(o.actor?.username).toBe('alice');
    expect(o.actor?.impersonatedUser?.username).toBe(
      'system:serviceaccount:kube-system:job-controller',
    );
    expect(o.actor?.controller).toBe(true);
  });

  it('the legacy EphemeralContainers body is partial and lists only the debug container', () => {
    // Prepare
    const e = {
      ...base(),
      verb: 'update',
      objectRef: {
        resource: 'pods',
        namespace: 'ns1',
        name: 'p1',
        subresource: 'ephemeralcontainers',
      },
      responseStatus: { code: 200 },
      responseObject: {
        kind: 'EphemeralContainers',
        metadata: { name: 'p1', namespace: 'ns1' },
        ephemeralContainers: [{ name: 'dbg', image: 'busybox' }],
      },
    };
    // Act
    const o = observation(e);
    // Assess
    expect(o.partial).toBe(true);
    expect(o.containers.map((c) => [c.kind, c.image])).toEqual([['ephemeralContainer', 'busybox']]);
  });
});
