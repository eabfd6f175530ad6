/**
 * The local ingest's routes. Each calls the Lambdas' own edges (`lambdas/handlers/edges/`), so
 * what local mode accepts, rejects, acknowledges or fails is what the deployed functions do:
 *
 * - `/v1/pod-events`: each pod event goes through the `pod-events` edge as the `detail` of a
 *   forwarder EventBridge event;
 * - `/v1/audit`: the `audit-webhook` edge (EventList, single Event, JSON lines), or the
 *   `eks-audit-logs` edge for a CloudWatch Logs subscription payload;
 * - `/v1/events`: each event as the SQS body its queue would carry, through the edge of the
 *   function its EventBridge rule targets (`pod-events`, `ecr-push`, `scan-status`).
 *
 * One bad record fails itself only: the others are evaluated and stored, and the report lists
 * the bad ones by index. Store failures are thrown (HTTP 500): the sender may retry.
 */
import { gunzipSync } from 'node:zlib';
import { PayloadTooLargeError, ValidationError } from '../core/errors.ts';
import type { UpsertResult } from '../core/types.ts';
import type { EventBridgeEnvelope } from '../handlers/commons/eventbridge.ts';
import type { WebhookResult } from '../handlers/edges/audit-webhook.ts';
import type { AuditLogsOutcome } from '../handlers/edges/eks-audit-logs.ts';
import { detailShapeProblem, invalidDetailMessage } from '../handlers/edges/pod-events.ts';
import type { MessageResult } from '../handlers/edges/registry.ts';
import {
  emptyReport,
  type IngestReport,
  type RecordFailure,
  shouldAlert,
} from '../services/ingest.ts';
import type { IngestDeps } from '../services/ports.ts';
import type { RegistryDeps } from '../services/registry.ts';
import { parseJson } from './body.ts';
import { boundFailures, MAX_LISTED_FAILURES } from './bounded-report.ts';

/** The edges the routes call, built once by `app.ts` from the composition root. */
export interface LocalEdges {
  podEvents: {
    event: (envelope: EventBridgeEnvelope, where: string, total: IngestReport) => Promise<void>;
    /** Failures by position in `items`. */
    events: (
      items: readonly { envelope: EventBridgeEnvelope; where: string }[],
      total: IngestReport,
    ) => Promise<RecordFailure[]>;
    record: (record: { body: string; messageId: string }, total: IngestReport) => Promise<void>;
  };
  auditWebhook: {
    ingest: (request: { cluster: string | undefined; body: string }) => Promise<WebhookResult>;
  };
  auditLogs: (event: unknown) => Promise<AuditLogsOutcome>;
  ecrPush: (record: { body: string; messageId: string }) => Promise<MessageResult>;
  scanStatus: (record: { body: string; messageId: string }) => Promise<MessageResult>;
}

/** What the routes call: the edges, and the dependencies alerting and the scheduler use. */
export interface LocalPipeline {
  ingest: IngestDeps;
  registry: RegistryDeps;
  edges: LocalEdges;
}

/** The forwarder's EventBridge `Source` / `DetailType` (see forwarder/src/constants.ts). */
export const FORWARDER_SOURCE = 'regwatch.forwarder';
export const POD_EVENT_DETAIL_TYPE = 'Pod Event';

/** An ingest report plus, for `/v1/events`, what the registry path did. */
export interface LocalReport extends IngestReport {
  /** Registry actions by name (`judged`, `push-violation`, `scan-recorded`, …). */
  registry?: Record<string, number>;
  /**
   * Events acknowledged without effect because they can never be processed (AWS's sample
   * digests): the Lambda logs, counts and drops them too. Not failures: a retry cannot help.
   */
  rejected?: { index: number; reason: string }[];
  /** All failures, when there are more than `failed` lists (the first ones by index). */
  failedTotal?: number;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Pod events handed to the edge at a time (their failures are bounded between slices). */
const POD_EVENT_SLICE = 100;

/** `POST /v1/pod-events`: a JSON array of forwarder pod events. */
export async function podEventsRoute(body: Buffer, pipeline: LocalPipeline): Promise<LocalReport> {
  const records = parseJson(body, 'a JSON array of pod events');
  if (!Array.isArray(records)) {
    throw new ValidationError(
      'expected a JSON array of pod events ({"cluster","observedAt","reason","pod"})',
    );
  }
  const report: LocalReport = emptyReport();
  // Failures beyond the listed ones are only counted, so a body of millions stays small.
  let unlisted = 0;
  // Records go to the edge a slice at a time: evaluated as one batch, their inventory steps
  // overlap, while the report's parts stay small.
  let slice: { envelope: EventBridgeEnvelope; where: string; index: number }[] = [];
  const flush = async () => {
    const failures = await pipeline.edges.podEvents.events(slice, report);
    for (const f of failures)
      report.failed.push({ index: slice[f.index]?.index ?? f.index, error: f.error });
    slice = [];
  };
  for (const [index, detail] of records.entries()) {
    if (report.failed.length >= 2 * MAX_LISTED_FAILURES) {
      const before = report.failed.length;
      boundFailures(report);
      unlisted += before - report.failed.length;
      delete report.failedTotal;
    }
    const shape = detailShapeProblem(detail);
    if (shape !== null) {
      // What the edge would throw, without the cost of an exception per record.
      report.failed.push({
        index,
        error: invalidDetailMessage(`pod event ${index}`, `pod-events[${index}]`, shape),
      });
      continue;
    }
    const envelope = {
      id: `pod-events[${index}]`,
      source: FORWARDER_SOURCE,
      'detail-type': POD_EVENT_DETAIL_TYPE,
      account: 'local',
      region: 'local',
      time: new Date(0).toISOString(),
      detail,
    };
    slice.push({ envelope, where: `pod event ${index}`, index });
    if (slice.length >= POD_EVENT_SLICE) await flush();
  }
  if (slice.length > 0) await flush();
  report.received = records.length;
  boundFailures(report);
  if (unlisted > 0) report.failedTotal = (report.failedTotal ?? report.failed.length) + unlisted;
  return report;
}

/** Runs one record; a `ValidationError` becomes its failure at `index`, the rest propagates. */
async function failsAlone(
  report: IngestReport,
  index: number,
  run: () => Promise<void>,
): Promise<void> {
  const before = report.failed.length;
  try {
    await run();
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    // The edge noted the failure without a position (-1): give it the body's own index.
    report.failed.splice(before);
    report.failed.push({ index, error: error.message });
  }
}

const GZIP_MAGIC = [0x1f, 0x8b] as const;

/** A gzipped body (a transport convenience of local mode), decoded within `limit` bytes. */
function decoded(body: Buffer, limit: number): string {
  if (body[0] !== GZIP_MAGIC[0] || body[1] !== GZIP_MAGIC[1]) return body.toString('utf8');
  try {
    return gunzipSync(body, { maxOutputLength: limit }).toString('utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new PayloadTooLargeError(limit);
    }
    throw new ValidationError(`the body is not valid gzip: ${errorText(error)}`);
  }
}

/** A CloudWatch Logs subscription payload (`{"awslogs":{"data":…}}`), not an audit body. */
function isSubscriptionPayload(text: string): boolean {
  if (!text.trimStart().startsWith('{')) return false;
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null && 'awslogs' in value;
  } catch {
    return false;
  }
}

/**
 * `POST /v1/audit?cluster=NAME`: what the audit webhook accepts (an `audit.k8s.io/v1`
 * `EventList`, a single `Event`, JSON lines of `Event`s), through its edge, with the same
 * cluster-name rule; or a CloudWatch Logs subscription payload through the `eks-audit-logs`
 * edge (its cluster is its log group's). Either may be gzipped. A failure's `index` is the
 * item's position in the `EventList`, or its JSON line (blank lines not counted).
 */
export async function auditRoute(
  body: Buffer,
  cluster: string | null,
  pipeline: LocalPipeline,
  maxBytes: number,
): Promise<LocalReport> {
  const text = decoded(body, maxBytes);
  if (isSubscriptionPayload(text)) {
    const outcome = await pipeline.edges.auditLogs(JSON.parse(text));
    switch (outcome.kind) {
      case 'ingested': {
        const report = { ...outcome.report, skipped: { ...outcome.report.skipped } };
        if (outcome.notJson > 0) {
          report.skipped['not-json'] = (report.skipped['not-json'] ?? 0) + outcome.notJson;
        }
        return boundFailures(report);
      }
      case 'control-message':
        return emptyReport();
      case 'undecodable':
        throw new ValidationError(`undecodable CloudWatch Logs payload: ${outcome.reason}`);
      case 'unknown-log-group':
        throw new ValidationError(
          `log group ${JSON.stringify(outcome.logGroup)} is not an EKS cluster's (/aws/eks/<cluster>/cluster)`,
        );
    }
  }
  if (!cluster) {
    throw new ValidationError(
      'missing ?cluster=NAME: audit events do not name their cluster; say which one sent them',
    );
  }
  const result = await pipeline.edges.auditWebhook.ingest({ cluster, body: text });
  return boundFailures({
    received: result.summary.received,
    evaluated: result.summary.evaluated,
    skipped: result.summary.skipped,
    failed: result.failed,
    findings: result.summary.findings,
  });
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

/** Which function's queue an EventBridge rule would put `event` on (see lib/regwatch-stack.ts). */
function targetOf(event: unknown): 'pod-events' | 'ecr-push' | 'scan-status' {
  const e = (typeof event === 'object' && event !== null ? event : {}) as Record<string, unknown>;
  if (e.source === FORWARDER_SOURCE) return 'pod-events';
  if (e.source === 'aws.ecr' && e['detail-type'] === 'ECR Image Action') return 'ecr-push';
  return 'scan-status';
}

/**
 * `POST /v1/events`: EventBridge events, one or a JSON array, as the bus would deliver them:
 * ECR pushes and scans, Inspector2 scans and findings (the registry path), and the
 * forwarder's pod events (`regwatch.forwarder` / `Pod Event`).
 */
export async function eventsRoute(body: Buffer, pipeline: LocalPipeline): Promise<LocalReport> {
  const parsed = parseJson(body, 'an EventBridge event or a JSON array of them');
  const events = Array.isArray(parsed) ? parsed : [parsed];
  const report: LocalReport = { ...emptyReport(events.length), registry: {}, rejected: [] };
  for (const [index, event] of events.entries()) {
    // The SQS body its queue would carry: the whole event.
    const record = { body: JSON.stringify(event ?? null), messageId: `events[${index}]` };
    const target = targetOf(event);
    if (target === 'pod-events') {
      const part = emptyReport();
      await failsAlone(part, index, () => pipeline.edges.podEvents.record(record, part));
      report.evaluated += part.evaluated;
      for (const [reason, n] of Object.entries(part.skipped)) {
        report.skipped[reason] = (report.skipped[reason] ?? 0) + n;
      }
      for (const f of part.failed) report.failed.push(f);
      for (const outcome of ['new', 'reopened', 'repeat', 'duplicate'] as const) {
        report.findings[outcome] += part.findings[outcome];
      }
      continue;
    }
    let result: MessageResult;
    try {
      result = await (target === 'ecr-push' ? pipeline.edges.ecrPush : pipeline.edges.scanStatus)(
        record,
      );
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      report.failed.push({ index, error: error.message });
      continue;
    }
    if (result.status !== 'handled') {
      if (result.status === 'ignored') {
        report.skipped[result.reason] = (report.skipped[result.reason] ?? 0) + 1;
      } else {
        report.rejected?.push({ index, reason: result.reason });
      }
      continue;
    }
    report.evaluated++;
    const actions = report.registry ?? {};
    actions[result.outcome.action] = (actions[result.outcome.action] ?? 0) + 1;
    tally(report, result.outcome.findings);
    await alertResults(result.outcome.findings, pipeline.ingest);
  }
  return boundFailures(report);
}
