/**
 * EventBridge events as an SQS target receives them (the whole event is the message body).
 * No Powertools here: local mode's routes use it without a Lambda around them.
 */
import type { SQSRecord } from 'aws-lambda';
import * as z from 'zod';
import { ValidationError } from '../../core/errors.ts';

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
