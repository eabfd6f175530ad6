/**
 * The `eks-audit-logs` edge: a CloudWatch Logs subscription on `/aws/eks/<cluster>/cluster` → findings.
 *
 * The event is `{ awslogs: { data: base64(gzip(DATA_MESSAGE)) } }`; the cluster comes from the
 * log group, each `logEvents[].message` is one audit Event as JSON. The invocation is
 * asynchronous: Lambda retries a thrown error twice, then sends the event to the DLQ.
 *
 * What is retried and what is not:
 * - a store error (throttling, a network fault) throws: the whole payload is replayed, which is
 *   safe because a finding counts each audit event id once;
 * - a log line that is not JSON, not an audit event, or an event that cannot matter (other
 *   verbs, resources, stages, failed requests, Metadata level) is counted and logged, never an
 *   error: retrying would give the same answer;
 * - an undecodable payload (not base64 gzip, not JSON, wrong shape) or a log group that is not
 *   an EKS cluster's is logged with a bounded sample and counted (`PayloadsUndecodable`,
 *   `PayloadsUnknownLogGroup`), and the invocation succeeds. It can never succeed, so two
 *   retries and a DLQ message would only add noise; CloudWatch Logs writes these payloads
 *   itself, so one happening means a broken subscription, which the metric shows.
 */
import {
  type CloudWatchLogsData,
  clusterFromLogGroup,
  decodeCloudWatchPayload,
} from '../../core/audit/cloudwatch.ts';
import { ValidationError } from '../../core/errors.ts';
import { type IngestReport, ingestAuditEvents } from '../../services/ingest.ts';
import type { IngestDeps } from '../../services/ports.ts';
import { silentTelemetry, type Telemetry } from '../commons/telemetry.ts';
import { recordIngestMetrics, skippedOf } from './ingest-report.ts';

/** How much of an undecodable payload goes into the log line (enough to recognise it). */
const SAMPLE_CHARS = 2048;
/** How many invalid log events are named in the batch's log line. */
const INVALID_SAMPLE = 10;

export type AuditLogsOutcome =
  | { kind: 'ingested'; cluster: string; logStream: string; notJson: number; report: IngestReport }
  | { kind: 'control-message' }
  | { kind: 'undecodable'; reason: string }
  | { kind: 'unknown-log-group'; logGroup: string };

function sampleOf(event: unknown): { sample: string; length: number } {
  let text: string;
  try {
    text = JSON.stringify(event) ?? String(event);
  } catch {
    text = String(event);
  }
  return { sample: text.slice(0, SAMPLE_CHARS), length: text.length };
}

/** The audit events of a DATA_MESSAGE; lines that are not JSON are only counted. */
function auditEventsOf(data: CloudWatchLogsData): {
  events: unknown[];
  ids: string[];
  notJson: number;
} {
  const events: unknown[] = [];
  const ids: string[] = [];
  let notJson = 0;
  for (const logEvent of data.logEvents) {
    try {
      events.push(JSON.parse(logEvent.message));
      ids.push(logEvent.id);
    } catch {
      notJson++;
    }
  }
  return { events, ids, notJson };
}

/** The edge: one subscription delivery in, what became of it out (for tests and local mode). */
export function auditLogsEdge(deps: IngestDeps, telemetry: Telemetry = silentTelemetry) {
  return (event: unknown) => handleAuditLogs(event, deps, telemetry);
}

async function handleAuditLogs(
  event: unknown,
  deps: IngestDeps,
  telemetry: Telemetry,
): Promise<AuditLogsOutcome> {
  let data: CloudWatchLogsData;
  try {
    data = decodeCloudWatchPayload(event);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    telemetry.error('undecodable CloudWatch Logs payload dropped: a retry cannot decode it', {
      error: error.message,
      issues: error.issues,
      ...sampleOf(event),
    });
    telemetry.count('PayloadsUndecodable');
    return { kind: 'undecodable', reason: error.message };
  }

  if (data.messageType === 'CONTROL_MESSAGE') {
    telemetry.info('CloudWatch Logs control message acknowledged', { logGroup: data.logGroup });
    telemetry.count('ControlMessages');
    return { kind: 'control-message' };
  }

  const cluster = clusterFromLogGroup(data.logGroup);
  if (cluster === null) {
    telemetry.error('payload from a log group that is not /aws/eks/<cluster>/cluster dropped', {
      logGroup: data.logGroup,
      logStream: data.logStream,
      subscriptionFilters: data.subscriptionFilters,
      logEvents: data.logEvents.length,
    });
    telemetry.count('PayloadsUnknownLogGroup');
    return { kind: 'unknown-log-group', logGroup: data.logGroup };
  }

  const { events, ids, notJson } = auditEventsOf(data);
  // Store errors propagate: Lambda retries the whole payload, and findings count each audit
  // event id once, so the replay changes nothing that was already recorded.
  const report = await ingestAuditEvents(events, cluster, deps);

  const counts = { received: data.logEvents.length, notJson };
  recordIngestMetrics(report, counts, telemetry);
  const summary = {
    cluster,
    logStream: data.logStream,
    received: counts.received,
    evaluated: report.evaluated,
    skipped: skippedOf(report, counts),
    invalid: report.failed.length,
    findings: report.findings,
  };
  if (report.failed.length > 0) {
    telemetry.warn('audit log batch with invalid events', {
      ...summary,
      invalidEvents: report.failed
        .slice(0, INVALID_SAMPLE)
        .map((f) => ({ logEventId: ids[f.index], error: f.error })),
    });
  } else {
    telemetry.info('audit log batch', summary);
  }
  return { kind: 'ingested', cluster, logStream: data.logStream, notJson, report };
}
