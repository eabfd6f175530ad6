import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { interpretAuditEvent } from '../../lambdas/core/audit/interpret.ts';
import { findingId, fingerprint } from '../../lambdas/core/fingerprint.ts';

const base = {
  cluster: 'c',
  namespace: 'web',
  workload: { kind: 'Deployment', name: 'storefront' },
  container: 'app',
  image: 'docker.io/library/nginx:1.27',
  rule: 'untrusted-source',
};

function podCreate(podName: string) {
  return {
    auditID: `id-${podName}`,
    stage: 'ResponseComplete',
    verb: 'create',
    user: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
    objectRef: { resource: 'pods', namespace: 'web' },
    responseStatus: { code: 201 },
    stageTimestamp: '2025-01-01T00:00:00Z',
    responseObject: {
      kind: 'Pod',
      metadata: {
        name: podName,
        namespace: 'web',
        labels: { 'pod-template-hash': '5f8c9d7b6' },
        ownerReferences: [{ kind: 'ReplicaSet', name: 'storefront-5f8c9d7b6', controller: true }],
      },
      spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
    },
  };
}

describe('fingerprint', () => {
  it('is sha256 of the length-prefixed v1 fields (stored findings depend on it)', () => {
    // Prepare: the documented encoding, computed here on its own.
    const expected = (b: typeof base) =>
      createHash('sha256')
        .update(
          [
            'regwatch-finding-v1',
            b.cluster,
            b.namespace,
            b.workload.kind,
            b.workload.name,
            b.container,
            b.image,
            b.rule,
          ]
            .map((f) => `${Buffer.byteLength(f, 'utf8')}:${f};`)
            .join(''),
        )
        .digest('hex');
    const unicode = { ...base, container: 'ünïcode', image: 'reg.example/a/b:1' };

    // Act
    const got = [fingerprint(base), fingerprint(unicode)];

    // Assess
    expect(got).toEqual([expected(base), expected(unicode)]);
  });

  it('is a deterministic sha256 hex and findingId is its first 16 characters', () => {
    // Act
    const fp = fingerprint(base);
    // Assess
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    expect(fingerprint({ ...base })).toBe(fp);
    expect(findingId(fp)).toBe(fp.slice(0, 16));
  });

  it('is the same for every pod of one Deployment', () => {
    // Prepare
    const pods = [
      'storefront-5f8c9d7b6-aaaaa',
      'storefront-5f8c9d7b6-bbbbb',
      'storefront-5f8c9d7b6-ccccc',
    ];
    // Act
    const fps = pods.map((p) => {
      const out = interpretAuditEvent(podCreate(p), { cluster: 'c' });
      if (out.kind !== 'observation') throw new Error('expected observation');
      const o = out.observation;
      return fingerprint({
        ...base,
        namespace: o.namespace,
        workload: o.workload,
        container: o.containers[0]?.name ?? '',
      });
    });
    // Assess
    expect(new Set(fps).size).toBe(1);
  });

  it.each([
    ['container', { container: 'sidecar' }],
    ['rule', { rule: 'mutable-tag' }],
    ['image', { image: 'docker.io/library/nginx:1.28' }],
    ['workload kind', { workload: { kind: 'StatefulSet', name: 'storefront' } }],
    ['namespace', { namespace: 'web2' }],
    ['cluster', { cluster: 'c2' }],
  ])('differs when the %s differs', (_, change) => {
    expect(fingerprint({ ...base, ...change })).not.toBe(fingerprint(base));
  });

  it('cannot be confused by moving text between fields', () => {
    // Prepare
    const a = { ...base, namespace: 'a/b', workload: { kind: 'Deployment', name: 'c' } };
    const b = { ...base, namespace: 'a', workload: { kind: 'Deployment', name: 'b/c' } };
    const c = { ...base, container: 'x:', image: 'y' };
    const d = { ...base, container: 'x', image: ':y' };
    // Act & Assess
    expect(fingerprint(a)).not.toBe(fingerprint(b));
    expect(fingerprint(c)).not.toBe(fingerprint(d));
  });
});
