/**
 * Expiry warnings to the alerts SNS topic, beside the finding alerts (the `alerts` function
 * publishes both): the same subscribers (email, the Slack notifier) and message attributes
 * (`severity`, `rule` = `expired-exception`, `cluster` as a `String.Array` of the clusters
 * listed, `outcome` = `expiry-warning`), so an existing filter policy on `cluster` or
 * `severity` still applies.
 */
import { type MessageAttributeValue, PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import {
  type ExpiryWarning,
  expiryWarningSubject,
  warningClusters,
} from '../core/alerts/expiry-warning.ts';

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

/** Publishes `warning` to `topicArn`; returns SNS's message id. */
export async function publishExpiryWarning(
  sns: SNSClient,
  topicArn: string,
  warning: ExpiryWarning,
): Promise<string> {
  const out = await sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Subject: expiryWarningSubject(warning),
      Message: JSON.stringify(warning),
      MessageAttributes: expiryWarningAttributes(warning),
    }),
  );
  return out.MessageId ?? '';
}
