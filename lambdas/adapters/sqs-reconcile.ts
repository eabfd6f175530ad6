/** The reconcile queue: fan-out messages of a full pass, ten to a `SendMessageBatch`. */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { QueueDeliveryError } from '../core/errors.ts';
import type { ReconcileMessage } from '../core/reconcile-message.ts';
import type { ReconcileQueuePort } from '../services/reconcile-fanout.ts';

export class SqsReconcileQueue implements ReconcileQueuePort {
  readonly #client: SQSClient;
  readonly #url: string;

  constructor(client: SQSClient, queueUrl: string) {
    this.#client = client;
    this.#url = queueUrl;
  }

  async send(messages: readonly ReconcileMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      let entries = messages.slice(i, i + 10).map((m, n) => ({
        Id: String(i + n),
        MessageBody: JSON.stringify(m),
      }));
      // Entries SQS refused for a passing reason are sent again; then the call fails (retried).
      for (let attempt = 0; entries.length > 0; attempt++) {
        const out = await this.#client.send(
          new SendMessageBatchCommand({ QueueUrl: this.#url, Entries: entries }),
        );
        const failed = new Set((out.Failed ?? []).map((f) => f.Id));
        if (failed.size > 0 && attempt >= 2) {
          const first = out.Failed?.[0];
          throw new QueueDeliveryError(
            `reconcile queue refused ${failed.size} message(s): ${first?.Code ?? '?'} ${first?.Message ?? ''}`,
          );
        }
        entries = entries.filter((e) => failed.has(e.Id));
      }
    }
  }
}
