/**
 * The ingest services: the same code behind local mode's HTTP routes and the Lambda handlers.
 * Each takes a batch of raw records, validates and evaluates each on its own, records findings,
 * and reports per record: one invalid record fails only itself (`failed`, permanent: retrying
 * cannot help). Errors of the stores (a throttled or unreachable table) propagate, so the
 * caller retries the batch; that is safe because a finding counts each event id once.
 */
import { interpretAuditEvent, isReportedFailure } from '../core/audit/interpret.ts';
import { ValidationError } from '../core/errors.ts';
import {
  type ContainerVerdict,
  candidatesFromVerdicts,
  judgeObservation,
} from '../core/evaluate.ts';
import { observationFromPodEvent } from '../core/kube/observation.ts';
import { podEventSchema } from '../core/kube/pod-event.ts';
import { vulnerabilityVerdict } from '../core/registry/vulnerability.ts';
import {
  type FindingCandidate,
  type PodObservation,
  SEVERITIES,
  type Severity,
  type UpsertResult,
} from '../core/types.ts';
import type { IngestDeps } from './ports.ts';

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
  findings: { new: number; reopened: number; repeat: number; duplicate: number };
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

export function atLeast(severity: Severity, minimum: Severity): boolean {
  return SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(minimum);
}

/** Whether an upsert result should alert: only new and reopened findings, above the minimum. */
export function shouldAlert(result: UpsertResult, minimum: Severity): boolean {
  return (
    result.counted &&
    (result.outcome === 'new' || result.outcome === 'reopened') &&
    atLeast(result.finding.severity, minimum)
  );
}

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

/** Evaluates one observation against the current allowlist and records its findings. */
export async function processObservation(
  obs: PodObservation,
  deps: IngestDeps,
  report: IngestReport,
): Promise<void> {
  const decider = await deps.allowlist.current();
  // Live events are judged by the allowlist as it is now.
  const verdicts = judgeObservation(obs, decider, deps.clock());
  await addVulnerabilities(verdicts, deps);
  report.evaluated++;
  await recordCandidates(candidatesFromVerdicts(obs, verdicts), deps, report);
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
): Promise<void> {
  try {
    await processObservation(obs, deps, report);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    report.failed.push({ index, error: `not recorded: ${error.message}` });
  }
}

/** Adds `vulnerable-image` to containers that run a digest the Images table knows is vulnerable. */
async function addVulnerabilities(verdicts: ContainerVerdict[], deps: IngestDeps): Promise<void> {
  const { images, vulnerableThreshold } = deps;
  if (!images || !vulnerableThreshold) return;
  for (const verdict of verdicts) {
    const reference = verdict.decision.reference;
    const digest = verdict.container.digest ?? reference?.digest;
    if (!digest) continue;
    const record = await images.lookup(digest, reference?.name ?? null);
    const violation = record ? vulnerabilityVerdict(record, vulnerableThreshold) : null;
    if (!violation) continue;
    verdict.decision = {
      ...verdict.decision,
      allowed: false,
      violations: [...verdict.decision.violations, violation],
    };
  }
}

/** Forwarder pod events (the `/v1/pod-events` body, or EventBridge `detail`s). */
export async function ingestPodEvents(
  records: readonly unknown[],
  deps: IngestDeps,
): Promise<IngestReport> {
  const report = emptyReport(records.length);
  for (const [index, record] of records.entries()) {
    const parsed = podEventSchema.safeParse(record);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      report.failed.push({
        index,
        error: `invalid pod event: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`,
      });
      continue;
    }
    await processOrFail(observationFromPodEvent(parsed.data), deps, report, index);
  }
  return report;
}

/** Audit events of one cluster (webhook `EventList` items, CloudWatch log events, JSON lines). */
export async function ingestAuditEvents(
  events: readonly unknown[],
  cluster: string,
  deps: IngestDeps,
): Promise<IngestReport> {
  const report = emptyReport(events.length);
  for (const [index, event] of events.entries()) {
    const outcome = interpretAuditEvent(event, { cluster });
    if (outcome.kind === 'skipped') {
      // A write whose images could not be judged is a failure to report, never a quiet skip.
      if (isReportedFailure(outcome.reason))
        report.failed.push({ index, error: `${outcome.reason}: ${outcome.detail}` });
      else report.skipped[outcome.reason] = (report.skipped[outcome.reason] ?? 0) + 1;
      continue;
    }
    await processOrFail(outcome.observation, deps, report, index);
  }
  return report;
}
