/**
 * Issue 8 §1: the apiserver logs the response as transformed for the client. A client asking
 * for `as=Table` or `as=PartialObjectMetadata`, or a `Status` / `{}` body, leaves only the
 * requestObject holding the containers: it is read then, and the finding says so.
 */
import { describe, expect, it } from 'vitest';
import { NOTE_REQUEST_OBJECT } from '../../lambdas/core/audit/interpret.ts';
import { TRANSFORMED_RESPONSES } from '../helpers/arbitraries.ts';
import {
  auditEvent,
  EVIL,
  findingsOf,
  interpret,
  KINDS,
  type Kind,
  objectOf,
  observed,
  podSpec,
} from './builders.ts';

const RESPONSES: [string, unknown][] = [
  ['Table (kubectl get -o wide, ?as=Table)', TRANSFORMED_RESPONSES[0]],
  ['PartialObjectMetadata', TRANSFORMED_RESPONSES[1]],
  ['Status', TRANSFORMED_RESPONSES[2]],
  ['{}', TRANSFORMED_RESPONSES[3]],
  ['a Table without kind but with rows', { columnDefinitions: [], rows: [] }],
  ['a Pod for a Deployment write (another kind)', { kind: 'Pod', spec: { containers: [] } }],
];

describe('responseObject is used only when it is the object', () => {
  for (const kind of Object.keys(KINDS) as Kind[]) {
    it.each(RESPONSES)(
      `${kind} create whose response is %s: the requestObject's image is judged, with a note`,
      (_, response) => {
        // Prepare
        if (kind === 'Pod' && (response as { kind?: string }).kind === 'Pod') return; // same kind: is the object
        const event = auditEvent(kind, { responseObject: response });
        // Act
        const o = observed(event);
        const findings = findingsOf(event);
        // Assess
        expect(o.containers.map((c) => c.image)).toEqual([EVIL]);
        expect(o.notes).toContain(NOTE_REQUEST_OBJECT);
        expect(findings.map((f) => [f.image, f.rule, f.notes])).toEqual([
          [EVIL, 'untrusted-source', [NOTE_REQUEST_OBJECT]],
        ]);
      },
    );
  }

  it('the response that is the object wins over the request (mutating admission)', () => {
    // Prepare
    const event = auditEvent('Deployment', {
      requestObject: objectOf('Deployment', podSpec('trusted.example.com/team/web:1.0')),
      responseObject: objectOf(
        'Deployment',
        podSpec(EVIL, { initContainers: [{ name: 'inj', image: EVIL }] }),
      ),
    });
    // Act
    const o = observed(event);
    // Assess
    expect(o.containers.map((c) => [c.name, c.image])).toEqual([
      ['app', EVIL],
      ['inj', EVIL],
    ]);
    expect(o.notes).toBeUndefined();
  });

  it('never no-containers while the request has them: an empty-spec response falls back to the request', () => {
    // Prepare
    const event = auditEvent('Pod', {
      responseObject: { kind: 'Pod', metadata: { name: 'web' }, spec: { containers: [] } },
    });
    // Act & Assess
    expect(observed(event).containers.map((c) => c.image)).toEqual([EVIL]);
  });

  it('update and Request-level creates read the request too', () => {
    for (const over of [{ verb: 'update' }, { level: 'Request', responseObject: undefined }]) {
      expect(
        observed(auditEvent('CronJob', { ...over, responseObject: TRANSFORMED_RESPONSES[0] }))
          .containers,
      ).toHaveLength(1);
    }
  });

  it('a Table response with no request object is metadata-only (counted, images unavailable)', () => {
    // Act
    const out = interpret(
      auditEvent('Pod', { requestObject: undefined, responseObject: TRANSFORMED_RESPONSES[0] }),
    );
    // Assess
    expect(out).toMatchObject({ kind: 'skipped', reason: 'metadata-only' });
  });
});

describe('custom resources are judged by shape', () => {
  const crd = (over: Record<string, unknown>) =>
    auditEvent('Pod', {
      objectRef: { resource: 'rollouts', apiGroup: 'argoproj.io', namespace: 'prod', name: 'web' },
      ...over,
    });
  const rollout = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'web', namespace: 'prod' },
    spec: { strategy: { canary: {} }, template: { spec: podSpec() } },
  };

  it('an Argo Rollout: its template image is a finding under Rollout/web, with a note', () => {
    const findings = findingsOf(crd({ requestObject: rollout, responseObject: rollout }));
    expect(findings.map((f) => [f.workload.kind, f.workload.name, f.image])).toEqual([
      ['Rollout', 'web', EVIL],
    ]);
    expect(findings[0]?.notes?.[0]).toMatch(/found by shape/);
  });

  it('a CRD without any pod spec is an ordinary skip, even without responseStatus', () => {
    const plain = { kind: 'Certificate', spec: { dnsNames: ['a'] } };
    const out = interpret(
      crd({ requestObject: plain, responseObject: plain, responseStatus: undefined }),
    );
    expect(out).toMatchObject({ kind: 'skipped', reason: 'resource' });
  });

  it('a failed write of a CRD with a pod spec is a failed request, not a finding', () => {
    expect(
      interpret(
        crd({
          requestObject: rollout,
          responseObject: TRANSFORMED_RESPONSES[2],
          responseStatus: { code: 422 },
        }),
      ),
    ).toMatchObject({ reason: 'failed-request' });
  });

  it('a cluster-scoped custom resource is recorded under the (cluster) namespace', () => {
    const template = {
      kind: 'ClusterWorkflowTemplate',
      metadata: { name: 't' },
      spec: {
        templates: [
          { name: 'main', container: {}, podSpecPatch: {} },
          { name: 's', script: {} },
        ],
        podSpec: { containers: [{ name: 'x', image: EVIL }] },
      },
    };
    const o = observed(
      crd({
        objectRef: { resource: 'clusterworkflowtemplates', apiGroup: 'argoproj.io', name: 't' },
        requestObject: template,
        responseObject: template,
      }),
    );
    expect([o.namespace, o.workload]).toEqual([
      '(cluster)',
      { kind: 'ClusterWorkflowTemplate', name: 't' },
    ]);
  });

  it('a JSON patch of a CRD that copies onto a container is image-unknown; a leases update is no work at all', () => {
    const copy = crd({
      verb: 'patch',
      responseObject: undefined,
      requestObject: [{ op: 'copy', from: '/a', path: '/spec/template/spec/containers/0/image' }],
    });
    expect(interpret(copy)).toMatchObject({ reason: 'image-unknown' });
    const lease = auditEvent('Pod', {
      verb: 'update',
      objectRef: {
        resource: 'leases',
        apiGroup: 'coordination.k8s.io',
        namespace: 'kube-node-lease',
        name: 'n',
      },
    });
    expect(interpret(lease)).toMatchObject({ reason: 'resource' });
  });

  it('a requestObject that is not an object is image-unknown, not metadata-only', () => {
    expect(
      interpret(auditEvent('Deployment', { requestObject: ['x'], responseObject: undefined })),
    ).toMatchObject({ reason: 'image-unknown' });
  });
});
