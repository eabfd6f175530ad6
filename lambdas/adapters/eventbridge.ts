/**
 * Finding alerts as EventBridge events on the regwatch bus, for consumers other than SNS
 * subscribers (ticketing, SOAR, another account's bus): `source` `regwatch`, `detail-type`
 * `Finding`, `detail` the same `FindingAlert` the SNS message carries.
 */
import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { ExpiryWarning } from '../core/alerts/expiry-warning.ts';
import type { FindingAlert } from './sns.ts';

export const FINDING_EVENT_SOURCE = 'regwatch';
export const FINDING_EVENT_DETAIL_TYPE = 'Finding';

/** EventBridge accepted the request but refused the entry (or answered without a result). */
export class EventDeliveryError extends Error {
  readonly errorCode: string | null;
  constructor(message: string, errorCode: string | null) {
    super(message);
    this.name = 'EventDeliveryError';
    this.errorCode = errorCode;
  }
}

/**
 * Puts one finding event on `busName` and returns its event id. `PutEvents` reports refused
 * entries in the response rather than by throwing, so a `FailedEntryCount` above zero becomes
 * an `EventDeliveryError` here: the caller must retry, not carry on.
 */
export async function putFindingEvent(
  events: EventBridgeClient,
  busName: string,
  alert: FindingAlert,
  time: Date,
): Promise<string> {
  return putOne(
    events,
    busName,
    FINDING_EVENT_DETAIL_TYPE,
    alert,
    time,
    () => `the finding event for ${alert.finding.fingerprint}`,
  );
}

export const EXPIRY_WARNING_DETAIL_TYPE = 'Expiry Warning';

/** Puts one expiry warning (issue 11) on `busName`, detail-type `Expiry Warning`; its event id. */
export async function putExpiryWarningEvent(
  events: EventBridgeClient,
  busName: string,
  warning: ExpiryWarning,
  time: Date,
): Promise<string> {
  return putOne(
    events,
    busName,
    EXPIRY_WARNING_DETAIL_TYPE,
    warning,
    time,
    () => `the expiry warning for ${warning.rule.id}`,
  );
}

/** One entry of our source; a refused entry (reported, not thrown, by PutEvents) throws. */
async function putOne(
  events: EventBridgeClient,
  busName: string,
  detailType: string,
  detail: unknown,
  time: Date,
  what: () => string,
): Promise<string> {
  const out = await events.send(
    new PutEventsCommand({
      Entries: [
        {
          EventBusName: busName,
          Source: FINDING_EVENT_SOURCE,
          DetailType: detailType,
          Detail: JSON.stringify(detail),
          Time: time,
        },
      ],
    }),
  );
  const entry = out.Entries?.[0];
  if ((out.FailedEntryCount ?? 0) > 0 || !entry?.EventId) {
    throw new EventDeliveryError(
      `EventBridge refused ${what()}: ${entry?.ErrorCode ?? 'no event id'} ${entry?.ErrorMessage ?? ''}`.trim(),
      entry?.ErrorCode ?? null,
    );
  }
  return entry.EventId;
}
