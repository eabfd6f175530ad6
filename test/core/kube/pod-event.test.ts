import { describe, expect, it } from 'vitest';
import { isPodSighting, podEventSchema, trimPod } from '../../../lambdas/core/kube/pod-event.ts';

const pod = {
  metadata: { name: 'web-1', namespace: 'shop', uid: 'uid-1' },
  spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
};
const base = { cluster: 'orion-prod-euc1', observedAt: '2026-11-25T08:00:00Z' };

describe('podEventSchema (the /v1/pod-events contract)', () => {
  it('accepts the sightings, deleted with its pod, and resync-complete with its resyncId', () => {
    // Prepare
    const events = [
      { ...base, reason: 'added', pod },
      { ...base, reason: 'running', pod },
      { ...base, reason: 'resync', pod },
      { ...base, reason: 'resync', resyncId: 'r-2026-11-25T08:00:00Z-1', pod },
      { ...base, reason: 'deleted', pod },
      { ...base, reason: 'resync-complete', resyncId: 'r-2026-11-25T08:00:00Z-1' },
    ];

    // Act
    const parsed = events.map((e) => podEventSchema.safeParse(e));

    // Assess
    expect(parsed.map((p) => p.success)).toEqual([true, true, true, true, true, true]);
    expect(parsed.map((p) => p.data && isPodSighting(p.data))).toEqual([
      true,
      true,
      true,
      true,
      false,
      false,
    ]);
    expect(parsed[3]?.data).toMatchObject({ resyncId: 'r-2026-11-25T08:00:00Z-1' });
  });

  it('refuses an unknown reason with an issue on the reason field that lists the known ones', () => {
    // Act
    const results = [
      podEventSchema.safeParse({ ...base, reason: 'evicted', pod }),
      podEventSchema.safeParse({ ...base, pod }),
      podEventSchema.safeParse({ ...base, reason: 7, pod }),
      podEventSchema.safeParse({ ...base, reason: '__proto__', pod }),
    ];

    // Assess
    for (const r of results) {
      expect(r.success).toBe(false);
      expect(r.error?.issues[0]?.path).toEqual(['reason']);
      expect(r.error?.issues[0]?.message).toMatch(/"resync-complete"/);
      // The sender's value is not echoed back.
      expect(r.error?.issues[0]?.message).not.toMatch(/evicted/);
    }
  });

  it('needs the pod on deleted and the resyncId on resync-complete, bounded and plain', () => {
    // Act
    const results = [
      podEventSchema.safeParse({ ...base, reason: 'deleted' }),
      podEventSchema.safeParse({ ...base, reason: 'resync-complete' }),
      podEventSchema.safeParse({ ...base, reason: 'resync-complete', resyncId: '' }),
      podEventSchema.safeParse({ ...base, reason: 'resync-complete', resyncId: 'x'.repeat(129) }),
      podEventSchema.safeParse({ ...base, reason: 'resync-complete', resyncId: 'a b\n' }),
      podEventSchema.safeParse({ ...base, reason: 'resync', resyncId: 42, pod }),
    ];

    // Assess
    expect(results.map((r) => r.success)).toEqual([false, false, false, false, false, false]);
    expect(results[0]?.error?.issues[0]?.path).toEqual(['pod']);
    expect(results[1]?.error?.issues[0]?.path).toEqual(['resyncId']);
  });

  it('trims odd shapes into a valid event that still shows every container, never an invalid one', () => {
    // Prepare: what no sane API server sends.
    const hostile = {
      metadata: {
        name: 'odd',
        namespace: 'shop',
        uid: 'u-odd',
        ownerReferences: [
          { kind: 'ReplicaSet' },
          { kind: 'ReplicaSet', name: 'web-1', controller: true },
        ],
      },
      spec: {
        containers: [{ image: 'ghcr.io/evil/a:1' }, { name: 'num', image: 42 }, null],
        initContainers: 'not a list',
        ephemeralContainers: { name: 'x', image: 'ghcr.io/evil/b:1' },
      },
    };

    // Act
    const pod = trimPod(hostile);
    const parsed = podEventSchema.safeParse({ ...base, reason: 'added', pod });

    // Assess
    expect(parsed.success).toBe(true);
    // Every odd container stays, with an image that can never parse (`invalid-reference`).
    expect(pod.spec.containers).toEqual([
      { name: 'containers[0]', image: 'ghcr.io/evil/a:1' },
      { name: 'num', image: '<invalid image: number 42>' },
      { name: 'containers[2]', image: '<invalid container: null>' },
    ]);
    expect(pod.spec.initContainers).toHaveLength(1);
    expect(pod.spec.initContainers?.[0]?.image).toMatch(/^<invalid /);
    expect(pod.spec.ephemeralContainers).toHaveLength(1);
    expect(pod.spec.ephemeralContainers?.[0]?.image).toMatch(/^<invalid /);
    expect(pod.metadata.ownerReferences).toEqual([
      { kind: 'ReplicaSet', name: 'web-1', controller: true },
    ]);
  });
});
