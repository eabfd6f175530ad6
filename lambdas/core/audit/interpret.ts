/**
 * One Kubernetes audit event (`audit.k8s.io/v1`, or the older `v1beta1` shape) → either a pod
 * observation or a named reason why it carries none. Never throws on bad input.
 */
import * as z from 'zod';
import { containersOfSpec, extractContainers, podSpecOf } from '../kube/containers.ts';
import { type WorkloadOptions, workloadOf } from '../kube/workload.ts';
import type {
  Actor,
  ContainerImage,
  ContainerKind,
  PodObservation,
  WorkloadRef,
} from '../types.ts';
import { actorFromAuditEvent } from './actor.ts';
import {
  isRelevantResource,
  isRelevantVerb,
  RELEVANT_RESOURCES,
  RELEVANT_SUBRESOURCES,
  type RelevantResource,
} from './rules.ts';

export const SKIP_REASONS = [
  /** Not an audit Event (wrong shape, missing auditID/stage/verb/user/time). */
  'not-audit-event',
  /** A log line that is not JSON (e.g. plain-text CloudWatch messages); set by readers. */
  'not-json',
  /** Not `ResponseComplete` (RequestReceived, ResponseStarted, Panic). */
  'stage',
  /** Not create/update/patch. */
  'verb',
  /** Not a pod or pod-template owner (or an API group that does not serve one). */
  'resource',
  /** A subresource other than pods/ephemeralcontainers (exec, status, scale, …). */
  'subresource',
  /** Not a 2xx response, or no response status at all. */
  'failed-request',
  /** Logged at Metadata level (or without any object): the images are unknown. */
  'metadata-only',
  /** The object names no container image (e.g. a patch that changes replicas only). */
  'no-containers',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** What is known of a request even when it yields no observation (for counting and reports). */
export interface AuditRequestSummary {
  auditID: string;
  verb: string;
  /** `resource` or `resource/subresource`. */
  resource: string;
  namespace: string | null;
  name: string | null;
  workload: WorkloadRef | null;
  actor: Actor;
  observedAt: string;
}

export type AuditOutcome =
  | { kind: 'observation'; observation: PodObservation }
  | {
      kind: 'skipped';
      reason: SkipReason;
      detail: string;
      request?: AuditRequestSummary | undefined;
    };

export interface InterpretOptions extends WorkloadOptions {
  cluster: string;
}

const auditEventSchema = z.looseObject({
  kind: z.literal('Event').optional(),
  auditID: z.string().min(1),
  stage: z.string().min(1),
  verb: z.string().min(1),
  level: z.string().optional(),
  user: z.looseObject({ username: z.string() }),
  objectRef: z
    .looseObject({
      resource: z.string().optional(),
      subresource: z.string().optional(),
      namespace: z.string().optional(),
      name: z.string().optional(),
      apiGroup: z.string().optional(),
    })
    .optional(),
  responseStatus: z.looseObject({ code: z.number().optional() }).optional(),
  stageTimestamp: z.string().optional(),
  requestReceivedTimestamp: z.string().optional(),
  // audit.k8s.io/v1beta1 (Kubernetes ≤ 1.12 era) also wrote `timestamp`.
  timestamp: z.string().optional(),
});
type AuditEvent = z.infer<typeof auditEventSchema>;

type Loose = Record<string, unknown>;
const isObj = (v: unknown): v is Loose => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function skip(reason: SkipReason, detail: string, request?: AuditRequestSummary): AuditOutcome {
  return { kind: 'skipped', reason, detail, request };
}

function observedAtOf(e: AuditEvent): string | null {
  for (const t of [e.stageTimestamp, e.requestReceivedTimestamp, e.timestamp]) {
    if (t === undefined) continue;
    const ms = Date.parse(t);
    if (!Number.isNaN(ms)) return new Date(ms).toISOString();
  }
  return null;
}

/** A usable object: a JSON object that is not a `Status` (what some failed or odd responses carry). */
function usableObject(v: unknown): Loose | null {
  return isObj(v) && v.kind !== 'Status' ? v : null;
}

/**
 * Interpret one audit event. Rules, in order: valid shape; stage `ResponseComplete`; verb
 * create/update/patch; a pod or pod-template owner resource (pods/ephemeralcontainers as the
 * only subresource); a 2xx response; an object to read (`responseObject` preferred: it is what
 * was stored after mutating admission; else `requestObject`, which for a patch is partial).
 */
export function interpretAuditEvent(event: unknown, opts: InterpretOptions): AuditOutcome {
  const parsed = auditEventSchema.safeParse(event);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid';
    return skip('not-audit-event', `not an audit event (${where})`);
  }
  const e = parsed.data;
  const observedAt = observedAtOf(e);
  if (!observedAt) return skip('not-audit-event', 'audit event has no valid timestamp');
  if (e.stage !== 'ResponseComplete') return skip('stage', `stage ${e.stage}`);
  if (!isRelevantVerb(e.verb)) return skip('verb', `verb ${e.verb}`);
  const ref = e.objectRef ?? {};
  const resource = ref.resource ?? '';
  if (!isRelevantResource(resource)) return skip('resource', `resource ${resource || '(none)'}`);
  const spec = RELEVANT_RESOURCES[resource];
  const group = ref.apiGroup ?? '';
  if (!(spec.groups as readonly string[]).includes(group)) {
    return skip('resource', `resource ${resource} of API group ${group || '(core)'}`);
  }
  const sub = ref.subresource;
  if (sub !== undefined && sub !== '' && !(RELEVANT_SUBRESOURCES[resource] ?? []).includes(sub)) {
    return skip('subresource', `subresource ${resource}/${sub}`);
  }

  const actor = actorFromAuditEvent(event);
  const summary: AuditRequestSummary = {
    auditID: e.auditID,
    verb: e.verb,
    resource: sub ? `${resource}/${sub}` : resource,
    namespace: ref.namespace ?? null,
    name: ref.name ?? null,
    workload: ref.name ? { kind: spec.kind, name: ref.name } : null,
    actor,
    observedAt,
  };
  const code = e.responseStatus?.code;
  if (code === undefined) return skip('failed-request', 'no response status code', summary);
  if (code < 200 || code > 299) return skip('failed-request', `response code ${code}`, summary);

  const raw = event as Loose;
  const full = usableObject(raw.responseObject);
  const request = raw.requestObject;
  let target: Extracted | null;
  if (full) target = fromObject(full, resource, ref, opts, false);
  else if (e.verb !== 'patch' && usableObject(request))
    target = fromObject(usableObject(request) as Loose, resource, ref, opts, false);
  else if (e.verb === 'patch' && request !== undefined && request !== null)
    target = fromPatch(request, resource, ref);
  else {
    const level = e.level ?? 'unknown';
    return skip(
      'metadata-only',
      `${e.verb} ${summary.resource} logged at level ${level} without an object: images unavailable`,
      summary,
    );
  }
  if (!target) return skip('no-containers', 'the object carries no pod spec', summary);
  const namespace = ref.namespace || target.namespace;
  if (!namespace) return skip('not-audit-event', 'no namespace in objectRef or object', summary);
  summary.workload = target.workload;
  if (target.containers.length === 0) {
    return skip(
      'no-containers',
      target.partial ? 'the patch sets no container image' : 'the object has no containers',
      summary,
    );
  }
  return {
    kind: 'observation',
    observation: {
      source: 'audit',
      cluster: opts.cluster,
      namespace,
      workload: target.workload,
      podName: target.podName,
      podUid: target.podUid,
      serviceAccount: target.serviceAccount,
      node: target.node,
      containers: target.containers,
      actor,
      observedAt,
      eventId: e.auditID,
      partial: target.partial,
    },
  };
}

interface Extracted {
  workload: WorkloadRef;
  namespace: string | null;
  podName: string | null;
  podUid: string | null;
  serviceAccount: string | null;
  node: string | null;
  containers: ContainerImage[];
  partial: boolean;
}

type ObjectRef = NonNullable<AuditEvent['objectRef']>;

function fromObject(
  object: Loose,
  resource: RelevantResource,
  ref: ObjectRef,
  opts: WorkloadOptions,
  partial: boolean,
): Extracted {
  const kind = RELEVANT_RESOURCES[resource].kind;
  const md = isObj(object.metadata) ? object.metadata : {};
  // Creates with generateName have no name in objectRef or requestObject; only the response has
  // it. A bare pod known only by generateName is named by that prefix (stable, never invented).
  const name = str(md.name) || ref.name || str(md.generateName) || '';
  const withName = { ...object, metadata: { ...md, name } };
  // Before Kubernetes 1.23 the ephemeralcontainers subresource took an `EphemeralContainers`
  // object listing only the ephemeral containers: the pod's other containers are not in it.
  if (object.kind === 'EphemeralContainers') {
    return {
      workload: { kind: 'Pod', name },
      namespace: str(md.namespace) ?? null,
      podName: name || null,
      podUid: str(md.uid) ?? null,
      serviceAccount: null,
      node: null,
      containers: containersOfSpec({ ephemeralContainers: object.ephemeralContainers }),
      partial: true,
    };
  }
  const podSpec = podSpecOf(object, kind);
  const isPod = kind === 'Pod';
  return {
    workload: workloadOf(withName, opts, kind),
    namespace: str(md.namespace) ?? null,
    podName: isPod ? name || null : null,
    podUid: isPod ? (str(md.uid) ?? null) : null,
    serviceAccount: str(podSpec?.serviceAccountName) ?? null,
    node: isPod ? (str(podSpec?.nodeName) ?? null) : null,
    containers: extractContainers(object, kind),
    partial,
  };
}

/** Where each resource keeps its pod spec, as JSON-pointer prefixes for JSON patches. */
const POD_SPEC_POINTER: Record<RelevantResource, string> = {
  pods: '/spec',
  podtemplates: '/template/spec',
  replicationcontrollers: '/spec/template/spec',
  deployments: '/spec/template/spec',
  replicasets: '/spec/template/spec',
  statefulsets: '/spec/template/spec',
  daemonsets: '/spec/template/spec',
  jobs: '/spec/template/spec',
  cronjobs: '/spec/jobTemplate/spec/template/spec',
};

const LIST_KIND: Record<string, ContainerKind> = {
  containers: 'container',
  initContainers: 'initContainer',
  ephemeralContainers: 'ephemeralContainer',
};

/**
 * A patch body names only what changes: take the containers it gives an image, mark the
 * observation partial, and guess nothing else. Strategic-merge and merge patches are objects;
 * entries with `$patch: delete` remove a container and are ignored. JSON patches (RFC 6902) are
 * arrays of operations; a `replace` of `…/containers/0/image` names no container, so the
 * container is called `containers[0]`.
 */
function fromPatch(body: unknown, resource: RelevantResource, ref: ObjectRef): Extracted | null {
  const kind = RELEVANT_RESOURCES[resource].kind;
  const name = ref.name ?? '';
  let containers: ContainerImage[];
  if (Array.isArray(body)) containers = fromJsonPatch(body, POD_SPEC_POINTER[resource]);
  else if (isObj(body)) {
    const spec = podSpecOf(body, kind);
    if (!spec) return { ...partialBase(kind, name, resource), containers: [] };
    const kept: Loose = {};
    for (const list of Object.keys(LIST_KIND)) {
      const entries = spec[list];
      if (Array.isArray(entries))
        kept[list] = entries.filter((c) => !(isObj(c) && c.$patch === 'delete'));
    }
    containers = containersOfSpec(kept);
  } else return null;
  return { ...partialBase(kind, name, resource), containers };
}

function partialBase(kind: string, name: string, resource: RelevantResource) {
  const isPod = resource === 'pods';
  return {
    // A patch body has no ownerReferences: the workload is the object patched, nothing more.
    workload: { kind, name },
    namespace: null,
    podName: isPod ? name || null : null,
    podUid: null,
    serviceAccount: null,
    node: null,
    partial: true,
  };
}

function fromJsonPatch(ops: unknown[], prefix: string): ContainerImage[] {
  const out: ContainerImage[] = [];
  const add = (list: string, index: string, c: unknown) => {
    const kind = LIST_KIND[list];
    if (!kind) return;
    if (typeof c === 'string') {
      out.push({ name: `${list}[${index}]`, kind, image: c, imageID: null, digest: null });
    } else if (isObj(c) && typeof c.image === 'string') {
      const name = str(c.name) ?? `${list}[${index}]`;
      out.push({ name, kind, image: c.image, imageID: null, digest: null });
    }
  };
  for (const op of ops) {
    if (!isObj(op) || (op.op !== 'add' && op.op !== 'replace')) continue;
    const path = str(op.path);
    if (!path?.startsWith(`${prefix}/`)) continue;
    const parts = path.slice(prefix.length + 1).split('/');
    const [list, index, field] = parts;
    if (!list || !LIST_KIND[list]) continue;
    if (parts.length === 1 && Array.isArray(op.value)) {
      for (const [i, c] of op.value.entries()) add(list, String(i), c);
    } else if (parts.length === 2 && index !== undefined) add(list, index, op.value);
    else if (parts.length === 3 && field === 'image' && index !== undefined)
      add(list, index, op.value);
  }
  return out;
}
