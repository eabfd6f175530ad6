/**
 * Once-only marks for expiry warnings, in the findings table beside the alert marks: key
 * `alerted#expiry-warning#<rule>@<expiresAt>`. Like those, a mark has no `status` and none of
 * the index keys, so it never matches the alert stream filters and never shows in a findings
 * query; TTL (`expiresAt`, epoch seconds) removes it after the rule's expiry.
 */
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { WarningMark, WarningMarksPort } from '../../services/reconcile-warning.ts';
import { isConditionalCheckFailed } from './common.ts';

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
