/**
 * The ingest services: the same code behind local mode's HTTP routes and the Lambda handlers.
 * Each takes a batch of raw records, validates and evaluates each on its own, records findings,
 * and reports per record: one invalid record fails only itself (`failed`, permanent: retrying
 * cannot help). Errors of the stores (a throttled or unreachable table) propagate, so the
 * caller retries the batch; that is safe because a finding counts each event id once.
 */

import type { AppliedPlan } from '../adapters/dynamodb/inventory.ts';
import { interpretAuditEvent, isReportedFailure } from '../core/audit/interpret.ts';
import { isRelevantResource, RELEVANT_RESOURCES } from '../core/audit/rules.ts';
import { auditDeletion } from '../core/audit-delete.ts';
import { ValidationError } from '../core/errors.ts';
import {
  type ContainerVerdict,
  candidatesFromVerdicts,
  type Decider,
  judgeObservation,
} from '../core/evaluate.ts';
import {
  entryId,
  type InventoryEntry,
  type InventoryEvent,
  workloadKey,
} from '../core/inventory.ts';
import { observationFromPodEvent } from '../core/kube/observation.ts';
import { podEventSchema, type ResyncCompleteEvent } from '../core/kube/pod-event.ts';
import type { FindingCandidate, PodObservation, WorkloadRef } from '../core/types.ts';
import { shouldAlert } from './alerting.ts';
import { Lanes } from './ingest-lanes.ts';
import type { IngestDeps } from './ports.ts';
import { emptyReconcileReport, scanVerdict, settleAppliedPlan } from './reconcile.ts';
import { resolveOrphanedFindings } from './resync-orphans.ts';

export interface RecordFailure {
  /** Position of the record in the batch. */
  index: number;
  error: string;
}

export interface IngestReport {
  received: number;
  /** Records evaluated (whether or not they produced findings). */
  evaluated: number;
  /** Records that could not matter or carried nothing to evaluate, by reason. */
  skipped: Record<string, number>;
  failed: RecordFailure[];
  findings: {
    new: number;
    reopened: number;
    repeat: number;
    duplicate: number;
    /** Findings the inventory change auto-resolved (set only when some were). */
    resolved?: number;
  };
}

export function emptyReport(received = 0): IngestReport {
  return {
    received,
    evaluated: 0,
    skipped: {},
    failed: [],
    findings: { new: 0, reopened: 0, repeat: 0, duplicate: 0 },
  };
}

export { atLeast, shouldAlert } from './alerting.ts';

/** Upserts candidates, tallies outcomes and notifies the alert port for new/reopened ones. */
export async function recordCandidates(
  candidates: readonly FindingCandidate[],
  deps: IngestDeps,
  report: IngestReport,
): Promise<void> {
  const now = deps.clock();
  for (const candidate of candidates) {
    const result = await deps.findings.upsert(candidate, {
      now,
      ...(deps.ttlDays === undefined ? {} : { ttlDays: deps.ttlDays }),
    });
    if (!result.counted) report.findings.duplicate++;
    else report.findings[result.outcome]++;
    if (deps.alerts && shouldAlert(result, deps.minAlertSeverity)) await deps.alerts.notify(result);
  }
}

/** How an observation updates the inventory: a running pod, or a workload's own template. */
export type InventoryRole =
  | { type: 'pod'; resyncId?: string | undefined }
  | { type: 'template' }
  | { type: 'none' };

/** Inventory steps of different workloads that may run at once within one batch. */
const LANE_WIDTH = 8;

/**
 * Evaluates one observation against the current allowlist and records its findings. Its
 * inventory step runs in `lanes` (the batch's; without, its own), beside the findings writes:
 * the two touch different findings (the step resolves only rules the new verdict dropped and
 * entries of other images), and the step's lane keeps one workload's events in order. The
 * caller drains the lanes before it answers. A record whose finding the store refuses still
 * has its inventory step: the pod did run.
 */
export async function processObservation(
  obs: PodObservation,
  deps: IngestDeps,
  report: IngestReport,
  role: InventoryRole = { type: 'none' },
  lanes?: Lanes,
  index = 0,
): Promise<void> {
  const key = workloadKey(obs.cluster, obs.namespace, obs.workload);
  const own = lanes ?? new Lanes(1);
  // The workload's previous step first: its findings and inventory stay in the batch's order.
  await own.ready(key);
  const decider = await deps.allowlist.current();
  // Live events are judged by the allowlist as it is now.
  const now = deps.clock();
  const verdicts = judgeObservation(obs, decider, now);
  await verifySignatures(obs, verdicts, decider, now, deps);
  await addVulnerabilities(verdicts, deps);
  report.evaluated++;
  const inventory = deps.inventory;
  if (inventory && role.type !== 'none') {
    const decisions = verdicts.map((v) => v.decision);
    const event: InventoryEvent =
      role.type === 'pod'
        ? { type: 'pod', observation: obs, decisions, resyncId: role.resyncId }
        : { type: 'template', observation: obs, decisions };
    // The cluster's resync marker is shared by every workload: it is written here, in the
    // batch's order, not in the workload's lane, where workloads overtake each other (a
    // differential test found a later pass's start overwritten by an earlier one's).
    if (role.type === 'pod' && role.resyncId !== undefined) {
      await inventory.store.resyncStarted(obs.cluster, role.resyncId, obs.observedAt);
    }
    own.start(
      key,
      failsRecord(index, report, async () => {
        const applied = await inventory.store.applyToWorkload(
          obs.cluster,
          obs.namespace,
          obs.workload,
          event,
        );
        await settle(applied, deps, report);
      }),
    );
  }
  try {
    await recordCandidates(candidatesFromVerdicts(obs, verdicts), deps, report);
  } finally {
    if (!lanes) await own.settle();
  }
  if (!lanes) {
    await own.drain();
    await deps.inventory?.store.flush?.();
  }
}

/**
 * A lane step whose `ValidationError` (a record the store refuses) fails record `index`
 * alone, as it would inline; any other error fails the batch.
 */
function failsRecord(
  index: number,
  report: IngestReport,
  step: () => Promise<void>,
): () => Promise<void> {
  return async () => {
    try {
      await step();
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      report.failed.push({ index, error: `not recorded: ${error.message}` });
    }
  };
}

/** Decides again, with verified signatures, the containers whose rules require them. */
async function verifySignatures(
  obs: PodObservation,
  verdicts: ContainerVerdict[],
  decider: Decider,
  now: Date,
  deps: IngestDeps,
): Promise<void> {
  const { signatures } = deps;
  if (!signatures) return;
  const scope = { cluster: obs.cluster, namespace: obs.namespace };
  for (const verdict of verdicts) {
    if (!verdict.decision.signatureChecks) continue;
    verdict.decision = await signatures.decide(
      decider,
      verdict.container.image,
      scope,
      now,
      verdict.container.digest,
    );
  }
}

/** Resolves what an inventory change ended and tallies it. */
async function settle(applied: AppliedPlan, deps: IngestDeps, report: IngestReport): Promise<void> {
  if (!deps.inventory) return;
  const done = emptyReconcileReport();
  await settleAppliedPlan(applied, { findings: deps.inventory.findings, clock: deps.clock }, done);
  const resolved = Object.values(done.resolved).reduce((a, b) => a + b, 0);
  if (resolved > 0) report.findings.resolved = (report.findings.resolved ?? 0) + resolved;
}

/** A pod gone (forwarder `deleted`, audit `delete pods`): its entries lose it. */
async function podGone(
  cluster: string,
  namespace: string,
  podName: string,
  workload: WorkloadRef | null,
  observedAt: string,
  deps: IngestDeps,
  report: IngestReport,
  lanes: Lanes,
): Promise<void> {
  if (!deps.inventory) return;
  const event: InventoryEvent = { type: 'pod-gone', podName, observedAt };
  const store = deps.inventory.store;
  if (workload) {
    const key = workloadKey(cluster, namespace, workload);
    await lanes.ready(key);
    lanes.start(key, async () => {
      await settle(await store.applyToWorkload(cluster, namespace, workload, event), deps, report);
    });
    return;
  }
  // The workload is unknown (a Metadata-level audit delete): find the pod in its namespace,
  // after every earlier step (one of them may have added it).
  await lanes.ready();
  const found = [];
  for await (const s of store.query({ cluster, namespace }))
    if (s.entry.pods.includes(podName)) found.push(s.entry);
  if (found.length > 0) await settle(await store.applyToFound(found, event), deps, report);
}

/** A whole workload deleted (audit `delete`): every entry of it goes. */
async function workloadGone(
  cluster: string,
  deletion: { namespace: string; workload: WorkloadRef; observedAt: string },
  deps: IngestDeps,
  report: IngestReport,
  lanes: Lanes,
): Promise<void> {
  const inventory = deps.inventory;
  if (!inventory) return;
  const key = workloadKey(cluster, deletion.namespace, deletion.workload);
  await lanes.ready(key);
  lanes.start(key, async () => {
    const applied = await inventory.store.applyToWorkload(
      cluster,
      deletion.namespace,
      deletion.workload,
      { type: 'workload-gone', observedAt: deletion.observedAt },
    );
    await settle(applied, deps, report);
  });
}

/**
 * Runs `body` over the batch's lanes: waits for every step before answering (also when
 * `body` throws), flushes the inventory's deferred writes, and lists failures in record order
 * (lane steps finish in any order).
 */
async function withLanes(
  report: IngestReport,
  deps: IngestDeps,
  body: (lanes: Lanes) => Promise<void>,
): Promise<IngestReport> {
  const lanes = new Lanes(LANE_WIDTH);
  try {
    await body(lanes);
    await lanes.drain();
  } finally {
    await lanes.settle();
  }
  // A deferring adapter's writes are durable before the batch is answered.
  await deps.inventory?.store.flush?.();
  report.failed.sort((a, b) => a.index - b.index);
  return report;
}

/**
 * `processObservation`, where a `ValidationError` from the store (a finding it refuses, e.g.
 * one too large to store) fails this record alone; any other error still propagates so the
 * caller retries the batch.
 */
async function processOrFail(
  obs: PodObservation,
  deps: IngestDeps,
  report: IngestReport,
  index: number,
  role: InventoryRole,
  lanes: Lanes | undefined,
): Promise<void> {
  try {
    await processObservation(obs, deps, report, role, lanes, index);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    report.failed.push({ index, error: `not recorded: ${error.message}` });
  }
}

/** Adds `vulnerable-image` / `scan-missing` to containers whose digest's scan says so. */
async function addVulnerabilities(verdicts: ContainerVerdict[], deps: IngestDeps): Promise<void> {
  const { images, vulnerableThreshold } = deps;
  if (!images || !vulnerableThreshold) return;
  for (const verdict of verdicts) {
    const reference = verdict.decision.reference;
    const digest = verdict.container.digest ?? reference?.digest;
    if (!digest) continue;
    const record = await images.lookup(digest, reference?.name ?? null);
    const violation = record ? scanVerdict(record, vulnerableThreshold) : null;
    if (!violation) continue;
    verdict.decision = {
      ...verdict.decision,
      allowed: false,
      violations: [...verdict.decision.violations, violation],
    };
  }
}

/**
 * Forwarder pod events (the `/v1/pod-events` body, or EventBridge `detail`s). Sightings
 * (`added`, `running`, `resync`) are evaluated; `deleted` and `resync-complete` change no
 * finding yet: they are acknowledged and counted in `skipped` under their reason.
 */
export async function ingestPodEvents(
  records: readonly unknown[],
  deps: IngestDeps,
): Promise<IngestReport> {
  const report = emptyReport(records.length);
  return withLanes(report, deps, async (lanes) => {
    for (const [index, record] of records.entries()) {
      // Not an object at all: named without zod, whose error objects cost ~10 µs each (a body
      // of a million such records took seconds).
      if (record === null || typeof record !== 'object' || Array.isArray(record)) {
        const kind = record === null ? 'null' : Array.isArray(record) ? 'array' : typeof record;
        report.failed.push({
          index,
          error: `invalid pod event: (root): expected an object, got ${kind}`,
        });
        continue;
      }
      const parsed = podEventSchema.safeParse(record);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        report.failed.push({
          index,
          error: `invalid pod event: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`,
        });
        continue;
      }
      const event = parsed.data;
      if (event.reason === 'resync-complete') {
        await lanes.ready(); // every sighting of the pass first
        await resyncComplete(event, deps, report);
        continue;
      }
      const obs = observationFromPodEvent(event);
      if (event.reason === 'deleted') {
        report.evaluated++;
        await podGone(
          obs.cluster,
          obs.namespace,
          event.pod.metadata.name,
          obs.workload,
          event.observedAt,
          deps,
          report,
          lanes,
        );
        continue;
      }
      const resyncId = event.reason === 'resync' ? event.resyncId : undefined;
      await processOrFail(obs, deps, report, index, { type: 'pod', resyncId }, lanes);
    }
  });
}

/**
 * The end of a forwarder resync pass: forwarder entries of the cluster it did not see go, and
 * active findings no entry holds (seen before the pass began) are resolved.
 */
async function resyncComplete(
  event: ResyncCompleteEvent,
  deps: IngestDeps,
  report: IngestReport,
): Promise<void> {
  report.evaluated++;
  if (!deps.inventory) return;
  const store = deps.inventory.store;
  const startedAt = await store.resyncStart(event.cluster, event.resyncId);
  const found: InventoryEntry[] = [];
  const held = new Set<string>();
  for await (const s of store.query({ cluster: event.cluster })) {
    if (s.entry.sources.includes('forwarder') && s.entry.resyncId !== event.resyncId)
      found.push(s.entry);
    held.add(entryId(s.entry));
  }
  if (found.length > 0) {
    const applied = await store.applyToFound(found, {
      type: 'resync-complete',
      resyncId: event.resyncId,
      startedAt,
      observedAt: event.observedAt,
    });
    for (const { entry } of applied.removals) held.delete(entryId(entry));
    await settle(applied, deps, report);
  }
  // Without the pass's start (its first event went to another table, or was lost) there is
  // no bound that keeps a sighting made during the pass from looking orphaned: nothing.
  if (startedAt === null) return;
  const { resolved } = await resolveOrphanedFindings({
    cluster: event.cluster,
    passStartedAt: startedAt,
    held,
    findings: deps.inventory.findings,
    stillHeld: async (f) => (await store.get(f.cluster, f.namespace, f.workload, f)) !== undefined,
    now: deps.clock(),
  });
  if (resolved > 0) report.findings.resolved = (report.findings.resolved ?? 0) + resolved;
}

/** How an audit observation updates the inventory (from the event's own objectRef). */
export function auditRole(event: unknown, obs: PodObservation): InventoryRole {
  const ref = (event as { objectRef?: { resource?: unknown } }).objectRef;
  const resource = typeof ref?.resource === 'string' ? ref.resource : '';
  if (resource === 'pods') return obs.podName ? { type: 'pod' } : { type: 'none' };
  if (!isRelevantResource(resource)) return { type: 'none' };
  // A ReplicaSet its Deployment owns is not the Deployment's desired state (old ones linger).
  return RELEVANT_RESOURCES[resource].kind === obs.workload.kind
    ? { type: 'template' }
    : { type: 'none' };
}

/** Audit events of one cluster (webhook `EventList` items, CloudWatch log events, JSON lines). */
export async function ingestAuditEvents(
  events: readonly unknown[],
  cluster: string,
  deps: IngestDeps,
): Promise<IngestReport> {
  const report = emptyReport(events.length);
  return withLanes(report, deps, async (lanes) => {
    for (const [index, event] of events.entries()) {
      const outcome = interpretAuditEvent(event, { cluster });
      if (outcome.kind === 'skipped' && outcome.reason === 'verb' && deps.inventory) {
        const deletion = auditDeletion(event);
        if (deletion) {
          report.evaluated++;
          if (deletion.kind === 'pod') {
            await podGone(
              cluster,
              deletion.namespace,
              deletion.podName,
              deletion.workload,
              deletion.observedAt,
              deps,
              report,
              lanes,
            );
          } else await workloadGone(cluster, deletion, deps, report, lanes);
          continue;
        }
      }
      if (outcome.kind === 'skipped') {
        // A write whose images could not be judged is a failure to report, never a quiet skip.
        if (isReportedFailure(outcome.reason))
          report.failed.push({ index, error: `${outcome.reason}: ${outcome.detail}` });
        else report.skipped[outcome.reason] = (report.skipped[outcome.reason] ?? 0) + 1;
        continue;
      }
      await processOrFail(
        outcome.observation,
        deps,
        report,
        index,
        auditRole(event, outcome.observation),
        lanes,
      );
    }
  });
}
