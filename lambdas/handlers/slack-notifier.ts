/**
 * `slack-notifier`: the alerts SNS topic → a Slack incoming webhook. The edge (message kinds,
 * the secret's forms, retries) is `edges/slack-notifier.ts`.
 */
import type { Context, SNSEvent } from 'aws-lambda';
import { loadConfig } from './commons/config.ts';
import { withPowertools } from './commons/middy.ts';
import { powertoolsTelemetry } from './commons/powertools.ts';
import { FUNCTION_CONFIG } from './compose/config.ts';
import { cachedSecret } from './compose/secrets.ts';
import { slackNotifierEdge, webhookUrlFromSecret } from './edges/slack-notifier.ts';

export { alarmMessage, messageFor, webhookUrlFromSecret } from './edges/slack-notifier.ts';

// Read once per cold start: bad configuration fails here, naming every bad variable.
const config = loadConfig(FUNCTION_CONFIG['slack-notifier']);
const edge = slackNotifierEdge({
  webhook: cachedSecret(config.SLACK_WEBHOOK_SECRET_ARN, webhookUrlFromSecret),
  telemetry: powertoolsTelemetry,
});

export const handler = withPowertools((event: SNSEvent, context: Context) =>
  edge(event, () => context.getRemainingTimeInMillis()),
);
