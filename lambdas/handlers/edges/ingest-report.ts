/**
 * How the ingest edges turn an `IngestReport` into metrics, and merge per-record reports.
 */
import type { IngestReport } from '../../services/ingest.ts';
import type { Telemetry } from '../commons/telemetry.ts';

export interface BatchCounts {
  /** Records that arrived (log events, webhook items, SQS records). */
  received: number;
  /** Records that are not JSON at all (CloudWatch plain-text lines). */
  notJson?: number;
}

/**
 * Adds a batch's figures to the invocation's metrics: received, evaluated, skipped by reason
 * (dimension `reason`), invalid records and findings by outcome.
 */
export function recordIngestMetrics(
  report: IngestReport,
  counts: BatchCounts,
  telemetry: Telemetry,
): void {
  telemetry.count('EventsReceived', counts.received);
  telemetry.count('EventsEvaluated', report.evaluated);
  telemetry.count('InvalidRecords', report.failed.length);
  telemetry.count('FindingsNew', report.findings.new);
  telemetry.count('FindingsReopened', report.findings.reopened);
  telemetry.count('FindingsRepeat', report.findings.repeat);
  telemetry.count('FindingsDuplicate', report.findings.duplicate);
  for (const [reason, n] of Object.entries(skippedOf(report, counts))) {
    telemetry.count('EventsSkipped', n, { name: 'reason', value: reason });
  }
}

/** Skip counts by reason, with the handler's own `not-json` count merged in. */
export function skippedOf(report: IngestReport, counts: BatchCounts): Record<string, number> {
  const skipped = { ...report.skipped };
  if (counts.notJson) skipped['not-json'] = (skipped['not-json'] ?? 0) + counts.notJson;
  return skipped;
}

/** Merges `part` into `total` (per-record reports of an SQS batch). */
export function addReport(total: IngestReport, part: IngestReport): void {
  total.received += part.received;
  total.evaluated += part.evaluated;
  for (const [reason, n] of Object.entries(part.skipped)) {
    total.skipped[reason] = (total.skipped[reason] ?? 0) + n;
  }
  // A loop, not push(...): a spread of an input-sized array overflows the stack.
  for (const f of part.failed) total.failed.push(f);
  for (const outcome of ['new', 'reopened', 'repeat', 'duplicate'] as const) {
    total.findings[outcome] += part.findings[outcome];
  }
  const resolved = part.findings.resolved;
  if (resolved) total.findings.resolved = (total.findings.resolved ?? 0) + resolved;
}
