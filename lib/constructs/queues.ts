import { Duration, Validations } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** Retention of dead letters: the SQS maximum, so a long weekend loses nothing. */
const DLQ_RETENTION = Duration.days(14);

/**
 * A dead-letter queue: SSE-SQS encrypted (EventBridge, SNS and Lambda can all write to it
 * without a key policy), TLS only, kept 14 days.
 */
export function deadLetterQueue(scope: Construct, id: string): sqs.Queue {
  const queue = new sqs.Queue(scope, id, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: DLQ_RETENTION,
  });
  const reason =
    'This queue is itself a dead-letter queue; a dead-letter queue behind it would only move the problem. Its depth alarm pages instead.';
  Validations.of(queue).acknowledge(
    { id: 'Serverless-SQSRedrivePolicy', reason },
    { id: 'AwsSolutions-SQS3', reason },
  );
  return queue;
}

export interface WorkQueueProps {
  /** Timeout of the consuming function; visibility is six times that, as AWS recommends. */
  consumerTimeout: Duration;
  /** Receives before a message is dead-lettered. */
  maxReceiveCount?: number;
  /** A customer-managed key for the queue (its messages name workloads); SSE-SQS without. */
  encryptionKey?: kms.IKey;
}

/** A work queue feeding one Lambda function, with its own dead-letter queue. */
export class WorkQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly dlq: sqs.Queue;

  constructor(scope: Construct, id: string, props: WorkQueueProps) {
    super(scope, id);
    this.dlq = deadLetterQueue(this, 'Dlq');
    this.queue = new sqs.Queue(this, 'Queue', {
      ...(props.encryptionKey
        ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: props.encryptionKey }
        : { encryption: sqs.QueueEncryption.SQS_MANAGED }),
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(props.consumerTimeout.toSeconds() * 6),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.dlq, maxReceiveCount: props.maxReceiveCount ?? 5 },
    });
  }
}
