/**
 * One Kubernetes audit event (`audit.k8s.io/v1`, or the older `v1beta1` shape) → either a pod
 * observation or a named reason why it carries none. Never throws on bad input.
 */
import * as z from 'zod';
import { containersOfSpec, extractContainers, podSpecOf } from '../kube/containers.ts';
import { containersByShape, findPodSpecs } from '../kube/shape.ts';
import { controllerOf, type WorkloadOptions, workloadOf } from '../kube/workload.ts';
import type { Actor, ContainerImage, PodObservation, WorkloadRef } from '../types.ts';
import { actorFromAuditEvent } from './actor.ts';
import {
  type AuditOutcome,
  type AuditRequestSummary,
  auditEventKey,
  type InterpretOptions,
  skip,
} from './outcome.ts';
import { readJsonPatch, readObjectPatch } from './patch.ts';
import {
  isRelevantResource,
  isRelevantVerb,
  RELEVANT_RESOURCES,
  type RelevantResource,
  refRelevance,
} from './rules.ts';

export {
  type AuditOutcome,
  type AuditRequestSummary,
  auditEventKey,
  FAILURE_REASONS,
  type InterpretOptions,
  isReportedFailure,
  SKIP_REASONS,
  type SkipReason,
} from './outcome.ts';

export const auditEventSchema = z.looseObject({
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

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const optString = (v: unknown) => v === undefined || typeof v === 'string';
const nonEmpty = (v: unknown) => typeof v === 'string' && v.length > 0;

/**
 * True only when `auditEventSchema` accepts `v`: the schema's rules written out, read the
 * way zod reads them, so that valid events (nearly all) skip zod's copying. False sends the
 * event to zod, which decides and names what is wrong; a property test holds the two equal.
 */
export function isPlainAuditEvent(v: unknown): v is AuditEvent {
  if (!isRecord(v)) return false;
  if (v.kind !== undefined && v.kind !== 'Event') return false;
  if (!nonEmpty(v.auditID) || !nonEmpty(v.stage) || !nonEmpty(v.verb)) return false;
  if (!optString(v.level)) return false;
  const user = v.user;
  if (!isRecord(user) || typeof user.username !== 'string') return false;
  const ref = v.objectRef;
  if (ref !== undefined) {
    if (!isRecord(ref)) return false;
    if (!optString(ref.resource) || !optString(ref.subresource)) return false;
    if (!optString(ref.namespace) || !optString(ref.name) || !optString(ref.apiGroup)) return false;
  }
  const status = v.responseStatus;
  if (status !== undefined) {
    if (!isRecord(status)) return false;
    const code = status.code;
    if (code !== undefined && !(typeof code === 'number' && Number.isFinite(code))) return false;
  }
  return (
    optString(v.stageTimestamp) && optString(v.requestReceivedTimestamp) && optString(v.timestamp)
  );
}

/** The event as the schema reads it, or why it is not one. */
function parseAuditEvent(
  v: unknown,
): { ok: true; event: AuditEvent } | { ok: false; where: string } {
  if (isPlainAuditEvent(v)) return { ok: true, event: v };
  const parsed = auditEventSchema.safeParse(v);
  if (parsed.success) return { ok: true, event: parsed.data };
  const issue = parsed.error.issues[0];
  return {
    ok: false,
    where: issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid',
  };
}

type Loose = Record<string, unknown>;
const isObj = (v: unknown): v is Loose => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function observedAtOf(e: AuditEvent): string | null {
  return isoTime(e.stageTimestamp) ?? isoTime(e.requestReceivedTimestamp) ?? isoTime(e.timestamp);
}

function isoTime(t: string | undefined): string | null {
  if (t === undefined) return null;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
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
  const parsed = parseAuditEvent(event);
  if (!parsed.ok) return skip('not-audit-event', `not an audit event (${parsed.where})`);
  const e = parsed.event;
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
    for (const x of reading.unknown) unknown.push(x);
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
