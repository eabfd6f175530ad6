/**
 * Expiry warnings in the findings table (issue 11), beside the alert marks:
 * - the once-only mark, key `alerted#expiry-warning#<rule>@<expiresAt>` (`WarningMarks`);
 * - on AWS, the warning itself, key `expiry-warning#<rule>@<expiresAt>`
 *   (`FindingsStreamWarnings`): its INSERT on the findings stream reaches the `alerts`
 *   function like a new finding does (`ALERT_STREAM_FILTERS`), which publishes it to SNS and
 *   EventBridge with its own alert marks and retries.
 * Neither has a `status` or any index key, so neither shows in a findings query (nor matches
 * the finding filters); TTL (`expiresAt`, epoch seconds) removes both after the rule's expiry.
 */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  EXPIRY_WARNING_KIND,
  type ExpiryWarning,
  expiryWarningKey,
} from '../../core/alerts/expiry-warning.ts';
import type {
  ExpiryWarningNotifier,
  WarningMark,
  WarningMarksPort,
} from '../../services/reconcile-warning.ts';
import { isConditionalCheckFailed } from './common.ts';

/** Key prefix of a warning item (what the alerts stream filter matches on is `kind`). */
export const WARNING_ITEM_PREFIX = 'expiry-warning#';
/** Warning items outlive the rule's expiry by this much, then TTL removes them. */
const WARNING_ITEM_KEEP_DAYS = 14;

export const WARNING_MARK_PREFIX = 'alerted#expiry-warning#';
/** A claim older than this belongs to a sender that died: another may take it over. */
export const STALE_CLAIM_MS = 5 * 60_000;

export class WarningMarks implements WarningMarksPort {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(doc: DynamoDBDocumentClient, findingsTable: string) {
    this.#doc = doc;
    this.#table = findingsTable;
  }

  async get(key: string): Promise<WarningMark | undefined> {
    const out = await this.#doc.send(
      new GetCommand({
        TableName: this.#table,
        Key: { fingerprint: `${WARNING_MARK_PREFIX}${key}` },
        ConsistentRead: true,
      }),
    );
    if (!out.Item) return undefined;
    return {
      delivered: typeof out.Item.delivered === 'string' ? out.Item.delivered : undefined,
      claimedAt: typeof out.Item.claimedAt === 'number' ? out.Item.claimedAt : undefined,
      checkedAt: typeof out.Item.checkedAt === 'number' ? out.Item.checkedAt : undefined,
    };
  }

  async claim(key: string, now: Date, expiresAtEpoch: number): Promise<boolean> {
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { fingerprint: `${WARNING_MARK_PREFIX}${key}` },
          UpdateExpression: 'SET #claimed = :now, #expires = :expires ADD #attempts :one',
          ConditionExpression:
            'attribute_not_exists(#delivered) AND (attribute_not_exists(#claimed) OR #claimed < :stale)',
          ExpressionAttributeNames: {
            '#claimed': 'claimedAt',
            '#delivered': 'delivered',
            '#expires': 'expiresAt',
            '#attempts': 'attempts',
          },
          ExpressionAttributeValues: {
            ':now': now.getTime(),
            ':stale': now.getTime() - STALE_CLAIM_MS,
            ':expires': expiresAtEpoch,
            ':one': 1,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async nothingDepends(key: string, now: Date): Promise<void> {
    await this.#doc.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: { fingerprint: `${WARNING_MARK_PREFIX}${key}` },
        UpdateExpression: 'SET #checked = :now REMOVE #claimed',
        ExpressionAttributeNames: { '#checked': 'checkedAt', '#claimed': 'claimedAt' },
        ExpressionAttributeValues: { ':now': now.getTime() },
      }),
    );
  }

  async delivered(key: string, id: string, now: Date): Promise<void> {
    await this.#doc.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: { fingerprint: `${WARNING_MARK_PREFIX}${key}` },
        UpdateExpression: 'SET #delivered = :id, #at = :at',
        ExpressionAttributeNames: { '#delivered': 'delivered', '#at': 'deliveredAt' },
        ExpressionAttributeValues: { ':id': id, ':at': now.toISOString() },
      }),
    );
  }
}

/**
 * The AWS notifier: writes the warning as an item of the findings table, once (a conditional
 * Put: a retried run writes nothing, so the stream carries one INSERT). Returns its key.
 */
export class FindingsStreamWarnings implements ExpiryWarningNotifier {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(doc: DynamoDBDocumentClient, findingsTable: string) {
    this.#doc = doc;
    this.#table = findingsTable;
  }

  async send(warning: ExpiryWarning): Promise<string> {
    const key = `${WARNING_ITEM_PREFIX}${expiryWarningKey(warning.rule)}`;
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            fingerprint: key,
            kind: EXPIRY_WARNING_KIND,
            warning,
            expiresAt:
              Math.floor(Date.parse(warning.rule.expiresAt) / 1000) +
              WARNING_ITEM_KEEP_DAYS * 86_400,
          },
          ConditionExpression: 'attribute_not_exists(fingerprint)',
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
    return key;
  }
}
