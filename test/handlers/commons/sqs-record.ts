/** An SQS record as Lambda's event source mapping delivers it, for invoking handlers in tests. */
import type { SQSRecord } from 'aws-lambda';

export function sqsRecord(
  messageId: string,
  body: string,
  queue = 'arn:aws:sqs:eu-west-1:123456789012:q',
): SQSRecord {
  const region = queue.split(':')[3] ?? 'eu-west-1';
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '1700000000000',
      SenderId: 'events.amazonaws.com',
      ApproximateFirstReceiveTimestamp: '1700000000001',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: queue,
    awsRegion: region,
  };
}
