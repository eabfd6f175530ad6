/**
 * Issue 8 §1: a container whose `image` is not a non-empty string, or a `containers` that is
 * not an array, is an `invalid-reference` finding (fail closed) — in audit events, pod events
 * and the forwarder's trimmed pods alike; never a skip, never a crash.
 */
import { describe, expect, it } from 'vitest';
import { evaluateObservation } from '../../lambdas/core/evaluate.ts';
import { extractContainers } from '../../lambdas/core/kube/containers.ts';
import { observationFromPodEvent } from '../../lambdas/core/kube/observation.ts';
import {
  type AnyPodEvent,
  isPodSighting,
  type PodEvent,
  podEventSchema,
  trimPod,
} from '../../lambdas/core/kube/pod-event.ts';
import { allowlist, auditEvent, findingsOf, type Json, type Kind, objectOf } from './builders.ts';

/** The generators make sightings only: anything else is a broken test, not a pass. */
function sighting(event: AnyPodEvent): PodEvent {
  if (!isPodSighting(event)) throw new Error(`not a pod sighting: ${event.reason}`);
  return event;
}

const NOW = new Date('2026-11-30T12:00:00Z');

const ODD_IMAGES: [string, unknown][] = [
  ['null', null],
  ['empty', ''],
  ['a number', 123],
  ['zero', 0],
  ['false', false],
  ['an object', { repository: 'nginx' }],
  ['an array', ['nginx']],
];

const ODD_LISTS: [string, unknown][] = [
  ['a string', 'nginx'],
  ['an object', { name: 'app', image: 'nginx' }],
  ['a number', 1],
  ['true', true],
];

function specWith(containers: unknown, key = 'containers'): Json {
  return { [key]: containers };
}

describe('audit events', () => {
  for (const kind of ['Pod', 'Deployment', 'CronJob', 'PodTemplate'] as Kind[]) {
    it.each(ODD_IMAGES)(`${kind}: image %s is an invalid-reference finding`, (_, image) => {
      const event = auditEvent(kind, {
        responseObject: objectOf(kind, specWith([{ name: 'app', image }])),
      });
      const findings = findingsOf(event);
      expect(findings.map((f) => [f.container, f.rule])).toEqual([['app', 'invalid-reference']]);
      expect(findings[0]?.image).toMatch(/^<invalid image: /);
    });
  }

  it('a container without image in a whole object is invalid; in a patch it changes nothing', () => {
    const whole = auditEvent('Pod', {
      responseObject: objectOf('Pod', specWith([{ name: 'app' }])),
    });
    expect(findingsOf(whole).map((f) => [f.image, f.rule])).toEqual([
      ['<invalid image: missing>', 'invalid-reference'],
    ]);
  });

  it.each(ODD_LISTS)('containers that is %s is an invalid-reference finding', (_, list) => {
    for (const key of ['containers', 'initContainers', 'ephemeralContainers']) {
      const event = auditEvent('StatefulSet', {
        requestObject: undefined,
        responseObject: objectOf('StatefulSet', specWith(list, key)),
      });
      expect(findingsOf(event).map((f) => [f.container, f.rule])).toEqual([
        [key, 'invalid-reference'],
      ]);
    }
  });

  it('an entry that is not an object is invalid, named by its position', () => {
    const event = auditEvent('Job', { responseObject: objectOf('Job', specWith(['nginx', null])) });
    expect(findingsOf(event).map((f) => f.container)).toEqual(['containers[0]', 'containers[1]']);
  });

  it('strategic-merge patches: an odd image value is invalid, an entry without image is no change', () => {
    const event = auditEvent('Deployment', {
      verb: 'patch',
      responseObject: undefined,
      requestObject: {
        spec: {
          template: {
            spec: {
              containers: [
                { name: 'a', image: 7 },
                { name: 'b', env: [] },
              ],
            },
          },
        },
      },
    });
    expect(findingsOf(event).map((f) => [f.container, f.rule])).toEqual([
      ['a', 'invalid-reference'],
    ]);
  });

  it('JSON patch: replacing an image with a non-string is invalid', () => {
    const event = auditEvent('Pod', {
      verb: 'patch',
      responseObject: undefined,
      requestObject: [{ op: 'replace', path: '/spec/containers/0/image', value: { $ne: '' } }],
    });
    expect(findingsOf(event).map((f) => f.rule)).toEqual(['invalid-reference']);
  });

  it('invalid images are judged invalid by any decider, also when re-judged from the stored string', () => {
    const image =
      extractContainers({ kind: 'Pod', spec: { containers: [{ name: 'a', image: 5 }] } })[0]
        ?.image ?? '';
    expect(allowlist.decide(image, {}, NOW).violations.map((v) => v.rule)).toEqual([
      'invalid-reference',
    ]);
  });
});

describe('pod events and the forwarder', () => {
  const event = (spec: Json) => ({
    cluster: 'orion-prod',
    observedAt: '2026-11-30T10:00:00Z',
    reason: 'running',
    pod: { metadata: { name: 'p', namespace: 'n', uid: 'u' }, spec },
  });
  const judged = (e: unknown) => {
    const parsed = podEventSchema.parse(e);
    return evaluateObservation(observationFromPodEvent(sighting(parsed)), allowlist, NOW).map(
      (f) => [f.container, f.rule],
    );
  };

  it.each(ODD_IMAGES)('pod event: image %s is an invalid-reference finding', (_, image) => {
    expect(judged(event({ containers: [{ name: 'app', image }] }))).toEqual([
      ['app', 'invalid-reference'],
    ]);
    expect(judged(event({ containers: [], initContainers: [{ name: 'i', image }] }))).toEqual([
      ['i', 'invalid-reference'],
    ]);
  });

  it.each(ODD_LISTS)(
    'pod event: containers that is %s is an invalid-reference finding',
    (_, list) => {
      expect(judged(event({ containers: list }))).toEqual([['containers', 'invalid-reference']]);
      expect(judged(event({ containers: [], ephemeralContainers: list }))).toEqual([
        ['ephemeralContainers', 'invalid-reference'],
      ]);
    },
  );

  it('pod event: a missing containers list and nameless containers still reach evaluation', () => {
    expect(judged(event({}))).toEqual([['containers', 'invalid-reference']]);
    expect(judged(event({ containers: [{ image: 'evil.example.com/x:1' }] }))).toEqual([
      ['containers[0]', 'untrusted-source'],
    ]);
  });

  it.each([...ODD_IMAGES, ['missing', undefined] as [string, unknown]])(
    'forwarder trimPod: image %s survives as an invalid image',
    (_, image) => {
      const trimmed = trimPod({
        metadata: { name: 'p', namespace: 'n', uid: 'u' },
        spec: { containers: [{ name: 'app', image }] },
      });
      expect(
        judged({
          cluster: 'orion-prod',
          observedAt: '2026-11-30T10:00:00Z',
          reason: 'added',
          pod: trimmed,
        }),
      ).toEqual([['app', 'invalid-reference']]);
    },
  );

  it('forwarder trimPod: a containers that is not a list survives as an invalid container', () => {
    const trimmed = trimPod({
      metadata: { name: 'p', namespace: 'n', uid: 'u' },
      spec: { containers: 'nginx' },
    });
    expect(trimmed.spec.containers).toEqual([
      { name: 'containers', image: '<invalid containers (not a list): string "nginx">' },
    ]);
  });
});
