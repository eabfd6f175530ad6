/**
 * The local ingest's routes: each turns a request body into records and hands them to the same
 * service code the Lambdas run (`ingestPodEvents`, `ingestAuditEvents`, the registry service).
 * One bad record fails itself only: the others are evaluated and stored, and the report lists
 * the bad ones by index.
 */
import { Readable } from 'node:stream';
import { newReaderStats, readAuditLog } from '../adapters/auditlog/reader.ts';
import { ValidationError } from '../core/errors.ts';
import { parseRegistryEvent } from '../core/registry/events.ts';
import type { UpsertResult } from '../core/types.ts';
import {
  emptyReport,
  type IngestReport,
  ingestAuditEvents,
  ingestPodEvents,
  shouldAlert,
} from '../services/ingest.ts';
import type { IngestDeps } from '../services/ports.ts';
import { handleRegistryEvent, type RegistryDeps } from '../services/registry.ts';
import { DEFAULT_MAX_INFLATED_BYTES, parseJson } from './body.ts';
import { FailureList, INGEST_SLICE } from './bounded-report.ts';

/** What the routes call: the ingest services' and the registry service's dependencies. */
export interface LocalPipeline {
  ingest: IngestDeps;
  registry: RegistryDeps;
}

/** The forwarder's EventBridge `Source` / `DetailType` (see forwarder/src/constants.ts). */
export const FORWARDER_SOURCE = 'regwatch.forwarder';
export const POD_EVENT_DETAIL_TYPE = 'Pod Event';

/** An ingest report plus, for `/v1/events`, what the registry path did per event kind. */
export interface LocalReport extends IngestReport {
  registry?: Record<string, number>;
  /** All failures, when there are more than `failed` lists (the first ones by index). */
  failedTotal?: number;
}

/** Sets `report.failed` to the bounded list of `failures` (and the total when cut). */
function setFailures(report: LocalReport, failures: FailureList): LocalReport {
  report.failed = failures.listed();
  if (failures.total > report.failed.length) report.failedTotal = failures.total;
  return report;
}

/** Folds `part` into `into` like `mergeReport`, its failures into the bounded `failures`. */
function mergeBounded(
  into: LocalReport,
  part: IngestReport,
  failures: FailureList,
  indexOf: (i: number) => number,
): void {
  for (const f of part.failed) failures.add({ index: indexOf(f.index), error: f.error });
  mergeReport(into, { ...part, failed: [] }, indexOf);
}

/** Folds `part` (a report over a sub-batch) into `into`; `indexOf` maps its indexes back. */
export function mergeReport(
  into: LocalReport,
  part: IngestReport,
  indexOf: (i: number) => number,
): void {
  into.evaluated += part.evaluated;
  for (const [reason, n] of Object.entries(part.skipped)) {
    into.skipped[reason] = (into.skipped[reason] ?? 0) + n;
  }
  for (const f of part.failed) into.failed.push({ index: indexOf(f.index), error: f.error });
  into.findings.new += part.findings.new;
  into.findings.reopened += part.findings.reopened;
  into.findings.repeat += part.findings.repeat;
  into.findings.duplicate += part.findings.duplicate;
}

/** `POST /v1/pod-events`: a JSON array of forwarder pod events. */
export async function podEventsRoute(body: Buffer, pipeline: LocalPipeline): Promise<LocalReport> {
  const records = parseJson(body, 'a JSON array of pod events');
  if (!Array.isArray(records)) {
    throw new ValidationError(
      'expected a JSON array of pod events ({"cluster","observedAt","reason","pod"})',
    );
  }
  // In slices: a body of a million bad records must not build a million-entry report.
  const report: LocalReport = emptyReport(records.length);
  const failures = new FailureList();
  for (let start = 0; start < records.length; start += INGEST_SLICE) {
    const part = await ingestPodEvents(records.slice(start, start + INGEST_SLICE), pipeline.ingest);
    mergeBounded(report, part, failures, (i) => start + i);
  }
  return setFailures(report, failures);
}

/**
 * `POST /v1/audit?cluster=NAME`: an `audit.k8s.io/v1` `EventList` (the audit webhook's body),
 * JSON lines of `Event`s, or a CloudWatch Logs subscription payload, optionally gzipped; the
 * audit-log reader tells them apart. A failure's `index` is the event's position in the
 * `EventList`, or its 0-based line in JSON lines. Events that cannot matter (reads, other
 * resources) are skipped by the pre-filter without being parsed.
 */
export async function auditRoute(
  body: Buffer,
  cluster: string | null,
  pipeline: LocalPipeline,
): Promise<LocalReport> {
  if (!cluster) {
    throw new ValidationError(
      'missing ?cluster=NAME: audit events do not name their cluster; say which one sent them',
    );
  }
  if (body.toString('utf8').trim() === '') {
    throw new ValidationError('empty body: expected an audit EventList or JSON lines of Events');
  }
  const stats = newReaderStats();
  const failures = new FailureList();
  const report: LocalReport = emptyReport();
  // Events are ingested in slices as they are read: memory stays flat in the body's size.
  let events: unknown[] = [];
  let positions: number[] = [];
  /** Bad records the reader yielded; it counts more than it lists. */
  let yielded = 0;
  const flush = async () => {
    if (events.length === 0) return;
    const at = positions;
    mergeBounded(
      report,
      await ingestAuditEvents(events, cluster, pipeline.ingest),
      failures,
      (i) => at[i] ?? i,
    );
    events = [];
    positions = [];
  };
  for await (const record of readAuditLog(Readable.from([body]), {
    file: 'body',
    cluster,
    stats,
    maxInflatedBytes: DEFAULT_MAX_INFLATED_BYTES,
  })) {
    const position = record.index ?? record.line - 1;
    if (record.kind === 'event') {
      events.push(record.event);
      positions.push(position);
      if (events.length >= INGEST_SLICE) await flush();
    } else if (record.kind === 'malformed') {
      yielded++;
      failures.add({ index: position, error: record.error });
    } else {
      yielded++;
      failures.add({ index: position, error: `not JSON: ${JSON.stringify(record.text)}` });
    }
  }
  await flush();
  report.received = stats.events + stats.malformed + stats.notJson;
  if (stats.prefiltered > 0) report.skipped.prefiltered = stats.prefiltered;
  // The reader lists the first bad records and counts the rest: the total is its count.
  failures.total += stats.malformed + stats.notJson - yielded;
  return setFailures(report, failures);
}

function tally(report: LocalReport, results: readonly UpsertResult[]): void {
  for (const result of results) {
    if (!result.counted) report.findings.duplicate++;
    else report.findings[result.outcome]++;
  }
}

/** Tells the alert port about the results that should alert (new / reopened, above the minimum). */
export async function alertResults(
  results: readonly UpsertResult[],
  deps: IngestDeps,
): Promise<void> {
  if (!deps.alerts) return;
  for (const result of results) {
    if (shouldAlert(result, deps.minAlertSeverity)) await deps.alerts.notify(result);
  }
}

/**
 * `POST /v1/events`: EventBridge events, one or a JSON array, as the bus would deliver them:
 * ECR pushes and scans, Inspector2 scans and findings (the registry path), and the
 * forwarder's pod events (`regwatch.forwarder` / `Pod Event`).
 */
export async function eventsRoute(body: Buffer, pipeline: LocalPipeline): Promise<LocalReport> {
  const parsed = parseJson(body, 'an EventBridge event or a JSON array of them');
  const events = Array.isArray(parsed) ? parsed : [parsed];
  const report: LocalReport = { ...emptyReport(events.length), registry: {} };
  const failures = new FailureList();
  for (const [index, event] of events.entries()) {
    const e = (event ?? {}) as Record<string, unknown>;
    if (e.source === FORWARDER_SOURCE && e['detail-type'] === POD_EVENT_DETAIL_TYPE) {
      const part = await ingestPodEvents([e.detail], pipeline.ingest);
      mergeBounded(report, part, failures, () => index);
      continue;
    }
    const outcome = parseRegistryEvent(event);
    if (outcome.status === 'ignored') {
      report.skipped[outcome.reason] = (report.skipped[outcome.reason] ?? 0) + 1;
      continue;
    }
    if (outcome.status !== 'ok') {
      // `rejected` (an image that cannot exist) and `invalid` (not the documented shape).
      failures.add({ index, error: outcome.reason });
      continue;
    }
    const result = await handleRegistryEvent(outcome.event, pipeline.registry);
    report.evaluated++;
    const actions = report.registry ?? {};
    actions[result.action] = (actions[result.action] ?? 0) + 1;
    tally(report, result.findings);
    await alertResults(result.findings, pipeline.ingest);
  }
  return setFailures(report, failures);
}
