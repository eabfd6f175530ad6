/**
 * The forwarder never drops a pod's images to meet the sink's size limit: trimmed, split by
 * container, image strings cut (still judged, as invalid references), and only a container
 * that cannot fit even then is left out, reported.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fitEvent, IMAGE_CUT } from '../../forwarder/src/fit.ts';
import { observationFromPodEvent } from '../../lambdas/core/kube/observation.ts';
import {
  type PodEvent,
  podEventSchema,
  type TrimmedPod,
} from '../../lambdas/core/kube/pod-event.ts';
import { CONTAINER_LISTS, hostilePod, UNTRUSTED_IMAGE } from '../helpers/pod-arbitraries.ts';

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v));
const STATUS_KEY = {
  containers: 'containerStatuses',
  initContainers: 'initContainerStatuses',
  ephemeralContainers: 'ephemeralContainerStatuses',
} as const;

const cutOf = (s: string) => (s.length > IMAGE_CUT ? `${s.slice(0, IMAGE_CUT)}…` : s);

function containersOf(pod: TrimmedPod): string[] {
  return CONTAINER_LISTS.flatMap((list) =>
    (pod.spec[list] ?? []).map((c) => `${list}/${c.name}=${c.image}`),
  );
}

function statusesOf(pod: TrimmedPod): string[] {
  return CONTAINER_LISTS.flatMap((list) =>
    (pod.status?.[STATUS_KEY[list]] ?? []).map((s) => `${list}/${s.name}=${s.imageID}`),
  );
}

describe('fitting a pod event to the sink limit', () => {
  it('keeps every image: each container once, whole or cut with "…", only reported ones left out', () => {
    fc.assert(
      fc.property(
        hostilePod,
        fc.constantFrom<PodEvent['reason']>('added', 'running', 'resync'),
        fc.integer({ min: 8 * 1024, max: 256 * 1024 }),
        ({ pod, at }, reason, limit) => {
          // Prepare
          const event: PodEvent = {
            cluster: 'orion-prod-euc1',
            observedAt: '2026-11-25T08:00:00Z',
            reason,
            pod,
          };

          // Act
          const { events, dropped } = fitEvent(event, limit);

          // Assess
          for (const e of events) {
            expect(bytes(e)).toBeLessThanOrEqual(limit);
            expect(podEventSchema.safeParse(e).success).toBe(true);
            expect(e.reason).toBe(reason);
            expect(e.pod.metadata).toMatchObject({
              name: 'victim',
              namespace: 'shop',
              uid: 'uid-victim',
            });
          }
          const sent = events.flatMap((e) => containersOf(e.pod));
          const droppedKeys = new Set(dropped.map((d) => `${d.kind}s/${d.name}`));
          for (const d of dropped) expect(d.bytes).toBeGreaterThan(limit);
          const expected = CONTAINER_LISTS.flatMap((list) =>
            (pod.spec[list] ?? [])
              .filter((c) => !droppedKeys.has(`${list}/${c.name}`))
              .map((c) => `${list}/${c.name}=${c.image}`),
          );
          const ok = expected.map((k) => {
            const [head, img] = [k.slice(0, k.indexOf('=')), k.slice(k.indexOf('=') + 1)];
            return sent.includes(k) ? k : `${head}=${cutOf(img)}`;
          });
          expect(sent.sort()).toEqual(ok.sort());
          // The untrusted image is short: it always travels, whole.
          expect(sent).toContain(
            `${at.list}/${(pod.spec[at.list] ?? [])[at.index]?.name}=${UNTRUSTED_IMAGE}`,
          );
          // Every status travels once, in the same event as its container (if it has one).
          const statuses = events.flatMap((e) => statusesOf(e.pod));
          const wanted = statusesOf(pod).filter(
            (k) => !droppedKeys.has(k.slice(0, k.indexOf('='))),
          );
          expect(statuses.length).toBe(wanted.length);
          for (const e of events) {
            for (const list of CONTAINER_LISTS) {
              const names = new Set((e.pod.spec[list] ?? []).map((c) => c.name));
              const all = new Set((pod.spec[list] ?? []).map((c) => c.name));
              for (const s of e.pod.status?.[STATUS_KEY[list]] ?? []) {
                if (all.has(s.name)) expect(names.has(s.name)).toBe(true);
              }
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('leaves an event that fits untouched and trims labels before splitting', () => {
    // Prepare
    const pod: TrimmedPod = {
      metadata: {
        name: 'web',
        namespace: 'shop',
        uid: 'u1',
        labels: { app: 'web', huge: 'x'.repeat(50_000) },
        ownerReferences: [{ kind: 'ReplicaSet', name: 'web-7d9f8b6c5', controller: true }],
      },
      spec: { containers: [{ name: 'app', image: UNTRUSTED_IMAGE }] },
    };
    const event: PodEvent = {
      cluster: 'c',
      observedAt: '2026-11-25T08:00:00Z',
      reason: 'added',
      pod,
    };

    // Act
    const roomy = fitEvent(event, 1024 * 1024);
    const tight = fitEvent(event, 16 * 1024);

    // Assess
    expect(roomy).toEqual({ events: [event], reduced: false, dropped: [] });
    expect(tight.events).toHaveLength(1);
    expect(tight.reduced).toBe(true);
    expect(tight.events[0]?.pod.metadata.labels).toEqual({ app: 'web' });
    expect(tight.events[0]?.pod.metadata.ownerReferences).toEqual(pod.metadata.ownerReferences);
    expect(tight.events[0]?.pod.spec.containers).toEqual(pod.spec.containers);
  });

  it('reports a container that cannot fit even cut, and still sends its siblings', () => {
    // Prepare: a limit below one container's fixed cost (a name of 2,000 bytes).
    const pod: TrimmedPod = {
      metadata: { name: 'p', namespace: 'n', uid: 'u' },
      spec: {
        containers: [
          { name: 'n'.repeat(3000), image: 'x' },
          { name: 'ok', image: UNTRUSTED_IMAGE },
        ],
      },
    };
    const event: PodEvent = {
      cluster: 'c',
      observedAt: '2026-11-25T08:00:00Z',
      reason: 'added',
      pod,
    };

    // Act
    const fit = fitEvent(event, 2048);

    // Assess
    expect(fit.dropped).toEqual([
      { kind: 'container', name: 'n'.repeat(3000), bytes: expect.any(Number) },
    ]);
    expect(fit.events.flatMap((e) => e.pod.spec.containers)).toEqual([
      { name: 'ok', image: UNTRUSTED_IMAGE },
    ]);
  });
});

describe('a split pod on the server side', () => {
  it('evaluates its parts as the whole pod: same workload, every container once, distinct event ids', () => {
    fc.assert(
      fc.property(hostilePod, ({ pod }) => {
        // Prepare
        const whole: PodEvent = {
          cluster: 'orion-prod-euc1',
          observedAt: '2026-11-25T08:00:00Z',
          reason: 'running',
          pod,
        };
        const { events, dropped } = fitEvent(whole, 16 * 1024);
        fc.pre(events.length > 1 && dropped.length === 0);

        // Act
        const parts = events.map((e) => observationFromPodEvent(e as PodEvent));
        const all = observationFromPodEvent(whole);

        // Assess
        for (const p of parts) expect(p.workload).toEqual(all.workload);
        expect(new Set(parts.map((p) => p.eventId)).size).toBe(parts.length);
        const key = (c: { kind: string; name: string }) => `${c.kind}/${c.name}`;
        expect(parts.flatMap((p) => p.containers.map(key)).sort()).toEqual(
          all.containers.map(key).sort(),
        );
      }),
      { numRuns: 60 },
    );
  });
});
