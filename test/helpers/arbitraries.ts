/**
 * fast-check generators for adversarial inputs: an untrusted image placed at any container
 * position (containers / initContainers / ephemeralContainers, any index) of any supported
 * pod-template owner or of a custom resource we only know by shape, mixed with noise keys
 * (prototype names included) and odd value types. Shared by the audit, pod-event, manifest and
 * forwarder tests: whatever the input, the untrusted image must come out as a finding or as
 * a reported failure, never as silence.
 *
 * Everything is built as JSON text and parsed back, as real inputs arrive: a `__proto__` key
 * is then an own property, exactly what an attacker can send.
 */
import fc from 'fast-check';

/** Registry the test allowlist trusts; every other image is untrusted. */
export const TRUSTED_REGISTRY = 'trusted.example.com';
export const TRUSTED_ALLOWLIST = `version: 1
rules:
  - id: trusted
    registry: "${TRUSTED_REGISTRY}"
`;

export interface OwnerKind {
  kind: string;
  resource: string;
  /** '' for the core group (omitted from objectRef, as the apiserver writes it). */
  group: string;
  apiVersion: string;
  /** JSON pointer of the pod spec. */
  pointer: string;
  /** False for kinds regwatch knows only by shape. */
  known: boolean;
}

export const OWNER_KINDS: readonly OwnerKind[] = [
  { kind: 'Pod', resource: 'pods', group: '', apiVersion: 'v1', pointer: '/spec', known: true },
  {
    kind: 'PodTemplate',
    resource: 'podtemplates',
    group: '',
    apiVersion: 'v1',
    pointer: '/template/spec',
    known: true,
  },
  ...(
    [
      ['ReplicationController', 'replicationcontrollers', '', 'v1'],
      ['Deployment', 'deployments', 'apps', 'apps/v1'],
      ['ReplicaSet', 'replicasets', 'apps', 'apps/v1'],
      ['StatefulSet', 'statefulsets', 'apps', 'apps/v1'],
      ['DaemonSet', 'daemonsets', 'apps', 'apps/v1'],
      ['Job', 'jobs', 'batch', 'batch/v1'],
    ] as const
  ).map(([kind, resource, group, apiVersion]) => ({
    kind,
    resource,
    group,
    apiVersion,
    pointer: '/spec/template/spec',
    known: true,
  })),
  {
    kind: 'CronJob',
    resource: 'cronjobs',
    group: 'batch',
    apiVersion: 'batch/v1',
    pointer: '/spec/jobTemplate/spec/template/spec',
    known: true,
  },
  // Custom resources: judged by the shape of their pod spec.
  {
    kind: 'Rollout',
    resource: 'rollouts',
    group: 'argoproj.io',
    apiVersion: 'argoproj.io/v1alpha1',
    pointer: '/spec/template/spec',
    known: false,
  },
  {
    kind: 'CloneSet',
    resource: 'clonesets',
    group: 'apps.kruise.io',
    apiVersion: 'apps.kruise.io/v1alpha1',
    pointer: '/spec/template/spec',
    known: false,
  },
  {
    kind: 'Service',
    resource: 'services',
    group: 'serving.knative.dev',
    apiVersion: 'serving.knative.dev/v1',
    pointer: '/spec/template/spec',
    known: false,
  },
  {
    kind: 'ScaledJob',
    resource: 'scaledjobs',
    group: 'keda.sh',
    apiVersion: 'keda.sh/v1alpha1',
    pointer: '/spec/jobTargetRef/template/spec',
    known: false,
  },
];

export const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;
export type ContainerList = (typeof CONTAINER_LISTS)[number];

/** Keys that must never be inherited nor crash anything. */
export const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype'] as const;

/** Untrusted image strings, including look-alikes of the trusted registry. */
export const arbUntrustedImage: fc.Arbitrary<string> = fc.constantFrom(
  'evil.example.com/miner:1',
  'nginx',
  'docker.io/library/busybox:latest',
  `${TRUSTED_REGISTRY}.evil.io/app:1`,
  `evil.io/${TRUSTED_REGISTRY}/app:1`,
  'ghcr.io/attacker/tool@sha256:0000000000000000000000000000000000000000000000000000000000000000',
  'Trusted.Example.Com.attacker.net/x',
  'quay.io/x/y:v1',
);

/** `image` values that are not a non-empty string: each must be an `invalid-reference`. */
export const arbOddImage: fc.Arbitrary<unknown> = fc.constantFrom(
  null,
  '',
  0,
  123,
  true,
  {},
  [],
  ['nginx'],
  { name: 'nginx' },
);

/** The image under test: an untrusted string, or an odd value. */
export const arbBadImage: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: arbUntrustedImage },
  { weight: 1, arbitrary: arbOddImage },
);

const arbNoiseValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
  // A prototype key whose value imitates what the evaluator looks for.
  fc.constant({ image: 'trusted.example.com/fake:1', responseStatus: { code: 500 } }),
);

/** Keys never meaningful to the evaluator, prototype names first. */
const arbNoiseKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...PROTOTYPE_KEYS, 'toString', 'hasOwnProperty', 'valueOf', 'x-noise', '$patch'),
  fc.string({ minLength: 1, maxLength: 6 }).map((s) => `n_${s}`),
);

export const arbNoise: fc.Arbitrary<[string, unknown][]> = fc.array(
  fc.tuple(arbNoiseKey, arbNoiseValue),
  { maxLength: 3 },
);

/** A JSON object with `entries` first, then `noise` (keys already present are not replaced). */
export function objectText(entries: [string, string][], noise: [string, unknown][] = []): string {
  const seen = new Set(entries.map(([k]) => k));
  const parts = entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`);
  for (const [k, v] of noise) {
    // `$patch: delete` noise on a container would legitimately remove it; keep it off.
    if (seen.has(k) || k === '$patch') continue;
    seen.add(k);
    parts.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
  }
  return `{${parts.join(',')}}`;
}

export interface Placement {
  list: ContainerList;
  /** Index of the untrusted container in its list. */
  index: number;
  /** Trusted siblings per list (the untrusted one is inserted among them). */
  siblings: Record<ContainerList, number>;
  image: unknown;
  containerNoise: [string, unknown][];
  specNoise: [string, unknown][];
}

export const arbPlacement: fc.Arbitrary<Placement> = fc
  .record({
    list: fc.constantFrom(...CONTAINER_LISTS),
    containers: fc.nat({ max: 2 }),
    initContainers: fc.nat({ max: 2 }),
    ephemeralContainers: fc.nat({ max: 1 }),
    at: fc.nat({ max: 3 }),
    image: arbBadImage,
    containerNoise: arbNoise,
    specNoise: arbNoise,
  })
  .map((r) => ({
    list: r.list,
    index: Math.min(r.at, r[r.list]),
    siblings: {
      containers: r.containers,
      initContainers: r.initContainers,
      ephemeralContainers: r.ephemeralContainers,
    },
    image: r.image,
    containerNoise: r.containerNoise,
    specNoise: r.specNoise,
  }));

export const UNTRUSTED_CONTAINER = 'intruder';

/** The container list texts of a pod spec with the untrusted container placed. */
export function containerListText(p: Placement, list: ContainerList): string | null {
  const n = p.siblings[list];
  const items: string[] = [];
  for (let i = 0; i < n; i++) {
    items.push(
      objectText([
        ['name', JSON.stringify(`${list}-ok-${i}`)],
        ['image', JSON.stringify(`${TRUSTED_REGISTRY}/team/app${i}:1.0`)],
      ]),
    );
  }
  if (list === p.list) {
    items.splice(
      p.index,
      0,
      objectText(
        [
          ['name', JSON.stringify(UNTRUSTED_CONTAINER)],
          ['image', JSON.stringify(p.image)],
        ],
        p.containerNoise,
      ),
    );
  }
  if (items.length === 0 && list !== 'containers') return null;
  return `[${items.join(',')}]`;
}

export function podSpecText(p: Placement): string {
  const entries: [string, string][] = [];
  for (const list of CONTAINER_LISTS) {
    const text = containerListText(p, list);
    if (text !== null) entries.push([list, text]);
  }
  return objectText(entries, p.specNoise);
}

/** Wraps a pod spec text at `pointer` (`/spec/template/spec`) in objects. */
export function nestAt(
  pointer: string,
  inner: string,
  outerNoise: [string, unknown][] = [],
): string {
  const tokens = pointer.split('/').slice(1);
  let text = inner;
  for (let i = tokens.length - 1; i >= 0; i--) {
    text = objectText([[tokens[i] as string, text]], i === 0 ? outerNoise : []);
  }
  return text;
}

export const NAMESPACE = 'prod';
export const NAME = 'web';

/** The whole object of `owner` with the placement, as JSON text. */
export function objectOf(owner: OwnerKind, p: Placement, noise: [string, unknown][] = []): string {
  const body = JSON.parse(nestAt(owner.pointer, podSpecText(p))) as Record<string, unknown>;
  const first = Object.keys(body)[0] as string;
  return objectText(
    [
      ['apiVersion', JSON.stringify(owner.apiVersion)],
      ['kind', JSON.stringify(owner.kind)],
      [
        'metadata',
        objectText([
          ['name', JSON.stringify(NAME)],
          ['namespace', JSON.stringify(NAMESPACE)],
        ]),
      ],
      [first, JSON.stringify(body[first])],
    ],
    noise,
  );
}

/** Ancestors of a pointer, itself included: `/spec/template/spec` → '', /spec, /spec/template, … */
export function ancestors(pointer: string): string[] {
  const tokens = pointer.split('/').slice(1);
  return tokens.map((_, i) => `/${tokens.slice(0, i + 1).join('/')}`);
}

/** A logged response that is not the object (what `?as=Table` and friends leave in the log). */
export const TRANSFORMED_RESPONSES: readonly unknown[] = [
  {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    columnDefinitions: [{ name: 'Name', type: 'string' }],
    rows: [{ cells: ['web'] }],
  },
  {
    kind: 'PartialObjectMetadata',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { name: NAME, namespace: NAMESPACE },
  },
  { kind: 'Status', apiVersion: 'v1', status: 'Success' },
  {},
];

export type BodyMode =
  | { mode: 'response' }
  | { mode: 'request-only' }
  | { mode: 'transformed'; response: number }
  | {
      mode: 'json-patch';
      at: 'subtree' | 'list' | 'container' | 'image';
      ancestor: number;
      response: number | null;
    }
  | { mode: 'merge-patch'; response: number | null };

export const arbBodyMode: fc.Arbitrary<BodyMode> = fc.oneof(
  fc.constant({ mode: 'response' as const }),
  fc.constant({ mode: 'request-only' as const }),
  fc.record({
    mode: fc.constant('transformed' as const),
    response: fc.nat({ max: TRANSFORMED_RESPONSES.length - 1 }),
  }),
  fc.record({
    mode: fc.constant('json-patch' as const),
    at: fc.constantFrom(
      'subtree' as const,
      'list' as const,
      'container' as const,
      'image' as const,
    ),
    ancestor: fc.nat({ max: 8 }),
    response: fc.option(fc.nat({ max: TRANSFORMED_RESPONSES.length - 1 }), { nil: null }),
  }),
  fc.record({
    mode: fc.constant('merge-patch' as const),
    response: fc.option(fc.nat({ max: TRANSFORMED_RESPONSES.length - 1 }), { nil: null }),
  }),
);

export interface AuditCase {
  owner: OwnerKind;
  placement: Placement;
  body: BodyMode;
  event: Record<string, unknown>;
}

function get(value: unknown, pointer: string): unknown {
  let v = value;
  for (const t of pointer.split('/').slice(1)) v = (v as Record<string, unknown>)[t];
  return v;
}

/** A JSON patch that sets the untrusted image through the chosen kind of operation. */
function jsonPatchText(
  owner: OwnerKind,
  p: Placement,
  at: 'subtree' | 'list' | 'container' | 'image',
  ancestor: number,
): string {
  const whole = JSON.parse(objectOf(owner, p));
  let ops: { op: string; path: string; value: unknown }[];
  const listPath = `${owner.pointer}/${p.list}`;
  const list = get(whole, listPath) as unknown[];
  if (at === 'subtree') {
    const paths = ancestors(owner.pointer);
    const path = paths[ancestor % paths.length] as string;
    ops = [{ op: 'replace', path, value: get(whole, path) }];
  } else if (at === 'list') {
    ops = [{ op: 'replace', path: listPath, value: list }];
  } else if (at === 'container') {
    ops = [{ op: 'add', path: `${listPath}/${p.index}`, value: list[p.index] }];
  } else {
    ops = [{ op: 'replace', path: `${listPath}/${p.index}/image`, value: p.image }];
  }
  const noise = [
    { op: 'replace', path: '/metadata/labels/tier', value: 'web' },
    { op: 'add', path: '/metadata/annotations/__proto__', value: 'x' },
  ];
  return JSON.stringify([noise[0], ...ops, noise[1]]);
}

/** The object with only the container lists (what `kubectl set image` / apply patches send). */
function mergePatchText(owner: OwnerKind, p: Placement): string {
  return nestAt(owner.pointer, podSpecText(p));
}

export const arbAuditCase: fc.Arbitrary<AuditCase> = fc
  .record({
    owner: fc.constantFrom(...OWNER_KINDS),
    placement: arbPlacement,
    body: arbBodyMode,
    eventNoise: arbNoise,
    objectNoise: arbNoise,
    verb: fc.constantFrom('create', 'update'),
    code: fc.constantFrom(200, 201),
  })
  .map(({ owner, placement, body, eventNoise, objectNoise, verb, code }) => {
    const object = objectOf(owner, placement, objectNoise);
    let request: string | undefined = object;
    let response: string | undefined = object;
    let v: string = verb;
    if (body.mode === 'request-only') response = undefined;
    else if (body.mode === 'transformed')
      response = JSON.stringify(TRANSFORMED_RESPONSES[body.response]);
    else if (body.mode === 'json-patch' || body.mode === 'merge-patch') {
      v = 'patch';
      request =
        body.mode === 'json-patch'
          ? jsonPatchText(owner, placement, body.at, body.ancestor)
          : mergePatchText(owner, placement);
      response =
        body.response === null ? undefined : JSON.stringify(TRANSFORMED_RESPONSES[body.response]);
    }
    const objectRef = objectText([
      ['resource', JSON.stringify(owner.resource)],
      ...(owner.group ? ([['apiGroup', JSON.stringify(owner.group)]] as [string, string][]) : []),
      ['apiVersion', JSON.stringify(owner.apiVersion.split('/').pop())],
      ['namespace', JSON.stringify(NAMESPACE)],
      ['name', JSON.stringify(NAME)],
    ]);
    const entries: [string, string][] = [
      ['kind', '"Event"'],
      ['apiVersion', '"audit.k8s.io/v1"'],
      ['level', '"RequestResponse"'],
      ['auditID', '"a1b2c3"'],
      ['stage', '"ResponseComplete"'],
      ['verb', JSON.stringify(v)],
      ['user', '{"username":"mallory","groups":["system:authenticated"]}'],
      ['sourceIPs', '["203.0.113.7"]'],
      ['objectRef', objectRef],
      ['responseStatus', `{"code":${code}}`],
      ['stageTimestamp', '"2026-11-30T10:00:00.000000Z"'],
    ];
    if (request !== undefined) entries.push(['requestObject', request]);
    if (response !== undefined) entries.push(['responseObject', response]);
    const event = JSON.parse(objectText(entries, eventNoise)) as Record<string, unknown>;
    return { owner, placement, body, event };
  });

export interface PodEventCase {
  placement: Placement;
  event: unknown;
  /** The pod as a full v1 Pod, for the forwarder's `trimPod`. */
  pod: unknown;
}

export const arbPodEventCase: fc.Arbitrary<PodEventCase> = fc
  .record({
    placement: arbPlacement,
    metadataNoise: arbNoise,
    podNoise: arbNoise,
    reason: fc.constantFrom('added', 'running', 'resync'),
  })
  .map(({ placement, metadataNoise, podNoise, reason }) => {
    const podText = objectText(
      [
        ['apiVersion', '"v1"'],
        ['kind', '"Pod"'],
        [
          'metadata',
          objectText(
            [
              ['name', JSON.stringify(`${NAME}-7d4b9c-x2x9q`)],
              ['namespace', JSON.stringify(NAMESPACE)],
              ['uid', '"0b7c9e2a-1111-4222-8333-944445555666"'],
            ],
            metadataNoise.filter(([k]) => k !== 'labels' && k !== 'ownerReferences'),
          ),
        ],
        ['spec', podSpecText(placement)],
      ],
      podNoise,
    );
    const pod = JSON.parse(podText) as Record<string, unknown>;
    const event = JSON.parse(
      objectText([
        ['cluster', '"orion-prod"'],
        ['observedAt', '"2026-11-30T10:00:00.000Z"'],
        ['reason', JSON.stringify(reason)],
        ['pod', podText],
      ]),
    );
    return { placement, event, pod };
  });

/** True when a finding's image is the placed one: the string itself, or its invalid form. */
export function isPlacedImage(image: string, placed: unknown): boolean {
  return typeof placed === 'string' && placed !== ''
    ? image === placed
    : image.startsWith('<invalid');
}
