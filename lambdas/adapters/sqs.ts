/** The scan-check scheduler on SQS: a delayed message to the scan-check queue. */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { MAX_SQS_DELAY_SECONDS, type ScanCheckMessage } from '../core/registry/schedule.ts';
import type { ScanCheckScheduler } from '../services/registry.ts';

export class SqsScanCheckScheduler implements ScanCheckScheduler {
  readonly #client: SQSClient;
  readonly #queueUrl: string;

  constructor(client: SQSClient, queueUrl: string) {
    this.#client = client;
    this.#queueUrl = queueUrl;
  }

  async schedule(message: ScanCheckMessage, delaySeconds: number): Promise<void> {
    // SQS refuses anything outside 0-900 whole seconds.
    const delay = Math.min(MAX_SQS_DELAY_SECONDS, Math.max(0, Math.ceil(delaySeconds)));
    await this.#client.send(
      new SendMessageCommand({
        QueueUrl: this.#queueUrl,
        MessageBody: JSON.stringify(message),
        DelaySeconds: delay,
      }),
    );
  }
}
