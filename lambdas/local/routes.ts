/**
 * The local ingest's routes: each turns a request body into records and hands them to the same
 * service code the Lambdas run (`ingestPodEvents`, `ingestAuditEvents`, the registry service).
 * One bad record fails itself only: the others are evaluated and stored, and the report lists
 * the bad ones by index.
 */
import { Readable } from 'node:stream';
import { newReaderStats, readAuditLog } from '../adapters/auditlog/reader.ts';
import { checkClusterName } from '../core/cluster.ts';
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
import { parseJson } from './body.ts';

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
  return ingestPodEvents(records, pipeline.ingest);
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
  checkClusterName(cluster, '?cluster');
  if (body.toString('utf8').trim() === '') {
    throw new ValidationError('empty body: expected an audit EventList or JSON lines of Events');
  }
  const stats = newReaderStats();
  const events: unknown[] = [];
  const positions: number[] = [];
  const failed: { index: number; error: string }[] = [];
  for await (const record of readAuditLog(Readable.from([body]), {
    file: 'body',
    cluster,
    stats,
  })) {
    const position = record.index ?? record.line - 1;
    if (record.kind === 'event') {
      events.push(record.event);
      positions.push(position);
    } else if (record.kind === 'malformed') {
      failed.push({ index: position, error: record.error });
    } else {
      failed.push({ index: position, error: `not JSON: ${JSON.stringify(record.text)}` });
    }
  }
  const report: LocalReport = emptyReport(stats.events + stats.malformed + stats.notJson);
  if (stats.prefiltered > 0) report.skipped.prefiltered = stats.prefiltered;
  report.failed.push(...failed);
  mergeReport(
    report,
    await ingestAuditEvents(events, cluster, pipeline.ingest),
    (i) => positions[i] ?? i,
  );
  report.failed.sort((a, b) => a.index - b.index);
  return report;
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
  for (const [index, event] of events.entries()) {
    const e = (event ?? {}) as Record<string, unknown>;
    if (e.source === FORWARDER_SOURCE && e['detail-type'] === POD_EVENT_DETAIL_TYPE) {
      mergeReport(report, await ingestPodEvents([e.detail], pipeline.ingest), () => index);
      continue;
    }
    const outcome = parseRegistryEvent(event);
    if (outcome.status === 'ignored') {
      report.skipped[outcome.reason] = (report.skipped[outcome.reason] ?? 0) + 1;
      continue;
    }
    if (outcome.status !== 'ok') {
      // `rejected` (an image that cannot exist) and `invalid` (not the documented shape).
      report.failed.push({ index, error: outcome.reason });
      continue;
    }
    const result = await handleRegistryEvent(outcome.event, pipeline.registry);
    report.evaluated++;
    const actions = report.registry ?? {};
    actions[result.action] = (actions[result.action] ?? 0) + 1;
    tally(report, result.findings);
    await alertResults(result.findings, pipeline.ingest);
  }
  return report;
}
