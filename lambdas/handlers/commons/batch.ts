/**
 * Partial batch responses for SQS and DynamoDB-stream sources (Powertools batch): each record
 * is handled on its own, and one that throws is reported in `batchItemFailures` so only it is
 * retried (SQS: then dead-lettered by the queue's redrive policy; streams: retried from its
 * sequence number, then sent to the mapping's on-failure destination). The event source
 * mapping must have `reportBatchItemFailures: true` (the stack sets it everywhere).
 *
 * ```ts
 * export const handler = withPowertools(sqsBatchHandler(async (record) => {
 *   const event = eventBridgeFromSqs(record, podEventSchema);
 *   …
 * }));
 * ```
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type {
  Context,
  DynamoDBBatchResponse,
  DynamoDBRecord,
  DynamoDBStreamEvent,
  SQSBatchResponse,
  SQSEvent,
  SQSRecord,
} from 'aws-lambda';
import * as z from 'zod';
import { ValidationError } from '../../core/errors.ts';
import { logger, metrics } from './powertools.ts';

export type RecordHandler<R> = (record: R, context: Context) => Promise<unknown>;

export interface BatchOptions {
  /**
   * Handle records concurrently. Default: true for SQS (standard queues promise no order),
   * false for streams, where records of one item must be seen in order.
   */
  parallel?: boolean;
}

/** Logs a failed record with its identifier and counts it, then lets Powertools report it. */
function reporting<R>(
  handle: RecordHandler<R>,
  identify: (record: R) => string | undefined,
  context: Context,
): (record: R) => Promise<unknown> {
  return async (record) => {
    try {
      return await handle(record, context);
    } catch (error) {
      logger.error('record failed', { record: identify(record), error });
      metrics.addMetric('RecordsFailed', 'Count', 1);
      throw error;
    }
  };
}

/** A handler for an SQS event source that answers with `batchItemFailures`. */
export function sqsBatchHandler(
  handle: RecordHandler<SQSRecord>,
  options: BatchOptions = {},
): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
  return (event, context) =>
    processPartialResponse(
      event,
      reporting(handle, (r) => r.messageId, context),
      new BatchProcessor(EventType.SQS),
      { context, processInParallel: options.parallel ?? true },
    );
}

/** A handler for a DynamoDB stream event source that answers with `batchItemFailures`. */
export function dynamoStreamBatchHandler(
  handle: RecordHandler<DynamoDBRecord>,
  options: BatchOptions = {},
): (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse> {
  return (event, context) =>
    processPartialResponse(
      event,
      reporting(handle, (r) => r.dynamodb?.SequenceNumber ?? r.eventID, context),
      new BatchProcessor(EventType.DynamoDBStreams),
      { context, processInParallel: options.parallel ?? false },
    );
}

/* ------------------------------------------------------------ EventBridge events via SQS */

/** The EventBridge envelope as an SQS target receives it (the whole event is the body). */
export const eventBridgeEnvelopeSchema = z.object({
  version: z.string().optional(),
  id: z.string().min(1),
  source: z.string().min(1),
  'detail-type': z.string().min(1),
  account: z.string(),
  region: z.string(),
  time: z.string(),
  resources: z.array(z.string()).optional(),
  detail: z.unknown(),
});

export type EventBridgeEnvelope<D = unknown> = Omit<
  z.infer<typeof eventBridgeEnvelopeSchema>,
  'detail'
> & { detail: D };

function issuesOf(error: z.ZodError, prefix: string): { path: string; message: string }[] {
  return error.issues.map((issue) => ({
    path: [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || '(root)',
    message: issue.message,
  }));
}

/**
 * The EventBridge event in an SQS record's body (the stack routes EventBridge rules into SQS
 * queues), with `detail` checked by `detailSchema` when given. Throws a `ValidationError`
 * naming the message and every bad field, so the record fails alone.
 */
export function eventBridgeFromSqs<D = unknown>(
  record: Pick<SQSRecord, 'body' | 'messageId'>,
  detailSchema?: z.ZodType<D>,
): EventBridgeEnvelope<D> {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    throw new ValidationError(`SQS message ${record.messageId}: body is not JSON`);
  }
  const envelope = eventBridgeEnvelopeSchema.safeParse(body);
  if (!envelope.success) {
    const issues = issuesOf(envelope.error, '');
    throw new ValidationError(
      `SQS message ${record.messageId}: not an EventBridge event (${issues.map((i) => `${i.path}: ${i.message}`).join('; ')})`,
      issues,
    );
  }
  if (!detailSchema) return envelope.data as EventBridgeEnvelope<D>;
  const detail = detailSchema.safeParse(envelope.data.detail);
  if (!detail.success) {
    const issues = issuesOf(detail.error, 'detail');
    throw new ValidationError(
      `SQS message ${record.messageId}: ${envelope.data['detail-type']} event ${envelope.data.id} has an invalid detail (${issues.map((i) => `${i.path}: ${i.message}`).join('; ')})`,
      issues,
    );
  }
  return { ...envelope.data, detail: detail.data };
}
