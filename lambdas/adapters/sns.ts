/**
 * The finding alert: what the alerts function publishes to the SNS topic (and, as the event
 * detail, to EventBridge), and what the Slack notifier reads back. docs/alerts.md describes
 * the format for subscribers.
 *
 * SNS message: the JSON of `FindingAlert`. Subject: one short ASCII line. Message attributes
 * `severity`, `rule`, `cluster` and `outcome` (all `String`) let subscriptions filter without
 * reading the body.
 */
import { type MessageAttributeValue, PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import * as z from 'zod';
import { ValidationError } from '../core/errors.ts';
import type { Finding } from '../core/types.ts';
import { findingSchema, zodIssues } from './dynamodb/common.ts';

/** The outcomes that alert (`repeat` never does). */
export const ALERT_OUTCOMES = ['new', 'reopened'] as const;
export type AlertOutcome = (typeof ALERT_OUTCOMES)[number];

export const FINDING_ALERT_KIND = 'regwatch.finding';

/** A `Finding` as it travels in alerts: the stored shape without the store's bookkeeping. */
export { findingSchema };

export const findingAlertSchema = z.object({
  kind: z.literal(FINDING_ALERT_KIND),
  schemaVersion: z.literal(1),
  outcome: z.enum(ALERT_OUTCOMES),
  finding: findingSchema,
});

export interface FindingAlert {
  kind: typeof FINDING_ALERT_KIND;
  schemaVersion: 1;
  outcome: AlertOutcome;
  finding: Finding;
}

export function findingAlert(finding: Finding, outcome: AlertOutcome): FindingAlert {
  return { kind: FINDING_ALERT_KIND, schemaVersion: 1, outcome, finding };
}

/** Validates a parsed alert (an SNS message body, an EventBridge detail). */
export function parseFindingAlert(value: unknown): FindingAlert {
  const result = findingAlertSchema.safeParse(value);
  if (!result.success) {
    const issues = zodIssues(result.error);
    throw new ValidationError(
      `not a regwatch finding alert: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      issues,
    );
  }
  return result.data;
}

/** SNS subjects must be ASCII without control characters and shorter than 100 characters. */
export const MAX_SUBJECT = 99;

/** One printable-ASCII line of at most `MAX_SUBJECT` characters. */
export function alertSubject(finding: Finding, outcome: AlertOutcome): string {
  const what = outcome === 'reopened' ? 'Reopened' : 'New';
  const raw = `regwatch: ${what} ${finding.severity} ${finding.rule} in ${finding.cluster}/${finding.namespace}: ${finding.image}`;
  const ascii = raw
    .replace(/\s+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .trim();
  return ascii.length > MAX_SUBJECT ? `${ascii.slice(0, MAX_SUBJECT - 3)}...` : ascii;
}

export function alertAttributes(alert: FindingAlert): Record<string, MessageAttributeValue> {
  const text = (value: string): MessageAttributeValue => ({
    DataType: 'String',
    StringValue: value,
  });
  return {
    severity: text(alert.finding.severity),
    rule: text(alert.finding.rule),
    cluster: text(alert.finding.cluster),
    outcome: text(alert.outcome),
  };
}

/** Publishes `alert` to `topicArn`; returns SNS's message id. */
export async function publishFindingAlert(
  sns: SNSClient,
  topicArn: string,
  alert: FindingAlert,
): Promise<string> {
  const out = await sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Subject: alertSubject(alert.finding, alert.outcome),
      Message: JSON.stringify(alert),
      MessageAttributes: alertAttributes(alert),
    }),
  );
  return out.MessageId ?? '';
}
