/**
 * The pod event: what the forwarder sends (`POST /v1/pod-events` locally, EventBridge
 * `detail` on AWS). One schema serves the forwarder, local mode and the Lambda handler.
 *
 * Reasons (the discriminator):
 * - `added`, `running`, `resync`: a live pod to evaluate, `{"cluster","observedAt","reason","pod"}`;
 *   a `resync` also carries the `resyncId` of its pass (optional: older forwarders omit it).
 * - `deleted`: the pod is gone, `{"cluster","observedAt","reason":"deleted","pod"}`.
 * - `resync-complete`: a full resync pass ended, `{"cluster","observedAt","reason":"resync-complete","resyncId"}`;
 *   every `resync` event of that pass carried the same `resyncId`.
 *
 * A pod too large for one sink call may arrive as several events of the same reason with the
 * same pod identity (namespace, name, uid), each holding some of its containers: a server treats
 * each as a sighting of those containers of that pod, never as the whole pod.
 *
 * Any other reason is refused with an issue on the `reason` field, so a forwarder newer than
 * its server fails loudly instead of being misread.
 */
import * as z from 'zod';
import { clusterNameSchema } from '../cluster-schema.ts';
import { POD_EVENT_REASONS } from '../types.ts';
import { invalidImage, isImageString } from './containers.ts';

const containerSchema = z.object({
  name: z.string().min(1),
  image: z.string(),
});

type Container = z.infer<typeof containerSchema>;
const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Fail closed on a container list: a list that is not an array, an entry that is not an
 * object, an entry without a name, or an `image` that is not a non-empty string still reaches
 * evaluation, as a container whose image is `invalidImage(…)` (an `invalid-reference`
 * finding), instead of failing the whole event or vanishing.
 */
export function normaliseContainerList(value: unknown, key: string): Container[] {
  if (!Array.isArray(value))
    return [{ name: key, image: invalidImage(`${key} (not a list)`, value) }];
  return value.map((c, i) => {
    if (!isObject(c)) return { name: `${key}[${i}]`, image: invalidImage('container', c) };
    const rawName = Object.hasOwn(c, 'name') ? c.name : undefined;
    const rawImage = Object.hasOwn(c, 'image') ? c.image : undefined;
    return {
      name: typeof rawName === 'string' && rawName !== '' ? rawName : `${key}[${i}]`,
      image: isImageString(rawImage) ? rawImage : invalidImage('image', rawImage),
    };
  });
}

const requiredList = (key: string) =>
  z.preprocess((v) => normaliseContainerList(v, key), z.array(containerSchema));
// An absent or null optional list is no list (as kubectl reads `initContainers:` with no value).
const optionalList = (key: string) =>
  z.preprocess(
    (v) => (v === undefined || v === null ? undefined : normaliseContainerList(v, key)),
    z.array(containerSchema).optional(),
  );

const containerStatusSchema = z.object({
  name: z.string().min(1),
  image: z.string().optional(),
  imageID: z.string().optional(),
});

const ownerReferenceSchema = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().min(1),
  name: z.string().min(1),
  uid: z.string().optional(),
  controller: z.boolean().optional(),
});

/** The trimmed v1 Pod: what evaluation needs and nothing else (no env, no volumes, no secrets). */
export const trimmedPodSchema = z.object({
  metadata: z.object({
    name: z.string().min(1),
    namespace: z.string().min(1),
    uid: z.string().min(1),
    labels: z.record(z.string(), z.string()).optional(),
    ownerReferences: z.array(ownerReferenceSchema).optional(),
    creationTimestamp: z.string().optional(),
  }),
  spec: z.object({
    serviceAccountName: z.string().optional(),
    nodeName: z.string().optional(),
    containers: requiredList('containers'),
    initContainers: optionalList('initContainers'),
    ephemeralContainers: optionalList('ephemeralContainers'),
  }),
  status: z
    .object({
      phase: z.string().optional(),
      containerStatuses: z.array(containerStatusSchema).optional(),
      initContainerStatuses: z.array(containerStatusSchema).optional(),
      ephemeralContainerStatuses: z.array(containerStatusSchema).optional(),
    })
    .optional(),
});
export type TrimmedPod = z.output<typeof trimmedPodSchema>;

/** Names one resync pass; bounded so a hostile sender cannot make a server store megabytes. */
export const resyncIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits and . _ : - only');

const envelope = {
  cluster: clusterNameSchema,
  observedAt: z.iso.datetime({ offset: true }),
};

const sightingSchema = z.object({
  ...envelope,
  reason: z.enum(['added', 'running']),
  pod: trimmedPodSchema,
});
const resyncSchema = z.object({
  ...envelope,
  reason: z.literal('resync'),
  resyncId: resyncIdSchema.optional(),
  pod: trimmedPodSchema,
});
const deletedSchema = z.object({
  ...envelope,
  reason: z.literal('deleted'),
  pod: trimmedPodSchema,
});
const resyncCompleteSchema = z.object({
  ...envelope,
  reason: z.literal('resync-complete'),
  resyncId: resyncIdSchema,
});

const REASON_LIST = POD_EVENT_REASONS.map((r) => `"${r}"`).join(', ');

export const podEventSchema = z.discriminatedUnion(
  'reason',
  [sightingSchema, resyncSchema, deletedSchema, resyncCompleteSchema],
  {
    // The value itself is not echoed: it comes from the sender and may be anything.
    error: (issue) =>
      issue.code === 'invalid_union'
        ? `unknown pod event reason; expected one of ${REASON_LIST}`
        : undefined,
  },
);
/** Any pod event of the contract, as `podEventSchema` parses it. */
export type AnyPodEvent = z.infer<typeof podEventSchema>;
/**
 * A pod event that carries a live pod to evaluate (`added`, `running`, `resync`): the sighting
 * the evaluation reads. Kept as `PodEvent` because that is what nearly every consumer handles.
 */
export type PodEvent = Extract<AnyPodEvent, { reason: 'added' | 'running' | 'resync' }>;
export type PodDeletedEvent = Extract<AnyPodEvent, { reason: 'deleted' }>;
export type ResyncCompleteEvent = Extract<AnyPodEvent, { reason: 'resync-complete' }>;

export function isPodSighting(event: AnyPodEvent): event is PodEvent {
  return event.reason === 'added' || event.reason === 'running' || event.reason === 'resync';
}

/** The end of a resync pass on its own (the reconciler's input). */
export const resyncCompleteEventSchema = resyncCompleteSchema;

/** Anything `/v1/pod-events` accepts (the whole contract); an unknown `reason` is refused. */
export const podEventRecordSchema = podEventSchema;
export type PodEventRecord = AnyPodEvent;

type Loose = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const obj = (v: unknown): Loose => (v !== null && typeof v === 'object' ? (v as Loose) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function trimContainers(v: unknown, key: string) {
  return normaliseContainerList(v, key);
}

function trimStatuses(v: unknown) {
  return arr(v).map((s) => {
    const o = obj(s);
    const out: { name: string; image?: string; imageID?: string } = { name: str(o.name) ?? '' };
    const image = str(o.image);
    const imageID = str(o.imageID);
    if (image !== undefined) out.image = image;
    if (imageID) out.imageID = imageID;
    return out;
  });
}

/**
 * Keep only what evaluation needs from a full v1 Pod (as the API server or client-node gives it).
 * Accepts plain JSON objects, so it works on informer objects and on stored manifests alike.
 */
export function trimPod(pod: unknown): TrimmedPod {
  const p = obj(pod);
  const md = obj(p.metadata);
  const spec = obj(p.spec);
  const status = obj(p.status);
  const trimmed: TrimmedPod = {
    metadata: {
      name: str(md.name) ?? '',
      namespace: str(md.namespace) ?? '',
      uid: str(md.uid) ?? '',
    },
    spec: { containers: trimContainers(spec.containers, 'containers') },
  };
  const labels = md.labels;
  if (labels && typeof labels === 'object') {
    trimmed.metadata.labels = Object.fromEntries(
      Object.entries(labels as Loose).filter(
        (e): e is [string, string] => typeof e[1] === 'string',
      ),
    );
  }
  if (Array.isArray(md.ownerReferences)) {
    // A reference without kind or name cannot name a workload: it is left out (the pod is then
    // judged as its own workload) rather than making the whole event invalid.
    const usable = md.ownerReferences.filter((r) => str(obj(r).kind) && str(obj(r).name));
    trimmed.metadata.ownerReferences = usable.map((r) => {
      const o = obj(r);
      const ref: NonNullable<TrimmedPod['metadata']['ownerReferences']>[number] = {
        kind: str(o.kind) ?? '',
        name: str(o.name) ?? '',
      };
      if (str(o.apiVersion)) ref.apiVersion = str(o.apiVersion);
      if (str(o.uid)) ref.uid = str(o.uid);
      if (typeof o.controller === 'boolean') ref.controller = o.controller;
      return ref;
    });
  }
  const created = md.creationTimestamp;
  if (typeof created === 'string') trimmed.metadata.creationTimestamp = created;
  else if (created instanceof Date) trimmed.metadata.creationTimestamp = created.toISOString();
  if (str(spec.serviceAccountName)) trimmed.spec.serviceAccountName = str(spec.serviceAccountName);
  if (str(spec.nodeName)) trimmed.spec.nodeName = str(spec.nodeName);
  // A list that is present but not a list is kept as an invalid container (fail closed);
  // only an absent or null one is no list.
  if (spec.initContainers !== undefined && spec.initContainers !== null)
    trimmed.spec.initContainers = trimContainers(spec.initContainers, 'initContainers');
  if (spec.ephemeralContainers !== undefined && spec.ephemeralContainers !== null) {
    trimmed.spec.ephemeralContainers = trimContainers(
      spec.ephemeralContainers,
      'ephemeralContainers',
    );
  }
  const st: NonNullable<TrimmedPod['status']> = {};
  if (str(status.phase)) st.phase = str(status.phase);
  if (Array.isArray(status.containerStatuses))
    st.containerStatuses = trimStatuses(status.containerStatuses);
  if (Array.isArray(status.initContainerStatuses)) {
    st.initContainerStatuses = trimStatuses(status.initContainerStatuses);
  }
  if (Array.isArray(status.ephemeralContainerStatuses)) {
    st.ephemeralContainerStatuses = trimStatuses(status.ephemeralContainerStatuses);
  }
  if (Object.keys(st).length > 0) trimmed.status = st;
  return trimmed;
}
