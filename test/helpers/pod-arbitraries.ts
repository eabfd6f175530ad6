/**
 * fast-check generators of hostile pods: an untrusted image placed at any container position
 * (containers, initContainers, ephemeralContainers; first, middle, last), among noise
 * containers with odd names and oversized strings, labels and owner references that bloat the
 * object, and statuses that may or may not match a container. Shared by the forwarder's fit
 * property and any test that needs "an image that must never be lost".
 */
import fc from 'fast-check';
import type { TrimmedPod } from '../../lambdas/core/kube/pod-event.ts';

export const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;
export type ContainerList = (typeof CONTAINER_LISTS)[number];

/** The untrusted image every generated pod carries somewhere. */
export const UNTRUSTED_IMAGE = 'evil.example.com/attacker/miner:latest';

const size = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 80 }) },
  { weight: 3, arbitrary: fc.integer({ min: 200, max: 20_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 50_000, max: 300_000 }) },
);

/** A string of `n` characters, sometimes with characters that JSON escapes or UTF-8 widens. */
const blob = size.chain((n) =>
  fc.constantFrom('a', 'é', '"', '\u202e', '\\').map((ch) => `img/${ch.repeat(n)}`),
);

const image = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.constantFrom(
      'nginx:1.27',
      'ghcr.io/x/y:2',
      `quay.io/a/b@sha256:${'a'.repeat(64)}`,
    ),
  },
  { weight: 2, arbitrary: blob },
  { weight: 1, arbitrary: fc.constant('') },
);

export interface HostilePod {
  pod: TrimmedPod;
  /** Where the untrusted image sits. */
  at: { list: ContainerList; index: number };
}

export const hostilePod: fc.Arbitrary<HostilePod> = fc
  .record({
    lists: fc.tuple(
      fc.array(image, { maxLength: 12 }),
      fc.array(image, { maxLength: 6 }),
      fc.array(image, { maxLength: 6 }),
    ),
    target: fc.constantFrom(...CONTAINER_LISTS),
    position: fc.nat(),
    statusEvery: fc.integer({ min: 1, max: 3 }),
    imageIdSize: size,
    labels: fc.array(fc.tuple(fc.string({ maxLength: 20 }), size), { maxLength: 30 }),
    owners: fc.integer({ min: 0, max: 200 }),
    orphanStatus: fc.boolean(),
  })
  .map(({ lists, target, position, statusEvery, imageIdSize, labels, owners, orphanStatus }) => {
    const spec: TrimmedPod['spec'] = { containers: [] };
    const status: NonNullable<TrimmedPod['status']> = { phase: 'Running' };
    const statusKey = {
      containers: 'containerStatuses',
      initContainers: 'initContainerStatuses',
      ephemeralContainers: 'ephemeralContainerStatuses',
    } as const;
    let at = { list: target, index: 0 };
    CONTAINER_LISTS.forEach((list, li) => {
      const images = [...(lists[li] ?? [])];
      if (list === target) {
        const index = position % (images.length + 1);
        images.splice(index, 0, UNTRUSTED_IMAGE);
        at = { list, index };
      }
      if (images.length === 0 && list !== 'containers') return;
      const containers = images.map((img, i) => ({ name: `${list[0]}${i}`, image: img }));
      spec[list] = containers;
      const statuses = containers
        .filter((_, i) => i % statusEvery === 0)
        .map((c) => ({
          name: c.name,
          image: c.image,
          imageID: `sha256:${'f'.repeat(Math.min(imageIdSize, 100_000))}`,
        }));
      if (orphanStatus && list === 'containers') {
        statuses.push({ name: 'gone', image: 'old:1', imageID: `sha256:${'b'.repeat(64)}` });
      }
      if (statuses.length > 0) status[statusKey[list]] = statuses;
    });
    const ownerReferences = Array.from({ length: owners }, (_, i) => ({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      name: `rs-${i}-${'o'.repeat(40)}`,
      uid: `uid-${i}`,
      ...(i === owners - 1 ? { controller: true } : {}),
    }));
    const pod: TrimmedPod = {
      metadata: {
        name: 'victim',
        namespace: 'shop',
        uid: 'uid-victim',
        labels: Object.fromEntries(labels.map(([k, n], i) => [`${k}-${i}`, 'l'.repeat(n)])),
        ...(owners > 0 ? { ownerReferences } : {}),
      },
      spec,
      status,
    };
    return { pod, at };
  });
