/**
 * Makes a pod event fit the sink's size limit without losing an image. In order:
 * 1. the event as it is;
 * 2. labels and extra owner references cut down to a budget (the controller reference, which
 *    names the workload, always stays);
 * 3. its containers split across several events with the same pod identity and reason, each
 *    container with its own status (a server reads each part as a sighting of those
 *    containers of that pod);
 * 4. a container that alone does not fit gets its image strings cut with "…" — no valid
 *    reference is longer than a few hundred bytes, so the cut image is still judged, as an
 *    invalid reference, never passed;
 * 5. only a container that still does not fit is dropped, and reported to the caller.
 * Pure: no I/O, sizes are UTF-8 bytes of the JSON.
 */
import type { PodDeletedEvent, PodEvent, TrimmedPod } from '../../lambdas/core/kube/pod-event.ts';

export type FittableEvent = PodEvent | PodDeletedEvent;

export interface DroppedContainer {
  kind: 'container' | 'initContainer' | 'ephemeralContainer';
  name: string;
  bytes: number;
}

export interface FitResult<E extends FittableEvent> {
  events: E[];
  /** True when labels, owners or image strings were cut, or the pod was split. */
  reduced: boolean;
  dropped: DroppedContainer[];
}

/** Label bytes (keys and values) kept when an event is too large. */
export const LABEL_BUDGET = 2048;
/** Bytes of owner references past the controller's kept when an event is too large. */
export const OWNER_BUDGET = 2048;
/** Image strings longer than this are cut when their container alone does not fit. */
export const IMAGE_CUT = 1024;

const bytesOf = (v: unknown): number => Buffer.byteLength(JSON.stringify(v));

type Container = TrimmedPod['spec']['containers'][number];
type Status = NonNullable<NonNullable<TrimmedPod['status']>['containerStatuses']>[number];
type Owner = NonNullable<TrimmedPod['metadata']['ownerReferences']>[number];

const LISTS = [
  ['containers', 'containerStatuses', 'container'],
  ['initContainers', 'initContainerStatuses', 'initContainer'],
  ['ephemeralContainers', 'ephemeralContainerStatuses', 'ephemeralContainer'],
] as const;

interface Unit {
  list: 0 | 1 | 2;
  container: Container;
  statuses: Status[];
  /** A status whose container is not in the spec list: it travels alone, for its digest. */
  orphan: boolean;
  bytes: number;
}

export function fitEvent<E extends FittableEvent>(event: E, maxBytes: number): FitResult<E> {
  if (bytesOf(event) <= maxBytes) return { events: [event], reduced: false, dropped: [] };
  const slim = { ...event, pod: slimPod(event.pod) } as E;
  if (bytesOf(slim) <= maxBytes) return { events: [slim], reduced: true, dropped: [] };
  return split(slim, maxBytes);
}

function slimPod(pod: TrimmedPod): TrimmedPod {
  const metadata = { ...pod.metadata };
  if (metadata.labels) {
    const kept: Record<string, string> = {};
    let used = 0;
    for (const [k, v] of Object.entries(metadata.labels)) {
      const cost = Buffer.byteLength(k) + Buffer.byteLength(v) + 6;
      if (used + cost > LABEL_BUDGET) continue;
      kept[k] = v;
      used += cost;
    }
    metadata.labels = kept;
  }
  if (metadata.ownerReferences && metadata.ownerReferences.length > 0) {
    const refs = metadata.ownerReferences;
    const controller = refs.find((r) => r.controller === true) ?? refs[0];
    const kept: Owner[] = controller ? [controller] : [];
    let used = 0;
    for (const r of refs) {
      if (r === controller) continue;
      const cost = bytesOf(r) + 1;
      if (used + cost > OWNER_BUDGET) break;
      kept.push(r);
      used += cost;
    }
    metadata.ownerReferences = kept;
  }
  return { ...pod, metadata };
}

function unitsOf(pod: TrimmedPod): Unit[] {
  const units: Unit[] = [];
  LISTS.forEach(([specKey, statusKey], i) => {
    const list = i as Unit['list'];
    const byName = new Map<string, Status[]>();
    for (const s of pod.status?.[statusKey] ?? []) {
      const same = byName.get(s.name);
      if (same) same.push(s);
      else byName.set(s.name, [s]);
    }
    for (const container of pod.spec[specKey] ?? []) {
      const own = byName.get(container.name) ?? [];
      byName.delete(container.name);
      units.push(unit(list, container, own, false));
    }
    for (const rest of byName.values()) {
      for (const s of rest) units.push(unit(list, { name: s.name, image: '' }, [s], true));
    }
  });
  return units;
}

function unit(list: Unit['list'], container: Container, statuses: Status[], orphan: boolean): Unit {
  const statusBytes = statuses.reduce((a, s) => a + bytesOf(s) + 1, 0);
  return {
    list,
    container,
    statuses,
    orphan,
    bytes: (orphan ? 0 : bytesOf(container) + 1) + statusBytes,
  };
}

/** The pod with exactly these units' containers and statuses. */
function build(pod: TrimmedPod, units: readonly Unit[]): TrimmedPod {
  const spec: TrimmedPod['spec'] = { ...pod.spec, containers: [] };
  delete spec.initContainers;
  delete spec.ephemeralContainers;
  const status: NonNullable<TrimmedPod['status']> = {};
  if (pod.status?.phase !== undefined) status.phase = pod.status.phase;
  for (const u of units) {
    const [specKey, statusKey] = LISTS[u.list];
    if (!u.orphan) {
      const list = spec[specKey] ?? [];
      list.push(u.container);
      spec[specKey] = list;
    }
    if (u.statuses.length > 0) {
      const list = status[statusKey] ?? [];
      // A loop, not push(...): the count comes from the input.
      for (const st of u.statuses) list.push(st);
      status[statusKey] = list;
    }
  }
  const out: TrimmedPod = { ...pod, spec };
  if (Object.keys(status).length > 0) out.status = status;
  else delete out.status;
  return out;
}

function cut(s: string | undefined): string | undefined {
  if (s === undefined || s.length <= IMAGE_CUT) return s;
  return `${s.slice(0, IMAGE_CUT)}…`;
}

function cutUnit(u: Unit): Unit {
  const container = { ...u.container, image: cut(u.container.image) ?? '' };
  const statuses = u.statuses.map((s) => {
    const c: Status = { ...s };
    if (s.image !== undefined) c.image = cut(s.image) as string;
    if (s.imageID !== undefined) c.imageID = cut(s.imageID) as string;
    return c;
  });
  return unit(u.list, container, statuses, u.orphan);
}

function split<E extends FittableEvent>(event: E, maxBytes: number): FitResult<E> {
  const pod = event.pod;
  // Every key present with empty lists: an upper bound of a part's fixed bytes.
  const shell = {
    ...event,
    pod: {
      ...build(pod, []),
      spec: { ...build(pod, []).spec, initContainers: [], ephemeralContainers: [] },
      status: {
        phase: pod.status?.phase ?? '',
        containerStatuses: [],
        initContainerStatuses: [],
        ephemeralContainerStatuses: [],
      },
    },
  };
  const fixed = bytesOf(shell);
  const room = maxBytes - fixed;
  const parts: Unit[][] = [];
  const dropped: DroppedContainer[] = [];
  let current: Unit[] = [];
  let used = 0;
  for (let u of unitsOf(pod)) {
    if (u.bytes > room) u = cutUnit(u);
    if (u.bytes > room) {
      dropped.push({ kind: LISTS[u.list][2], name: u.container.name, bytes: u.bytes + fixed });
      continue;
    }
    if (used + u.bytes > room && current.length > 0) {
      parts.push(current);
      current = [];
      used = 0;
    }
    current.push(u);
    used += u.bytes;
  }
  if (current.length > 0) parts.push(current);
  // A deleted pod with nothing left still says it is gone.
  if (parts.length === 0 && event.reason === 'deleted') parts.push([]);
  const events = parts.map((units) => ({ ...event, pod: build(pod, units) }) as E);
  return { events, reduced: true, dropped };
}
