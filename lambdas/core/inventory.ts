/**
 * The inventory: what runs (or is declared to run) where. One entry per cluster + namespace +
 * workload + container + normalised reference. Pure planning: given the stored entries of one
 * workload and one event, say which entries to write and which to remove (and why). The store
 * (`adapters/dynamodb/inventory.ts`) applies the plan; the reconciler turns removals into
 * auto-resolutions. docs/reconciliation.md describes the state model.
 */
import { isControllerActor } from './lifecycle.ts';
import type {
  Actor,
  AutoResolutionReason,
  ContainerImage,
  ContainerKind,
  Decision,
  PodObservation,
  Severity,
  ViolationRule,
  WorkloadRef,
} from './types.ts';

export const INVENTORY_SOURCES = ['audit', 'forwarder'] as const;
export type InventorySource = (typeof INVENTORY_SOURCES)[number];

/** At most this many pod names an entry lists; beyond it, the count is still right. */
export const MAX_PODS_LISTED = 500;
/** At most this many digests an entry remembers (most recent last). */
export const MAX_DIGESTS = 20;

/** Rules that come from the scan of the digest, not from the allowlist. */
export const SCAN_RULES: readonly ViolationRule[] = ['vulnerable-image', 'scan-missing'];

export interface JudgedViolation {
  rule: ViolationRule;
  severity: Severity;
}

export interface InventoryEntry {
  cluster: string;
  namespace: string;
  workload: WorkloadRef;
  container: string;
  containerKind: ContainerKind;
  /** The image as written in the spec. */
  image: string;
  /** Normalised reference, or null when the image does not parse (then `image` keys it). */
  reference: string | null;
  /** `domain/path` of the reference, or null. */
  repository: string | null;
  /** The registry host that was judged (after pull-through-cache mapping), or null. */
  registry: string | null;
  /** Digests seen running, oldest first (bounded); the last one is the current. */
  digests: string[];
  sources: InventorySource[];
  firstSeen: string;
  lastSeen: string;
  /** Username of the last person (or, failing one, controller) who changed it. */
  actor: string | null;
  /** Pod names currently running it (when known). */
  pods: string[];
  /** True while the workload's own template (its desired state) names this image. */
  template: boolean;
  /** The verdict last recorded for it: the rules its active findings are for. */
  violations: JudgedViolation[];
  /** The forwarder resync pass that last saw it, and when the forwarder last saw it. */
  resyncId?: string | undefined;
  forwarderSeenAt?: string | undefined;
}

/** The partition of a workload's entries. */
export function workloadKey(cluster: string, namespace: string, workload: WorkloadRef): string {
  return `${cluster}#${namespace}#${workload.kind}#${workload.name}`;
}

/** The sort key of one entry in its workload partition. */
export function entryKey(e: Pick<InventoryEntry, 'container' | 'reference' | 'image'>): string {
  return `${e.container}#${e.reference ?? e.image}`;
}

/** The full identity of an entry (or of a finding's container), for maps and logs. */
export function entryId(
  e: Pick<InventoryEntry, 'cluster' | 'namespace' | 'workload' | 'container' | 'image'> & {
    reference: string | null;
  },
): string {
  return `${workloadKey(e.cluster, e.namespace, e.workload)}#${entryKey(e)}`;
}

/** What happened, as the planner sees it. */
export type InventoryEvent =
  /** A pod exists and runs these containers (forwarder added/running/resync; audit pod write). */
  | {
      type: 'pod';
      observation: PodObservation;
      decisions: readonly Decision[];
      resyncId?: string | undefined;
    }
  /** The workload's own template was written: its desired state (a patch names only some). */
  | { type: 'template'; observation: PodObservation; decisions: readonly Decision[] }
  /** A pod is gone (forwarder `deleted`, audit `delete pods`). */
  | { type: 'pod-gone'; podName: string; observedAt: string }
  /** The workload itself was deleted. */
  | { type: 'workload-gone'; observedAt: string }
  /** A forwarder resync pass ended: entries it did not see lose their forwarder pods. */
  | { type: 'resync-complete'; resyncId: string; startedAt: string | null; observedAt: string };

export interface Removal {
  entry: InventoryEntry;
  reason: AutoResolutionReason;
}

export interface InventoryPlan {
  /** Entries to write as given (new or changed). */
  upserts: InventoryEntry[];
  removals: Removal[];
}

/** JSON-patch bodies name containers by position (`containers[0]`): no container identity. */
function isPositional(name: string): boolean {
  return /\[\d+\]$/.test(name);
}

function laterTime(a: string, b: string): string {
  return Date.parse(b) > Date.parse(a) ? b : a;
}
function earlierTime(a: string, b: string): string {
  return Date.parse(b) < Date.parse(a) ? b : a;
}

function pickActor(current: string | null, actor: Actor | null): string | null {
  if (!actor) return current;
  // A controller never hides the person who last changed the workload.
  if (isControllerActor(actor) && current !== null) return current;
  return actor.username;
}

function addUnique<T>(list: readonly T[], value: T, max: number): T[] {
  if (list.includes(value)) return [...list];
  return [...list, value].slice(-max);
}

function violationsOf(decision: Decision): JudgedViolation[] {
  return decision.violations.map((v) => ({ rule: v.rule, severity: v.severity }));
}

/**
 * The registry host an entry is filed under (the `byRegistry` index): the host it is judged
 * as, so the upstream of a pull-through-cache name. It follows the allowlist's
 * `pullThroughCache`, so every sighting and every re-judgement sets it again.
 */
export function judgedRegistry(d: Pick<Decision, 'judged' | 'reference'>): string | null {
  return (d.judged ?? d.reference)?.domain.toLowerCase() ?? null;
}

function freshEntry(obs: PodObservation, c: ContainerImage, d: Decision): InventoryEntry {
  return {
    cluster: obs.cluster,
    namespace: obs.namespace,
    workload: { kind: obs.workload.kind, name: obs.workload.name },
    container: c.name,
    containerKind: c.kind,
    image: c.image,
    reference: d.reference?.string ?? null,
    repository: d.reference?.name ?? null,
    registry: judgedRegistry(d),
    digests: [],
    sources: [],
    firstSeen: obs.observedAt,
    lastSeen: obs.observedAt,
    actor: null,
    pods: [],
    template: false,
    violations: [],
  };
}

/** Folds one sighting of a container into its entry (new or existing); returns a copy. */
function sighted(
  existing: InventoryEntry | undefined,
  obs: PodObservation,
  c: ContainerImage,
  d: Decision,
): InventoryEntry {
  const base = existing ? structuredClone(existing) : freshEntry(obs, c, d);
  const source: InventorySource = obs.source === 'forwarder' ? 'forwarder' : 'audit';
  base.sources = addUnique(base.sources, source, INVENTORY_SOURCES.length);
  base.firstSeen = earlierTime(base.firstSeen, obs.observedAt);
  const latest = Date.parse(obs.observedAt) >= Date.parse(base.lastSeen);
  base.lastSeen = laterTime(base.lastSeen, obs.observedAt);
  const digest = c.digest ?? d.reference?.digest ?? null;
  if (digest && (latest || !base.digests.includes(digest))) {
    base.digests = [...base.digests.filter((x) => x !== digest), digest].slice(-MAX_DIGESTS);
  }
  // Judged by the allowlist in force now: a `pullThroughCache` change moves it to its new host.
  base.registry = judgedRegistry(d);
  if (latest) {
    base.image = c.image;
    base.containerKind = c.kind;
    base.actor = pickActor(base.actor, obs.actor);
  } else if (base.actor === null && obs.actor) base.actor = obs.actor.username;
  const judged = violationsOf(d);
  // A sighting that knows no digest cannot judge the scan of the digest that runs: keep it.
  const kept = digest ? [] : base.violations.filter((v) => SCAN_RULES.includes(v.rule));
  base.violations = [...judged.filter((v) => !kept.some((k) => k.rule === v.rule)), ...kept];
  return base;
}

const keyOfContainer = (c: ContainerImage, d: Decision) =>
  `${c.name}#${d.reference?.string ?? c.image}`;

/**
 * The plan for one event against the stored entries of its workload (`existing`; for
 * `resync-complete` and `pod-gone` without a known workload, whatever entries the caller
 * found). An entry lives while its template names it or a pod runs it.
 */
export function planInventory(
  existing: readonly InventoryEntry[],
  event: InventoryEvent,
): InventoryPlan {
  const byKey = new Map(existing.map((e) => [entryKey(e), e]));
  const upserts = new Map<string, InventoryEntry>();
  const removals: Removal[] = [];
  const current = (key: string) => upserts.get(key) ?? byKey.get(key);
  const settle = (entry: InventoryEntry, reason: AutoResolutionReason) => {
    const key = entryKey(entry);
    if (!entry.template && entry.pods.length === 0) {
      upserts.delete(key);
      if (byKey.has(key)) removals.push({ entry, reason });
    } else upserts.set(key, entry);
  };

  if (event.type === 'pod' || event.type === 'template') {
    const obs = event.observation;
    const named = new Map<string, string>(); // container name → key it runs now
    obs.containers.forEach((c, i) => {
      const d = event.decisions[i];
      if (!d || isPositional(c.name)) return;
      const key = keyOfContainer(c, d);
      named.set(c.name, key);
      const entry = sighted(current(key), obs, c, d);
      if (event.type === 'pod' && obs.podName) {
        entry.pods = addUnique(entry.pods, obs.podName, MAX_PODS_LISTED);
        if (obs.source === 'forwarder') {
          entry.forwarderSeenAt = laterTime(
            entry.forwarderSeenAt ?? obs.observedAt,
            obs.observedAt,
          );
          if (event.resyncId !== undefined) entry.resyncId = event.resyncId;
        }
      }
      if (event.type === 'template') entry.template = true;
      upserts.set(key, entry);
    });
    // What this event says no longer holds: the pod (or the template) ran another image in a
    // container it names; a full template also drops containers it no longer has.
    for (const entry of existing) {
      const key = entryKey(entry);
      if (upserts.has(key)) continue;
      const now = named.get(entry.container);
      const replaced = now !== undefined && now !== key;
      if (event.type === 'pod') {
        if (!replaced || !obs.podName || !entry.pods.includes(obs.podName)) continue;
        const next = structuredClone(entry);
        next.pods = next.pods.filter((p) => p !== obs.podName);
        settle(next, 'no-longer-running');
      } else {
        const dropped = !obs.partial && now === undefined;
        if (!entry.template || !(replaced || dropped)) continue;
        const next = structuredClone(entry);
        next.template = false;
        next.lastSeen = laterTime(next.lastSeen, obs.observedAt);
        settle(next, 'no-longer-running');
      }
    }
  } else if (event.type === 'pod-gone') {
    for (const entry of existing) {
      if (!entry.pods.includes(event.podName)) continue;
      const next = structuredClone(entry);
      next.pods = next.pods.filter((p) => p !== event.podName);
      next.lastSeen = laterTime(next.lastSeen, event.observedAt);
      settle(next, 'no-longer-running');
    }
  } else if (event.type === 'workload-gone') {
    for (const entry of existing) removals.push({ entry, reason: 'workload-deleted' });
  } else {
    const started = event.startedAt === null ? null : Date.parse(event.startedAt);
    for (const entry of existing) {
      if (!entry.sources.includes('forwarder') || entry.resyncId === event.resyncId) continue;
      // Seen live after the pass began (an `added` during the pass): not missed.
      const seenAt = entry.forwarderSeenAt ? Date.parse(entry.forwarderSeenAt) : 0;
      if (started !== null && seenAt >= started) continue;
      const next = structuredClone(entry);
      next.pods = [];
      next.sources = next.sources.filter((s) => s !== 'forwarder');
      delete next.resyncId;
      delete next.forwarderSeenAt;
      if (next.sources.length === 0) next.template = false;
      settle(next, 'no-longer-running');
    }
  }
  return { upserts: [...upserts.values()], removals };
}

/** JSON with object keys sorted: stored items come back in any key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) =>
            a < b ? -1 : a > b ? 1 : 0,
          ),
        )
      : v,
  );
}

/** Whether two entries differ in anything worth a write. */
export function entryChanged(a: InventoryEntry | undefined, b: InventoryEntry): boolean {
  return a === undefined || canonical(a) !== canonical(b);
}
