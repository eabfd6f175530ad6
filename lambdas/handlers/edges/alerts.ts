/**
 * The `alerts` edge: the findings table's DynamoDB stream → SNS topic + EventBridge bus.
 *
 * The stack's stream filters (`ALERT_STREAM_FILTERS`) pass only a finding inserted as OPEN
 * (`new`), one going from RESOLVED / SUPPRESSED back to OPEN (`reopened`) and an expiry
 * warning the reconciler inserted (issue 11); this handler re-checks them and publishes each
 * once: to EventBridge always (machine consumers
 * filter for themselves), to SNS only from `MIN_ALERT_SEVERITY` up (people). Stream records are delivered at least once (a retried batch replays every record after
 * the first failure), so each transition gets an alert mark: a small item of its own in the
 * findings table recording which channels already carry it. See docs/alerts.md.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SNSClient } from '@aws-sdk/client-sns';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { isConditionalCheckFailed, zodIssues } from '../../adapters/dynamodb/common.ts';
import { putExpiryWarningEvent, putFindingEvent } from '../../adapters/eventbridge.ts';
import {
  type AlertOutcome,
  findingAlert,
  findingSchema,
  publishFindingAlert,
} from '../../adapters/sns.ts';
import { publishExpiryWarning } from '../../adapters/sns-expiry-warning.ts';
import {
  EXPIRY_WARNING_KIND,
  type ExpiryWarning,
  expiryWarningSchema,
} from '../../core/alerts/expiry-warning.ts';
import { ValidationError } from '../../core/errors.ts';
import { type Finding, SEVERITIES, type Severity } from '../../core/types.ts';
import { silentTelemetry, type Telemetry } from '../commons/telemetry.ts';
import type { AlertsConfig } from '../compose/config.ts';

/** What the alerts edge needs; built by `compose/alerts.ts`. */
export interface AlertsDeps {
  config: AlertsConfig;
  doc: DynamoDBDocumentClient;
  sns: SNSClient;
  events: EventBridgeClient;
  clock?: () => Date;
  telemetry?: Telemetry;
}

/** Alert marks live in the findings table under keys no fingerprint can take. */
export const ALERT_MARK_PREFIX = 'alerted#';
/** Longer than a stream record can live (24 h) plus the mapping's retries. */
export const ALERT_MARK_TTL_DAYS = 14;

const REOPENED_FROM = new Set(['RESOLVED', 'SUPPRESSED']);

export type Transition =
  | { kind: 'alert'; outcome: AlertOutcome; finding: Finding; at: string }
  | { kind: 'warning'; key: string; warning: ExpiryWarning }
  | { kind: 'skip'; reason: string };

function image(record: DynamoDBRecord, which: 'NewImage' | 'OldImage'): Record<string, unknown> {
  const raw = record.dynamodb?.[which];
  return raw ? unmarshall(raw as Record<string, AttributeValue>) : {};
}

/** What a stream record means for alerting; a malformed finding is a `ValidationError`. */
export function classify(record: DynamoDBRecord): Transition {
  if (record.eventName !== 'INSERT' && record.eventName !== 'MODIFY') {
    return { kind: 'skip', reason: `${record.eventName ?? 'unknown'} event` };
  }
  if (!record.dynamodb?.NewImage) {
    throw new ValidationError(
      `stream record ${record.eventID ?? '?'} has no NewImage: the stream must carry new images`,
    );
  }
  const item = image(record, 'NewImage');
  if (typeof item.fingerprint === 'string' && item.fingerprint.startsWith(ALERT_MARK_PREFIX)) {
    return { kind: 'skip', reason: 'alert mark' };
  }
  if (item.kind === EXPIRY_WARNING_KIND) return expiryWarningTransition(record, item);
  const parsed = findingSchema.safeParse(item);
  if (!parsed.success) {
    const issues = zodIssues(parsed.error);
    throw new ValidationError(
      `stream record ${record.eventID ?? '?'} (${String(item.fingerprint ?? 'no fingerprint')}) is not a valid finding: ${issues
        .map((i) => `${i.path}: ${i.message}`)
        .join('; ')}`,
      issues,
    );
  }
  const finding: Finding = parsed.data;
  if (finding.status !== 'OPEN') return { kind: 'skip', reason: `status ${finding.status}` };
  if (record.eventName === 'INSERT') {
    return { kind: 'alert', outcome: 'new', finding, at: finding.firstSeen };
  }
  const before = image(record, 'OldImage').status;
  if (typeof before === 'string' && REOPENED_FROM.has(before)) {
    return {
      kind: 'alert',
      outcome: 'reopened',
      finding,
      at: finding.lastStatusChange?.at ?? finding.lastSeen,
    };
  }
  return { kind: 'skip', reason: `${String(before ?? 'unknown')} → OPEN is not a reopening` };
}

/** An expiry warning the reconciler wrote (issue 11): alerts once, on its INSERT. */
function expiryWarningTransition(
  record: DynamoDBRecord,
  item: Record<string, unknown>,
): Transition {
  if (record.eventName !== 'INSERT') return { kind: 'skip', reason: 'expiry warning rewritten' };
  const parsed = expiryWarningSchema.safeParse(item.warning);
  if (!parsed.success) {
    const issues = zodIssues(parsed.error);
    throw new ValidationError(
      `stream record ${record.eventID ?? '?'} (${String(item.fingerprint)}) is not a valid expiry warning: ${issues
        .map((i) => `${i.path}: ${i.message}`)
        .join('; ')}`,
      issues,
    );
  }
  return { kind: 'warning', key: String(item.fingerprint), warning: parsed.data };
}

export function atLeast(severity: Severity, minimum: Severity): boolean {
  return SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(minimum);
}

/* ------------------------------------------------------------ alert marks */

interface AlertMark {
  snsMessageId?: string;
  eventId?: string;
  attempts?: number;
}

/**
 * One mark per transition: `alerted#<fingerprint>#<outcome>#<time>`. It is an item of its own
 * rather than an attribute of the finding because the findings store rewrites whole items on
 * every sighting, which would drop the attribute between a delivery and its redelivery. It
 * holds no `status` and none of the index keys: it never matches the stream filters and never
 * appears in a findings query; TTL removes it.
 */
function markKey(finding: Finding, outcome: AlertOutcome, at: string): string {
  return `${ALERT_MARK_PREFIX}${finding.fingerprint}#${outcome}#${at}`;
}

async function openMark(
  deps: AlertsDeps,
  key: string,
  alertFor: string,
  outcome: AlertOutcome | 'expiry-warning',
  now: Date,
) {
  const out = await deps.doc.send(
    new UpdateCommand({
      TableName: deps.config.FINDINGS_TABLE,
      Key: { fingerprint: key },
      UpdateExpression:
        'SET #for = :for, #outcome = :outcome, #first = if_not_exists(#first, :now), #expires = :expires ADD #attempts :one',
      ExpressionAttributeNames: {
        '#for': 'alertFor',
        '#outcome': 'outcome',
        '#first': 'firstAttemptAt',
        '#expires': 'expiresAt',
        '#attempts': 'attempts',
      },
      ExpressionAttributeValues: {
        ':for': alertFor,
        ':outcome': outcome,
        ':now': now.toISOString(),
        ':expires': Math.floor(now.getTime() / 1000) + ALERT_MARK_TTL_DAYS * 86_400,
        ':one': 1,
      },
      ReturnValues: 'ALL_NEW',
    }),
  );
  return (out.Attributes ?? {}) as AlertMark;
}

/** Records that `channel` carries the alert; a mark already set by an earlier try stays. */
async function markDelivered(
  deps: AlertsDeps,
  key: string,
  channel: keyof AlertMark,
  id: string,
  now: Date,
) {
  try {
    await deps.doc.send(
      new UpdateCommand({
        TableName: deps.config.FINDINGS_TABLE,
        Key: { fingerprint: key },
        UpdateExpression: 'SET #channel = :id, #at = :now',
        ConditionExpression: 'attribute_not_exists(#channel)',
        ExpressionAttributeNames: { '#channel': channel, '#at': `${channel}At` },
        ExpressionAttributeValues: { ':id': id, ':now': now.toISOString() },
      }),
    );
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
  }
}

/* ------------------------------------------------------------ the handler */

async function alertRecord(record: DynamoDBRecord, deps: AlertsDeps): Promise<void> {
  const { config, telemetry = silentTelemetry } = deps;
  const transition = classify(record);
  if (transition.kind === 'skip') {
    telemetry.debug('stream record does not alert', {
      eventID: record.eventID,
      reason: transition.reason,
    });
    return;
  }
  if (transition.kind === 'warning') return alertWarning(transition, deps);
  const { finding, outcome, at } = transition;
  const context = { fingerprint: finding.fingerprint, outcome, severity: finding.severity };
  const notifyPeople = atLeast(finding.severity, config.MIN_ALERT_SEVERITY);
  if (!notifyPeople) {
    telemetry.info('below the minimum alert severity: event only, no SNS', {
      ...context,
      minimum: config.MIN_ALERT_SEVERITY,
    });
    telemetry.count('AlertsBelowMinimum');
  }

  const now = (deps.clock ?? (() => new Date()))();
  const key = markKey(finding, outcome, at);
  const mark = await openMark(deps, key, finding.fingerprint, outcome, now);
  const alert = findingAlert(finding, outcome);
  // The channels are independent: one failing must not hold back the other, and the retry
  // sends only what is still missing.
  const deliveries: Promise<string>[] = [];
  if (notifyPeople && !mark.snsMessageId) {
    deliveries.push(
      publishFindingAlert(deps.sns, config.ALERTS_TOPIC_ARN, alert).then(async (id) => {
        await markDelivered(deps, key, 'snsMessageId', id, now);
        return 'sns';
      }),
    );
  }
  if (!mark.eventId) {
    deliveries.push(
      putFindingEvent(deps.events, config.EVENT_BUS_NAME, alert, new Date(at)).then(async (id) => {
        await markDelivered(deps, key, 'eventId', id, now);
        return 'eventbridge';
      }),
    );
  }
  if (deliveries.length === 0) {
    telemetry.info('alert already delivered (redelivered stream record)', context);
    telemetry.count('AlertsDeduplicated');
    return;
  }
  const results = await Promise.allSettled(deliveries);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  const sent = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  if (sent.length > 0) {
    telemetry.info('alert delivered', { ...context, channels: sent, attempt: mark.attempts });
    telemetry.count('AlertsDelivered', sent.length);
  }
  if (failed.length === 1) throw failed[0]?.reason;
  if (failed.length > 1) {
    throw new AggregateError(
      failed.map((r) => r.reason),
      `alert for ${finding.fingerprint} failed on every channel`,
    );
  }
}

/** Publishes an expiry warning on each channel its mark does not list yet (as for findings). */
async function alertWarning(
  { key: itemKey, warning }: Extract<Transition, { kind: 'warning' }>,
  deps: AlertsDeps,
): Promise<void> {
  const { config, telemetry = silentTelemetry } = deps;
  const now = (deps.clock ?? (() => new Date()))();
  const key = `${ALERT_MARK_PREFIX}${itemKey}`;
  const mark = await openMark(deps, key, itemKey, 'expiry-warning', now);
  const context = { warning: itemKey, severity: warning.severity };
  const deliveries: Promise<string>[] = [];
  if (atLeast(warning.severity, config.MIN_ALERT_SEVERITY) && !mark.snsMessageId) {
    deliveries.push(
      publishExpiryWarning(deps.sns, config.ALERTS_TOPIC_ARN, warning).then(async (id) => {
        await markDelivered(deps, key, 'snsMessageId', id, now);
        return 'sns';
      }),
    );
  }
  if (!mark.eventId) {
    deliveries.push(
      putExpiryWarningEvent(deps.events, config.EVENT_BUS_NAME, warning, new Date(warning.at)).then(
        async (id) => {
          await markDelivered(deps, key, 'eventId', id, now);
          return 'eventbridge';
        },
      ),
    );
  }
  const results = await Promise.allSettled(deliveries);
  const sent = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  if (sent.length > 0) {
    telemetry.info('expiry warning delivered', { ...context, channels: sent });
    telemetry.count('ExpiryWarningsDelivered', sent.length);
  }
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length === 1) throw failed[0]?.reason;
  if (failed.length > 1) {
    throw new AggregateError(
      failed.map((r) => r.reason),
      `expiry warning ${itemKey} failed on every channel`,
    );
  }
}

/** The edge: one stream record in; throws to fail the record (retried, then the DLQ). */
export function alertsEdge(deps: AlertsDeps) {
  return (record: DynamoDBRecord) => alertRecord(record, deps);
}
