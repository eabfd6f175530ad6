/**
 * The pod event: what the forwarder sends (`POST /v1/pod-events` locally, EventBridge
 * `detail` on AWS). One schema serves the forwarder, local mode and the Lambda handler.
 */
import * as z from 'zod';
import { POD_EVENT_REASONS, RESYNC_COMPLETE_REASON } from '../types.ts';

const containerSchema = z.object({
  name: z.string().min(1),
  image: z.string(),
});

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
    containers: z.array(containerSchema),
    initContainers: z.array(containerSchema).optional(),
    ephemeralContainers: z.array(containerSchema).optional(),
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
export type TrimmedPod = z.infer<typeof trimmedPodSchema>;

export const podEventSchema = z.object({
  cluster: z.string().min(1),
  observedAt: z.iso.datetime({ offset: true }),
  reason: z.enum(POD_EVENT_REASONS),
  pod: trimmedPodSchema,
  /** Every `resync` event of one pass carries the pass's id; `resync-complete` ends it. */
  resyncId: z.string().min(1).max(128).optional(),
});
export type PodEvent = z.infer<typeof podEventSchema>;

export const resyncCompleteEventSchema = z.object({
  cluster: z.string().min(1),
  observedAt: z.iso.datetime({ offset: true }),
  reason: z.literal(RESYNC_COMPLETE_REASON),
  resyncId: z.string().min(1).max(128),
});
export type ResyncCompleteEvent = z.infer<typeof resyncCompleteEventSchema>;

/** Anything `/v1/pod-events` accepts; an unknown `reason` is refused naming the field. */
export const podEventRecordSchema = z.discriminatedUnion('reason', [
  podEventSchema,
  resyncCompleteEventSchema,
]);
export type PodEventRecord = z.infer<typeof podEventRecordSchema>;

type Loose = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const obj = (v: unknown): Loose => (v !== null && typeof v === 'object' ? (v as Loose) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function trimContainers(v: unknown) {
  return arr(v).map((c) => ({ name: str(obj(c).name) ?? '', image: str(obj(c).image) ?? '' }));
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
    spec: { containers: trimContainers(spec.containers) },
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
    trimmed.metadata.ownerReferences = md.ownerReferences.map((r) => {
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
  if (Array.isArray(spec.initContainers))
    trimmed.spec.initContainers = trimContainers(spec.initContainers);
  if (Array.isArray(spec.ephemeralContainers)) {
    trimmed.spec.ephemeralContainers = trimContainers(spec.ephemeralContainers);
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
