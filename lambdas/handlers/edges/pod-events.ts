/**
 * The `pod-events` edge: the forwarder's pod events → findings. SQS records from `PodEventsQueue`, each
 * body a whole EventBridge event (`source: regwatch.forwarder`, `detail-type: Pod Event`,
 * `detail`: the pod event of `core/kube/pod-event.ts`). Partial batch responses: a record that
 * fails is the only one SQS delivers again.
 *
 * - A store error fails its record: it is retried after the visibility timeout.
 * - An invalid record (not an EventBridge event, another source or detail-type, an invalid pod
 *   event) also fails its record, with a `ValidationError` naming every bad field, although a
 *   retry cannot fix it. After 5 receives the queue moves it to `PodEventsQueue/Dlq`, whose
 *   depth alarm fires. Dropping it would lose the sighting for good; the likeliest cause is a
 *   forwarder newer than this function (a new field value), and a message kept in the DLQ can
 *   be redriven once the function is upgraded. The four extra receives cost next to nothing.
 *
 * Idempotency: the observation's event id is derived from the pod (uid, reason and every
 * container's image and imageID), so a redelivered message, or the same event put twice by
 * the forwarder under two EventBridge ids, counts once. That is stricter than keying on the
 * EventBridge `id`, which differs between two puts of one sighting.
 */
import type { SQSRecord } from 'aws-lambda';
import { zodIssues } from '../../adapters/dynamodb/common.ts';
import { ValidationError } from '../../core/errors.ts';
import { type AnyPodEvent, podEventSchema } from '../../core/kube/pod-event.ts';
import { type IngestReport, ingestPodEvents, type RecordFailure } from '../../services/ingest.ts';
import type { IngestDeps } from '../../services/ports.ts';
import { type EventBridgeEnvelope, eventBridgeFromSqs } from '../commons/eventbridge.ts';
import { silentTelemetry, type Telemetry } from '../commons/telemetry.ts';
import { addReport, recordIngestMetrics } from './ingest-report.ts';

export const POD_EVENT_SOURCE = 'regwatch.forwarder';
export const POD_EVENT_DETAIL_TYPE = 'Pod Event';

/**
 * Why a detail cannot be a pod event without looking further (it is not an object), or null.
 * Checked before zod, whose issue objects cost microseconds each: a body of millions of such
 * records must stay cheap.
 */
export function detailShapeProblem(detail: unknown): string | null {
  if (detail !== null && typeof detail === 'object' && !Array.isArray(detail)) return null;
  const kind = detail === null ? 'null' : Array.isArray(detail) ? 'array' : typeof detail;
  return `expected an object, got ${kind}`;
}

/** The message of an invalid pod event: one wording for every path that refuses one. */
export function invalidDetailMessage(where: string, id: string, problem: string): string {
  return `${where}: invalid pod event ${id} (detail: ${problem})`;
}

/** The pod event of an EventBridge event, or a `ValidationError` naming what is wrong. */
export function podEventOfEnvelope(
  envelope: EventBridgeEnvelope,
  where: string,
): { eventId: string; detail: AnyPodEvent } {
  if (envelope.source !== POD_EVENT_SOURCE || envelope['detail-type'] !== POD_EVENT_DETAIL_TYPE) {
    throw new ValidationError(
      `${where}: expected source ${POD_EVENT_SOURCE} and detail-type ${POD_EVENT_DETAIL_TYPE}, got ${envelope.source} / ${envelope['detail-type']}`,
      [{ path: 'source', message: `expected ${POD_EVENT_SOURCE} / ${POD_EVENT_DETAIL_TYPE}` }],
    );
  }
  const shape = detailShapeProblem(envelope.detail);
  if (shape !== null) {
    throw new ValidationError(invalidDetailMessage(where, envelope.id, shape), [
      { path: 'detail', message: shape },
    ]);
  }
  // Pod sightings, `deleted` and `resync-complete` (issue 11).
  const detail = podEventSchema.safeParse(envelope.detail);
  if (!detail.success) {
    const issues = zodIssues(detail.error).map((i) => ({ ...i, path: `detail.${i.path}` }));
    throw new ValidationError(
      `${where}: invalid pod event ${envelope.id} (${issues.map((i) => `${i.path}: ${i.message}`).join('; ')})`,
      issues,
    );
  }
  return { eventId: envelope.id, detail: detail.data };
}

/** The pod event in one SQS record, or a `ValidationError` naming what is wrong. */
export function podEventOf(record: Pick<SQSRecord, 'body' | 'messageId'>): {
  eventId: string;
  detail: AnyPodEvent;
} {
  return podEventOfEnvelope(eventBridgeFromSqs(record), `SQS message ${record.messageId}`);
}

/**
 * The edge. `record` handles one SQS record (validated, then evaluated; throws to fail the
 * record alone) and adds to `total`; `event` is the same for an EventBridge event given as a
 * value (local mode's `/v1/events`); `batchDone` logs and counts a batch.
 */
export function podEventsEdge(deps: IngestDeps, telemetry: Telemetry = silentTelemetry) {
  async function evaluate(
    parse: () => { detail: AnyPodEvent },
    where: string,
    total: IngestReport,
  ): Promise<void> {
    let detail: AnyPodEvent;
    try {
      ({ detail } = parse());
    } catch (error) {
      total.received++;
      if (error instanceof ValidationError) total.failed.push({ index: -1, error: error.message });
      throw error;
    }
    const report = await ingestPodEvents([detail], deps);
    addReport(total, report);
    const failure = report.failed[0];
    if (failure) {
      // Cannot happen after the schema check above; kept so a schema drift still fails loudly.
      throw new ValidationError(`${where}: ${failure.error}`);
    }
  }
  /**
   * Several EventBridge events given as values (local mode's `/v1/pod-events` body): each is
   * validated on its own as `event` would, then the valid ones are evaluated as one batch, so
   * their inventory steps overlap (`ingestPodEvents`). Failures come back by position in
   * `items`, worded as `event`'s; store errors are thrown.
   */
  async function events(
    items: readonly { envelope: EventBridgeEnvelope; where: string }[],
    total: IngestReport,
  ): Promise<RecordFailure[]> {
    const failures: RecordFailure[] = [];
    const details: AnyPodEvent[] = [];
    const positions: number[] = [];
    for (const [position, { envelope, where }] of items.entries()) {
      try {
        details.push(podEventOfEnvelope(envelope, where).detail);
        positions.push(position);
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        total.received++;
        failures.push({ index: position, error: error.message });
      }
    }
    const report = await ingestPodEvents(details, deps);
    for (const failure of report.failed) {
      const position = positions[failure.index] ?? -1;
      failures.push({ index: position, error: `${items[position]?.where}: ${failure.error}` });
    }
    addReport(total, { ...report, failed: [] });
    return failures;
  }
  return {
    record: (record: Pick<SQSRecord, 'body' | 'messageId'>, total: IngestReport) =>
      evaluate(() => podEventOf(record), `SQS message ${record.messageId}`, total),
    event: (envelope: EventBridgeEnvelope, where: string, total: IngestReport) =>
      evaluate(() => podEventOfEnvelope(envelope, where), where, total),
    events,
    batchDone(total: IngestReport, received: number): void {
      recordIngestMetrics(total, { received }, telemetry);
      telemetry.info('pod event batch', {
        received,
        evaluated: total.evaluated,
        skipped: total.skipped,
        invalid: total.failed.length,
        findings: total.findings,
      });
    },
  };
}
