/**
 * The `slack-notifier` edge: the alerts SNS topic → a Slack incoming webhook.
 *
 * Three kinds of message arrive on the topic: finding alerts from the `alerts` function
 * (rendered with `slackMessage`, which escapes every attacker-controlled string), expiry
 * warnings from the `reconcile` function (`expiryWarningSlack`, the same escaping) and
 * CloudWatch alarm notifications (regwatch's own alarms publish to the same topic). Anything
 * else is refused with a `ValidationError`. A failure throws: Lambda retries the asynchronous
 * invocation, then the stack's dead-letter queue keeps the message.
 *
 * The webhook URL is a Secrets Manager secret (`SLACK_WEBHOOK_SECRET_ARN`), read at most every
 * five minutes; see `webhookUrlFromSecret` for the accepted forms.
 */
import type { SNSEvent, SNSEventRecord } from 'aws-lambda';
import * as z from 'zod';
import { zodIssues } from '../../adapters/dynamodb/common.ts';
import type { CachedSecret } from '../../adapters/secrets.ts';
import { postToSlack, SlackDeliveryError } from '../../adapters/slack.ts';
import { parseFindingAlert } from '../../adapters/sns.ts';
import {
  EXPIRY_WARNING_KIND,
  expiryWarningSchema,
  expiryWarningSlack,
} from '../../core/alerts/expiry-warning.ts';
import {
  cutMrkdwn,
  escapeMrkdwn,
  SLACK_LIMITS,
  type SlackMessage,
  slackMessage,
} from '../../core/alerts/slack-message.ts';
import { ConfigError, ValidationError } from '../../core/errors.ts';
import { silentTelemetry, type Telemetry } from '../commons/telemetry.ts';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * The webhook URL in a secret: either the URL itself or JSON `{"url": "…"}`. Any `https` URL
 * is accepted, not only `hooks.slack.com`: GovSlack and Enterprise Grid proxies use other
 * hosts. Plain `http` only to a loopback address (local mode, tests). Error messages never
 * repeat the value: the URL is the credential.
 */
export function webhookUrlFromSecret(secret: string): string {
  const trimmed = secret.trim();
  let value = trimmed;
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new ConfigError('the Slack webhook secret starts with "{" but is not valid JSON');
    }
    const shape = z.object({ url: z.string() }).safeParse(parsed);
    if (!shape.success) {
      throw new ConfigError('the Slack webhook secret is JSON without a string "url" field');
    }
    value = shape.data.url.trim();
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('the Slack webhook secret is not a URL (nor JSON {"url": "…"})');
  }
  const loopbackHttp = url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
  if (url.protocol !== 'https:' && !loopbackHttp) {
    throw new ConfigError(
      `the Slack webhook URL must use https (got ${url.protocol.replace(':', '')})`,
    );
  }
  return url.toString();
}

/* ------------------------------------------------------------ messages */

const alarmSchema = z.object({
  AlarmName: z.string(),
  NewStateValue: z.string(),
  NewStateReason: z.string().optional(),
  AlarmDescription: z.string().nullable().optional(),
  Region: z.string().optional(),
  StateChangeTime: z.string().optional(),
});

const MAX_HEADER = 150; // Slack's limit for a plain_text header

/** A CloudWatch alarm notification (regwatch's own alarms on DLQ depth and errors). */
export function alarmMessage(alarm: z.infer<typeof alarmSchema>): SlackMessage {
  const title = `CloudWatch alarm ${alarm.AlarmName} is ${alarm.NewStateValue}`;
  const emoji = alarm.NewStateValue === 'ALARM' ? ':rotating_light:' : ':white_check_mark:';
  const details = [alarm.AlarmDescription, alarm.NewStateReason].filter(
    (s): s is string => typeof s === 'string' && s !== '',
  );
  return {
    text: cutMrkdwn(escapeMrkdwn(title), SLACK_LIMITS.fallbackText),
    blocks: [
      {
        type: 'header',
        text: { type: 'plain_text', text: title.slice(0, MAX_HEADER), emoji: false },
      },
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          // Alarm descriptions are free text: cut to Slack's section limit so it is never refused.
          text: cutMrkdwn(
            `${emoji} ${escapeMrkdwn(details.join('\n') || alarm.NewStateValue)}`,
            SLACK_LIMITS.sectionText,
          ),
        },
      },
      ...(alarm.Region || alarm.StateChangeTime
        ? [
            {
              type: 'context',
              elements: [
                {
                  type: 'mrkdwn',
                  text: escapeMrkdwn(
                    [alarm.Region, alarm.StateChangeTime].filter(Boolean).join(' · '),
                  ),
                },
              ],
            },
          ]
        : []),
    ],
  };
}

/** The Slack message for one SNS record; a `ValidationError` for a message of unknown shape. */
export function messageFor(record: SNSEventRecord): { kind: string; message: SlackMessage } {
  let body: unknown;
  try {
    body = JSON.parse(record.Sns.Message);
  } catch {
    throw new ValidationError(`SNS message ${record.Sns.MessageId} is not JSON`);
  }
  const alarm = alarmSchema.safeParse(body);
  if (alarm.success) return { kind: 'alarm', message: alarmMessage(alarm.data) };
  // Expiry warnings from the reconciler (issue 11) share the topic.
  if ((body as { kind?: unknown } | null)?.kind === EXPIRY_WARNING_KIND) {
    const warning = expiryWarningSchema.safeParse(body);
    if (!warning.success) {
      throw new ValidationError(
        `SNS message ${record.Sns.MessageId} is not a valid expiry warning: ${zodIssues(
          warning.error,
        )
          .map((i) => `${i.path}: ${i.message}`)
          .join('; ')}`,
      );
    }
    return { kind: 'expiry-warning', message: expiryWarningSlack(warning.data) };
  }
  const alert = parseFindingAlert(body);
  return { kind: 'finding', message: slackMessage(alert.finding, alert.outcome) };
}

/* ------------------------------------------------------------ the handler */

/** Slack answers these when the webhook was revoked or its channel archived. */
const WEBHOOK_GONE = new Set([403, 404, 410]);

export interface SlackNotifierDeps {
  /** The webhook URL from its secret (`webhookUrlFromSecret`), cached. */
  webhook: Pick<CachedSecret<string>, 'get' | 'invalidate'>;
  telemetry?: Telemetry;
}

/** The edge: one SNS invocation; `remainingMs` bounds the waits between retries. */
export function slackNotifierEdge(deps: SlackNotifierDeps) {
  return (event: SNSEvent, remainingMs: () => number) => notify(event, remainingMs, deps);
}

async function notify(
  event: SNSEvent,
  remainingMs: () => number,
  { webhook, telemetry = silentTelemetry }: SlackNotifierDeps,
): Promise<void> {
  for (const record of event.Records) {
    const { kind, message } = messageFor(record);
    const url = await webhook.get();
    try {
      const { attempts } = await postToSlack(url, message, {
        // Three tries with short waits stay inside the 30 s function timeout.
        maxAttempts: 3,
        maxWaitMs: Math.min(5_000, Math.max(0, remainingMs() / 4)),
        timeoutMs: 5_000,
      });
      telemetry.info('posted to Slack', { kind, snsMessageId: record.Sns.MessageId, attempts });
      telemetry.count('SlackMessagesPosted');
    } catch (error) {
      // A replaced secret is picked up by the retry instead of after the cache expires.
      if (error instanceof SlackDeliveryError && error.status !== null) {
        if (WEBHOOK_GONE.has(error.status)) webhook.invalidate();
      }
      telemetry.count('SlackMessagesFailed');
      throw error;
    }
  }
}
