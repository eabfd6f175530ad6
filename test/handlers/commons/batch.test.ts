import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { DynamoDBRecord } from 'aws-lambda';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { ValidationError } from '../../../lambdas/core/errors.ts';
import { lambdaContext, TEST_ENV } from './lambda-context.ts';
import { sqsRecord as makeSqsRecord } from './sqs-record.ts';

type Batch = typeof import('../../../lambdas/handlers/commons/batch.ts');
let batch: Batch;

const ECR_PUSH = readFileSync(
  path.resolve(
    import.meta.dirname,
    '../../fixtures/handlers/ecr-image-action-push-success.awsdocs.json',
  ),
  'utf8',
);

beforeAll(async () => {
  for (const [key, value] of Object.entries(TEST_ENV)) vi.stubEnv(key, value);
  batch = await import('../../../lambdas/handlers/commons/batch.ts');
});

const sqsRecord = (messageId: string, body: string) =>
  makeSqsRecord(messageId, body, 'arn:aws:sqs:eu-west-1:123456789012:regwatch-ecr-push');

function streamRecord(sequence: string): DynamoDBRecord {
  return {
    eventID: `e-${sequence}`,
    eventName: 'INSERT',
    dynamodb: { SequenceNumber: sequence, Keys: { fingerprint: { S: sequence } } },
  };
}

const ecrPushDetail = z.object({
  'action-type': z.literal('PUSH'),
  'repository-name': z.string(),
  'image-digest': z.string(),
});

describe('sqsBatchHandler', () => {
  it('reports only the records that failed', async () => {
    // Prepare
    const seen: string[] = [];
    const handler = batch.sqsBatchHandler(async (record) => {
      if (record.body === 'bad') throw new ValidationError('bad body');
      seen.push(record.messageId);
    });

    // Act
    const response = await handler(
      { Records: [sqsRecord('m1', 'good'), sqsRecord('m2', 'bad'), sqsRecord('m3', 'good')] },
      lambdaContext('ecr-push'),
    );

    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm2' }]);
    expect(seen.sort()).toEqual(['m1', 'm3']);
  });
});

describe('dynamoStreamBatchHandler', () => {
  it('handles stream records in order and reports failures by sequence number', async () => {
    // Prepare
    const order: string[] = [];
    const handler = batch.dynamoStreamBatchHandler(async (record) => {
      const sequence = record.dynamodb?.SequenceNumber ?? '';
      // The first record finishes last if records run concurrently.
      if (sequence === '100') await new Promise((resolve) => setTimeout(resolve, 20));
      order.push(sequence);
      if (sequence === '200') throw new Error('publish failed');
    });

    // Act
    const response = await handler(
      { Records: [streamRecord('100'), streamRecord('200'), streamRecord('300')] },
      lambdaContext('alerts'),
    );

    // Assess
    expect(order).toEqual(['100', '200', '300']);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: '200' }]);
  });
});

describe('eventBridgeFromSqs', () => {
  it('reads AWS sample ECR push event from an SQS body, with its detail checked', () => {
    // Act
    const event = batch.eventBridgeFromSqs(sqsRecord('m1', ECR_PUSH), ecrPushDetail);

    // Assess
    expect(event.id).toBe('13cde686-328b-6117-af20-0e5566167482');
    expect(event['detail-type']).toBe('ECR Image Action');
    expect(event.source).toBe('aws.ecr');
    expect(event.detail['repository-name']).toBe('my-repository-name');
  });

  it('refuses a body that is not JSON, naming the message', () => {
    expect(() => batch.eventBridgeFromSqs(sqsRecord('m7', '{not json'))).toThrow(
      /SQS message m7: body is not JSON/,
    );
  });

  it('refuses a body that is not an EventBridge event, naming the missing fields', () => {
    // Prepare
    const { 'detail-type': _dropped, ...rest } = JSON.parse(ECR_PUSH) as Record<string, unknown>;

    // Act
    const error = (() => {
      try {
        batch.eventBridgeFromSqs(sqsRecord('m8', JSON.stringify(rest)));
      } catch (e) {
        return e;
      }
    })();

    // Assess
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.path)).toEqual(['detail-type']);
  });

  it('refuses a detail that does not fit the schema, with detail paths', () => {
    // Prepare
    const event = JSON.parse(ECR_PUSH) as { detail: Record<string, unknown> };
    event.detail['action-type'] = 'DELETE';

    // Act
    const error = (() => {
      try {
        batch.eventBridgeFromSqs(sqsRecord('m9', JSON.stringify(event)), ecrPushDetail);
      } catch (e) {
        return e;
      }
    })();

    // Assess
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toContain('ECR Image Action event 13cde686');
    expect((error as ValidationError).issues.map((i) => i.path)).toEqual(['detail.action-type']);
  });
});
