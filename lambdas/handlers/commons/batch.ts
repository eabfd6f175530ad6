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

export {
  type EventBridgeEnvelope,
  eventBridgeEnvelopeSchema,
  eventBridgeFromSqs,
} from './eventbridge.ts';
