/**
 * The `reconcile` edge: one function, three event sources, told apart by shape (zod):
 * - the allowlist table's stream (`Records` from `aws:dynamodb`): each record is read into a
 *   rule or settings change; a malformed one is a `ValidationError` reported in
 *   `batchItemFailures` (retried, bisected, then sent to the mapping's on-failure queue) while
 *   the rest of the batch is applied — narrowed to the changed rules' registries, or a full
 *   pass fanned out by cluster;
 * - the reconcile queue (`Records` from `aws:sqs`): one cluster (or the cluster listing) per
 *   message, stopping before the time runs out with a continuation; partial batch responses;
 * - the two schedules (`{"sweep": boolean}`): the minute run (expiries, expiry warnings, a
 *   safety net for allowlist changes) and the sweep.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Context, DynamoDBBatchResponse, SQSBatchResponse, SQSRecord } from 'aws-lambda';
import * as z from 'zod';
import { META_ID } from '../../adapters/dynamodb/allowlist.ts';
import { zodIssues } from '../../adapters/dynamodb/common.ts';
import { compileAllowlist } from '../../core/allowlist/compile-allowlist.ts';
import { type AllowlistRule, validateRule } from '../../core/allowlist/schema.ts';
import { AllowlistError, ValidationError } from '../../core/errors.ts';
import { type ReconcileMessage, reconcileMessageSchema } from '../../core/reconcile-message.ts';
import type { ReconcileReport } from '../../services/reconcile.ts';
import {
  fanOutByCluster,
  type RunBudget,
  reconcileCluster,
} from '../../services/reconcile-fanout.ts';
import { scheduledReconcile } from '../../services/reconcile-schedule.ts';
import { type AllowlistItemChange, reconcileStreamBatch } from '../../services/reconcile-stream.ts';
import { sendDueExpiryWarnings } from '../../services/reconcile-warning.ts';
import { sqsBatchHandler } from '../commons/batch.ts';
import type { ReconcileWiring } from '../compose/reconcile.ts';

/** Time left when an invocation stops and sends a continuation (one page takes far less). */
export const RESERVE_MS = 120_000;
const BOOKKEEPING = new Set(['position', 'updatedAt']);

const imageSchema = z.record(z.string(), z.unknown());
const streamRecordSchema = z.object({
  eventID: z.string().optional(),
  eventName: z.enum(['INSERT', 'MODIFY', 'REMOVE']),
  eventSource: z.literal('aws:dynamodb'),
  dynamodb: z.object({
    Keys: z.object({ id: z.object({ S: z.string().min(1).max(256) }) }),
    NewImage: imageSchema.optional(),
    OldImage: imageSchema.optional(),
    SequenceNumber: z.string().optional(),
  }),
});
type StreamRecord = z.infer<typeof streamRecordSchema>;

const recordsSchema = z.object({
  Records: z
    .array(z.object({ eventSource: z.string().optional() }).passthrough())
    .min(1)
    .max(10_000),
});
const scheduleSchema = z.strictObject({ sweep: z.boolean() });

function image(raw: Record<string, unknown>, what: string): Record<string, unknown> {
  try {
    return unmarshall(raw as Record<string, AttributeValue>);
  } catch (error) {
    throw new ValidationError(`${what} is not a DynamoDB image: ${(error as Error).message}`);
  }
}

function ruleOf(
  raw: Record<string, unknown>,
  what: string,
): { rule: AllowlistRule; position: number | null } {
  const item = image(raw, what);
  const fields = Object.fromEntries(Object.entries(item).filter(([k]) => !BOOKKEEPING.has(k)));
  try {
    return {
      rule: validateRule(fields, what),
      position: typeof item.position === 'number' ? item.position : null,
    };
  } catch (error) {
    if (error instanceof AllowlistError) throw new ValidationError(error.message, error.issues);
    throw error;
  }
}

/** What one allowlist-table stream record changed; a `ValidationError` for a malformed one. */
export function allowlistChange(raw: unknown): AllowlistItemChange {
  const parsed = streamRecordSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = zodIssues(parsed.error);
    throw new ValidationError(
      `allowlist stream record is malformed: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      issues,
    );
  }
  const record: StreamRecord = parsed.data;
  const { NewImage, OldImage } = record.dynamodb;
  const id = record.dynamodb.Keys.id.S;
  const what = `stream record ${record.eventID ?? '?'} (${record.eventName} ${JSON.stringify(id)})`;
  const needNew = record.eventName !== 'REMOVE';
  const needOld = record.eventName !== 'INSERT';
  if ((needNew && !NewImage) || (needOld && !OldImage)) {
    throw new ValidationError(
      `${what} lacks its ${needNew && !NewImage ? 'new' : 'old'} image: the stream must carry NEW_AND_OLD_IMAGES`,
    );
  }
  if (id === META_ID) {
    const settings = (img: Record<string, unknown> | undefined) => {
      if (!img) return 'null';
      const item = image(img, what);
      return JSON.stringify([item.severities ?? null, item.pullThroughCache ?? null], (_k, v) =>
        v !== null && typeof v === 'object' && !Array.isArray(v)
          ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
          : v,
      );
    };
    return { kind: 'settings', changed: settings(OldImage) !== settings(NewImage) };
  }
  const before = OldImage ? ruleOf(OldImage, `${what} old image`) : undefined;
  const after = NewImage ? ruleOf(NewImage, `${what} new image`) : undefined;
  for (const side of [before, after]) {
    if (side && side.rule.id !== id)
      throw new ValidationError(
        `${what}: the image's id ${JSON.stringify(side.rule.id)} is not its key`,
      );
  }
  return { kind: 'rule', before, after };
}

function budgetOf(context: Context): RunBudget {
  return { remainingMs: () => context.getRemainingTimeInMillis(), reserveMs: RESERVE_MS };
}

/** The metric dimension of a fanned-out pass: what started it, from a closed set. */
function triggerOf(cause: string): string {
  const prefix = cause.split(':')[0] ?? '';
  return ['stream', 'schedule', 'sweep'].includes(prefix)
    ? prefix === 'schedule'
      ? 'minute'
      : prefix
    : 'cluster';
}

const total = (r: ReconcileReport) => Object.values(r.resolved).reduce((a, b) => a + b, 0);

export function reconcileEdge(wiring: ReconcileWiring) {
  const { deps, telemetry, config } = wiring;

  const report = (trigger: string, r: ReconcileReport, fields: Record<string, unknown>) => {
    telemetry.count('ReconcileChanged', r.changed, { name: 'trigger', value: trigger });
    telemetry.count('ReconcileResolved', total(r));
    telemetry.info('reconciled', {
      trigger,
      ...fields,
      judged: r.judged,
      changed: r.changed,
      opened: r.opened,
      resolved: r.resolved,
    });
  };

  async function stream(records: unknown[], context: Context): Promise<DynamoDBBatchResponse> {
    const changes: AllowlistItemChange[] = [];
    const failures: { itemIdentifier: string }[] = [];
    for (const record of records) {
      try {
        changes.push(allowlistChange(record));
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        const r = record as { eventID?: unknown; dynamodb?: { SequenceNumber?: unknown } };
        const id = String(r.dynamodb?.SequenceNumber ?? r.eventID ?? '');
        telemetry.error('allowlist stream record refused', { record: id, error: error.message });
        telemetry.count('RecordsFailed');
        // Without an identifier Lambda cannot retry just this record: fail the batch instead.
        if (id === '') throw error;
        failures.push({ itemIdentifier: id });
      }
    }
    const outcome = await reconcileStreamBatch(changes, deps, budgetOf(context));
    report('stream', outcome.report, {
      scope: outcome.scope,
      full: outcome.full,
      version: outcome.version,
      clusters: outcome.fanOut?.clusters,
      refused: failures.length,
    });
    return { batchItemFailures: failures };
  }

  const queue = sqsBatchHandler(
    async (record: SQSRecord, context: Context) => {
      let body: unknown;
      try {
        body = JSON.parse(record.body);
      } catch {
        throw new ValidationError(`reconcile message ${record.messageId} is not JSON`);
      }
      const parsed = reconcileMessageSchema.safeParse(body);
      if (!parsed.success) {
        const issues = zodIssues(parsed.error);
        throw new ValidationError(
          `reconcile message ${record.messageId} is malformed: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
          issues,
        );
      }
      const message: ReconcileMessage = parsed.data;
      if (message.kind === 'clusters') {
        const out = await fanOutByCluster(deps, message, budgetOf(context));
        telemetry.info('fanned out', { cause: message.cause, ...out });
        return;
      }
      const snapshot = await deps.allowlist.load();
      const r = await reconcileCluster(
        message,
        compileAllowlist(snapshot.document),
        deps,
        budgetOf(context),
      );
      // A fanned-out pass counts under what started it: a healthy sweep's clusters publish 0.
      report(triggerOf(message.cause), r, {
        cluster: message.cluster,
        cause: message.cause,
        continued: r.next !== undefined,
      });
    },
    // One cluster per invocation has the whole time budget (the mapping's batch size is 1).
    { parallel: false },
  );

  async function scheduled(sweep: boolean, context: Context) {
    const outcome = await scheduledReconcile(
      {
        ...deps,
        fanOut: (cause) => fanOutByCluster(deps, { cause }, budgetOf(context)),
      },
      { sweep, maxPages: config.RECONCILE_MAX_PAGES },
    );
    report(sweep ? 'sweep' : 'minute', outcome.report, {
      causes: outcome.causes,
      scope: outcome.scope,
      clusters: outcome.fanOut?.clusters,
    });
    let warnings: Record<string, string> = {};
    if (!sweep && config.EXCEPTION_WARNING_DAYS > 0) {
      warnings = await sendDueExpiryWarnings(
        outcome.document,
        compileAllowlist(outcome.document),
        wiring.warnings,
        { warningDays: config.EXCEPTION_WARNING_DAYS, maxPages: config.RECONCILE_MAX_PAGES },
      );
      const sent = Object.values(warnings).filter((w) => w === 'sent').length;
      if (sent > 0) telemetry.count('ExpiryWarningsSent', sent);
    }
    return {
      causes: outcome.causes,
      scope: outcome.scope,
      changed: outcome.report.changed,
      ...(outcome.fanOut ? { clusters: outcome.fanOut.clusters } : {}),
      warnings,
    };
  }

  return async (event: unknown, context: Context) => {
    const records = recordsSchema.safeParse(event);
    if (records.success) {
      const source = records.data.Records[0]?.eventSource;
      if (source === 'aws:dynamodb') return stream(records.data.Records, context);
      if (source === 'aws:sqs')
        return queue(event as Parameters<typeof queue>[0], context) as Promise<SQSBatchResponse>;
      throw new ValidationError(`reconcile: records from ${String(source)} are not handled here`);
    }
    const schedule = scheduleSchema.safeParse(event);
    if (!schedule.success)
      throw new ValidationError(
        'reconcile: not a stream batch, a queue batch or a schedule ({"sweep": boolean})',
      );
    return scheduled(schedule.data.sweep, context);
  };
}
