/**
 * Expiry warnings to the alerts SNS topic, beside the finding alerts: the same subscribers
 * (email, the Slack notifier) and message attributes (`severity`, `rule` =
 * `expired-exception`, `cluster` as a `String.Array` of the clusters listed, `outcome` =
 * `expiry-warning`), so an existing filter policy on `cluster` or `severity` still applies.
 */
import { type MessageAttributeValue, PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import {
  type ExpiryWarning,
  expiryWarningSubject,
  warningClusters,
} from '../core/alerts/expiry-warning.ts';
import { SEVERITIES, type Severity } from '../core/types.ts';
import type { ExpiryWarningNotifier } from '../services/reconcile-warning.ts';

export function expiryWarningAttributes(
  warning: ExpiryWarning,
): Record<string, MessageAttributeValue> {
  const text = (value: string): MessageAttributeValue => ({
    DataType: 'String',
    StringValue: value,
  });
  const clusters = warningClusters(warning);
  return {
    severity: text(warning.severity),
    rule: text('expired-exception'),
    outcome: text('expiry-warning'),
    ...(clusters.length > 0
      ? { cluster: { DataType: 'String.Array', StringValue: JSON.stringify(clusters) } }
      : {}),
  };
}

export class SnsExpiryWarningNotifier implements ExpiryWarningNotifier {
  readonly #sns: SNSClient;
  readonly #topicArn: string;
  readonly #minimum: Severity;

  constructor(sns: SNSClient, topicArn: string, minimum: Severity) {
    this.#sns = sns;
    this.#topicArn = topicArn;
    this.#minimum = minimum;
  }

  async send(warning: ExpiryWarning): Promise<string | null> {
    // People are told from the minimum alert severity up, as for findings.
    if (SEVERITIES.indexOf(warning.severity) < SEVERITIES.indexOf(this.#minimum)) return null;
    const out = await this.#sns.send(
      new PublishCommand({
        TopicArn: this.#topicArn,
        Subject: expiryWarningSubject(warning),
        Message: JSON.stringify(warning),
        MessageAttributes: expiryWarningAttributes(warning),
      }),
    );
    return out.MessageId ?? '';
  }
}
