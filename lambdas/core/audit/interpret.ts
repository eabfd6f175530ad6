/**
 * One Kubernetes audit event (`audit.k8s.io/v1`, or the older `v1beta1` shape) → either a pod
 * observation or a named reason why it carries none. Never throws on bad input.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { containersOfSpec, extractContainers, podSpecOf } from '../kube/containers.ts';
import { containersByShape, findPodSpecs } from '../kube/shape.ts';
import { controllerOf, type WorkloadOptions, workloadOf } from '../kube/workload.ts';
import type { Actor, ContainerImage, PodObservation, WorkloadRef } from '../types.ts';
import { actorFromAuditEvent } from './actor.ts';
import { readJsonPatch, readObjectPatch } from './patch.ts';
import {
  isRelevantResource,
  isRelevantVerb,
  RELEVANT_RESOURCES,
  type RelevantResource,
  refRelevance,
} from './rules.ts';

export const SKIP_REASONS = [
  /** Not an audit Event (wrong shape, missing auditID/stage/verb/user/time). A reported failure. */
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
  /** Not a 2xx response. */
  'failed-request',
  /** Logged at Metadata level (or without any object): the images are unknown. */
  'metadata-only',
  /** The object names no container image (e.g. a patch that changes replicas only). */
  'no-containers',
  /**
   * A completed write of a pod or pod-template owner without `responseStatus`: whether it
   * succeeded cannot be told, so it is a reported failure, never a quiet skip.
   */
  'no-response-status',
  /**
   * A pod-template owner resource (deployments, jobs, …) whose objectRef has no `apiGroup`:
   * which API served it cannot be told. A reported failure.
   */
  'no-api-group',
  /**
   * A write that may set an image the event does not show (JSON-patch `copy` / `move` /
   * `test` on a container, an unreadable patch, a body too large to search). A reported failure.
   */
  'image-unknown',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/**
 * Reasons that are failures to report (by auditID), not ordinary skips: each is a write that
 * may have put an image on the cluster which was not judged.
 */
export const FAILURE_REASONS: ReadonlySet<SkipReason> = new Set<SkipReason>([
  'not-audit-event',
  'no-response-status',
  'no-api-group',
  'image-unknown',
]);

export function isReportedFailure(reason: SkipReason): boolean {
  return FAILURE_REASONS.has(reason);
}

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

/** Own property of a parsed event (never one inherited through a hostile `__proto__`). */
function own(o: Loose, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

/**
 * True when a response body *is* the stored object: the resource's kind (or no kind at all)
 * with its pod-spec holder. The apiserver logs the response as transformed for the client, so
 * `?as=Table`, `PartialObjectMetadata`, a `Status` or `{}` are not the object.
 */
function isTheObject(v: unknown, kind: string, ephemeral: boolean): v is Loose {
  if (!isObj(v)) return false;
  const k = own(v, 'kind');
  if (ephemeral && k === 'EphemeralContainers') return true;
  if (k !== undefined && k !== kind) return false;
  return kind === 'PodTemplate' ? isObj(own(v, 'template')) : isObj(own(v, 'spec'));
}

/** A body that could be a whole object for a non-patch write (not a Status or a Table). */
function isObjectBody(v: unknown): v is Loose {
  if (!isObj(v)) return false;
  const k = own(v, 'kind');
  return (
    k !== 'Status' &&
    k !== 'Table' &&
    k !== 'PartialObjectMetadata' &&
    k !== 'PartialObjectMetadataList'
  );
}

const BUILTIN_POD_OWNERS: ReadonlySet<string> = new Set([
  'ReplicaSet',
  'ReplicationController',
  'StatefulSet',
  'DaemonSet',
  'Job',
]);

/** The namespace recorded for a cluster-scoped custom resource judged by shape. */
export const CLUSTER_SCOPED_NAMESPACE = '(cluster)';

export const NOTE_REQUEST_OBJECT =
  'read from the requestObject (the logged response did not carry the object): mutating admission webhooks may have changed what was stored';

/**
 * Interpret one audit event. Rules, in order: valid shape; stage `ResponseComplete`; verb
 * create/update/patch; a pod or pod-template owner resource (pods/ephemeralcontainers as the
 * only subresource), or a custom resource that carries a pod spec (judged by shape); a 2xx
 * response; an object to read: `responseObject` when it is the object (what was stored after
 * mutating admission), else `requestObject` (noted on the finding; for a patch it is partial).
 * Every write that may have set an image we cannot see is a reported failure, not a skip.
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
  if (!observedAt)
    return skip('not-audit-event', `audit event ${e.auditID} has no valid timestamp`);
  if (e.stage !== 'ResponseComplete') return skip('stage', `stage ${e.stage}`);
  if (!isRelevantVerb(e.verb)) return skip('verb', `verb ${e.verb}`);
  const ref = e.objectRef ?? {};
  const resource = ref.resource ?? '';
  const group = ref.apiGroup;
  const sub = ref.subresource;
  const raw = event as Loose;
  const actor = actorFromAuditEvent(event);
  const summaryOf = (kind: string | null, resourceName: string): AuditRequestSummary => ({
    auditID: e.auditID,
    verb: e.verb,
    resource: sub ? `${resourceName}/${sub}` : resourceName,
    namespace: ref.namespace ?? null,
    name: ref.name ?? null,
    workload: ref.name && kind ? { kind, name: ref.name } : null,
    actor,
    observedAt,
  });

  const relevance = refRelevance(resource, sub, group);
  if (relevance === 'if-pod-spec') {
    return byShape(e, raw, resource, group ?? '', summaryOf(null, resource), opts, observedAt);
  }
  if (relevance === 'irrelevant' || !isRelevantResource(resource)) {
    if (isRelevantResource(resource) && sub)
      return skip('subresource', `subresource ${resource}/${sub}`);
    return skip('resource', `resource ${resource || '(none)'} of API group ${group || '(core)'}`);
  }
  const spec = RELEVANT_RESOURCES[resource];
  if (!(spec.groups as readonly string[]).includes(group ?? '')) {
    return skip(
      'no-api-group',
      `audit event ${e.auditID}: ${e.verb} ${resource} without objectRef.apiGroup: cannot tell which API served it`,
      summaryOf(spec.kind, resource),
    );
  }
  const summary = summaryOf(spec.kind, resource);
  const status = statusOf(e, summary);
  if (status) return status;

  const response = own(raw, 'responseObject');
  const request = own(raw, 'requestObject');
  const ephemeral = sub === 'ephemeralcontainers';
  const notes: string[] = [];
  let target: Extracted | null = null;
  if (isTheObject(response, spec.kind, ephemeral)) {
    target = fromObject(response, resource, ref, opts);
  } else if (e.verb !== 'patch' && isObjectBody(request)) {
    target = fromObject(request, resource, ref, opts);
    if (response !== undefined && response !== null) notes.push(NOTE_REQUEST_OBJECT);
  } else if (e.verb === 'patch' && request !== undefined && request !== null) {
    const reading = Array.isArray(request)
      ? readJsonPatch(request, POD_SPEC_POINTER[resource])
      : isObj(request)
        ? readObjectPatch(request, spec.kind)
        : { containers: [], unknown: ['the patch body is neither a JSON patch nor an object'] };
    if (reading.unknown.length > 0) {
      return skip(
        'image-unknown',
        `audit event ${e.auditID}: ${e.verb} ${summary.resource} ${ref.namespace ?? ''}/${ref.name ?? ''}: ${reading.unknown.join('; ')}`,
        summary,
      );
    }
    target = {
      ...partialBase(spec.kind, ref.name ?? '', resource),
      containers: reading.containers,
    };
  } else if (request !== undefined && request !== null) {
    // A logged request body that is no object (an array, a string): the images are in the
    // event but cannot be read.
    return skip(
      'image-unknown',
      `audit event ${e.auditID}: ${e.verb} ${summary.resource}: the requestObject is not an object`,
      summary,
    );
  } else {
    const level = e.level ?? 'unknown';
    return skip(
      'metadata-only',
      `${e.verb} ${summary.resource} logged at level ${level} without an object: images unavailable`,
      summary,
    );
  }
  // Never "no containers" while some body has them: a response that is the object but lists
  // none, next to a request that does, is judged by the request (and says so).
  if (target.containers.length === 0 && e.verb !== 'patch') {
    for (const body of [request, response]) {
      if (!isObjectBody(body)) continue;
      const found = findPodSpecs(body, { skipTopLevel: ['metadata', 'status'] });
      const containers = containersByShape(found);
      if (containers.length > 0) {
        target = { ...target, containers };
        notes.push(
          body === request
            ? NOTE_REQUEST_OBJECT
            : 'containers found by shape in the responseObject',
        );
        break;
      }
    }
  }
  const namespace = ref.namespace || target.namespace;
  if (!namespace)
    return skip(
      'not-audit-event',
      `audit event ${e.auditID}: no namespace in objectRef or object`,
      summary,
    );
  summary.workload = target.workload;
  if (target.containers.length === 0) {
    return skip(
      'no-containers',
      target.partial ? 'the patch sets no container image' : 'the object has no containers',
      summary,
    );
  }
  // Pods of the built-in controllers are created by kube-controller-manager; anyone else
  // creating a pod that names such an owner only claims it (a CRD's operator cannot be told).
  if (
    target.ownerClaim &&
    e.verb === 'create' &&
    !actor.controller &&
    BUILTIN_POD_OWNERS.has(target.ownerClaim.kind)
  ) {
    notes.push(
      `pod ${target.podName ?? ''} claims owner ${target.ownerClaim.kind}/${target.ownerClaim.name} but was created by ${actor.username || '(unknown)'}, not by a workload controller`,
    );
  }
  return observationOf(e, opts, namespace, target, actor, observedAt, notes);
}

function statusOf(e: AuditEvent, summary: AuditRequestSummary): AuditOutcome | null {
  const code = e.responseStatus?.code;
  if (e.responseStatus === undefined || code === undefined) {
    return skip(
      'no-response-status',
      `audit event ${e.auditID}: ${e.verb} ${summary.resource} has no responseStatus code: whether it succeeded cannot be told`,
      summary,
    );
  }
  if (code < 200 || code > 299) return skip('failed-request', `response code ${code}`, summary);
  return null;
}

/**
 * The redelivery key: the auditID alone is chosen by the client (the `Audit-ID` header), so
 * an old ID must not hide a new event. The ID plus a digest of the stage timestamp, the
 * request and every container's image tells a true redelivery from a reused ID.
 */
export function auditEventKey(
  auditID: string,
  stageTimestamp: string,
  request: string,
  containers: readonly ContainerImage[],
): string {
  const hash = createHash('sha256');
  hash.update(`${stageTimestamp}\n${request}\n`);
  for (const c of containers) hash.update(`${c.kind}\0${c.name}\0${c.image}\n`);
  // A long client-chosen ID is stored 50 times per finding: past 128 characters, its digest.
  const id =
    auditID.length <= 128
      ? auditID
      : `sha256-${createHash('sha256').update(auditID).digest('hex').slice(0, 32)}`;
  return `${id}:${hash.digest('hex').slice(0, 16)}`;
}

function observationOf(
  e: AuditEvent,
  opts: InterpretOptions,
  namespace: string,
  target: Extracted,
  actor: Actor,
  observedAt: string,
  notes: string[],
): AuditOutcome {
  const ref = e.objectRef ?? {};
  const request = `${e.verb} ${ref.apiGroup ?? ''}/${ref.resource ?? ''}/${ref.subresource ?? ''} ${namespace}/${ref.name ?? ''}`;
  const stamp = e.stageTimestamp ?? e.requestReceivedTimestamp ?? e.timestamp ?? '';
  const observation: PodObservation = {
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
    eventId: auditEventKey(e.auditID, stamp, request, target.containers),
    partial: target.partial,
  };
  if (notes.length > 0) observation.notes = notes;
  return { kind: 'observation', observation };
}

/** A custom resource (Argo Rollout, Knative Service, …): its pod specs are found by shape. */
function byShape(
  e: AuditEvent,
  raw: Loose,
  resource: string,
  group: string,
  summary: AuditRequestSummary,
  opts: InterpretOptions,
  observedAt: string,
): AuditOutcome {
  const response = own(raw, 'responseObject');
  const request = own(raw, 'requestObject');
  let containers: ContainerImage[] = [];
  const unknown: string[] = [];
  let kind: string | undefined;
  let body: Loose | undefined;
  if (e.verb === 'patch' && Array.isArray(request)) {
    const reading = readJsonPatch(request, null);
    unknown.push(...reading.unknown);
    containers = reading.containers;
  } else {
    for (const candidate of [response, request]) {
      if (!isObjectBody(candidate)) continue;
      const found = findPodSpecs(candidate, { skipTopLevel: ['metadata', 'status'] });
      if (found.truncated) unknown.push(`${resource}.${group} body too large to search`);
      const cs = containersByShape(found, { partial: e.verb === 'patch' && candidate === request });
      if (cs.length > 0) {
        containers = cs;
        kind = str(own(candidate, 'kind'));
        body = candidate;
        break;
      }
    }
  }
  // A custom resource without any pod spec is ordinary traffic, whatever its response.
  if (containers.length === 0 && unknown.length === 0) {
    return skip(
      'resource',
      `resource ${resource} of API group ${group} carries no pod spec`,
      summary,
    );
  }
  const status = statusOf(e, summary);
  if (status) return status;
  if (unknown.length > 0) {
    return skip('image-unknown', `audit event ${e.auditID}: ${unknown.join('; ')}`, summary);
  }
  const ref = e.objectRef ?? {};
  const md = body && isObj(own(body, 'metadata')) ? (own(body, 'metadata') as Loose) : {};
  // A cluster-scoped custom resource (an Argo ClusterWorkflowTemplate) has no namespace: it is
  // recorded under a name no namespace can have (DNS-1123 labels hold no parentheses).
  const namespace = ref.namespace || str(md.namespace) || CLUSTER_SCOPED_NAMESPACE;
  const name = ref.name || str(md.name) || str(md.generateName) || '';
  const workloadKind = kind ?? resource;
  const target: Extracted = {
    workload: { kind: workloadKind, name },
    namespace,
    podName: null,
    podUid: null,
    serviceAccount: null,
    node: null,
    containers,
    partial: e.verb === 'patch',
  };
  summary.workload = target.workload;
  const notes = [
    `kind ${workloadKind} (${resource}.${group}) is not a known pod-template owner: its containers were found by shape`,
  ];
  return observationOf(e, opts, namespace, target, actorFromAuditEvent(raw), observedAt, notes);
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
  /** The owner a pod names in its ownerReferences (what it claims, not a proof). */
  ownerClaim?: { kind: string; name: string } | undefined;
}

type ObjectRef = NonNullable<AuditEvent['objectRef']>;

function fromObject(
  object: Loose,
  resource: RelevantResource,
  ref: ObjectRef,
  opts: WorkloadOptions,
): Extracted {
  const kind = RELEVANT_RESOURCES[resource].kind;
  const md = isObj(own(object, 'metadata')) ? (own(object, 'metadata') as Loose) : {};
  // Creates with generateName have no name in objectRef or requestObject; only the response has
  // it. A bare pod known only by generateName is named by that prefix (stable, never invented).
  const name = str(md.name) || ref.name || str(md.generateName) || '';
  const withName = { ...object, metadata: { ...md, name } };
  // Before Kubernetes 1.23 the ephemeralcontainers subresource took an `EphemeralContainers`
  // object listing only the ephemeral containers: the pod's other containers are not in it.
  if (own(object, 'kind') === 'EphemeralContainers') {
    return {
      workload: { kind: 'Pod', name },
      namespace: str(md.namespace) ?? null,
      podName: name || null,
      podUid: str(md.uid) ?? null,
      serviceAccount: null,
      node: null,
      containers: containersOfSpec({ ephemeralContainers: own(object, 'ephemeralContainers') }),
      partial: true,
    };
  }
  const podSpec = podSpecOf(object, kind);
  const isPod = kind === 'Pod';
  const owner = isPod ? controllerOf(object) : null;
  return {
    workload: workloadOf(withName, opts, kind),
    namespace: str(md.namespace) ?? null,
    podName: isPod ? name || null : null,
    podUid: isPod ? (str(md.uid) ?? null) : null,
    serviceAccount: str(podSpec?.serviceAccountName) ?? null,
    node: isPod ? (str(podSpec?.nodeName) ?? null) : null,
    containers: extractContainers(object, kind),
    partial: false,
    ownerClaim: owner ? { kind: owner.kind, name: owner.name } : undefined,
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
