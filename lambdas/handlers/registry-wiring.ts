/**
 * What `ecr-push` and `scan-status` share: their configuration, the registry service's
 * dependencies built from it, and the handling of one SQS message body.
 *
 * Per message, exactly one of:
 * - handled: the service ran (its outcome is logged and counted);
 * - ignored: a valid event with nothing to do (an ECR DELETE): logged, counted, acknowledged;
 * - rejected: a well-formed event naming an image that cannot exist (AWS's sample digests):
 *   logged with the reason, counted (`RegistryEventsRejected`), acknowledged. Retrying cannot
 *   help and a dead letter would page someone over a documentation sample;
 * - failed: the body is not an event of the documented shape (`ValidationError`), or storage /
 *   an AWS API failed. The record alone fails (partial batch response), is retried, and after
 *   five receives lands in the queue's DLQ, where it can be redriven after a fix.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ECRClient } from '@aws-sdk/client-ecr';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import {
  AllowlistStore,
  CachedAllowlist,
  documentClient,
  FindingsStore,
  ImagesStore,
  type InvalidItemReport,
} from '../adapters/dynamodb/index.ts';
import { EcrAdapter } from '../adapters/ecr.ts';
import { lambdaSignatureVerifier, signatureConfigSchema } from '../adapters/signatures/lambda.ts';
import { SqsScanCheckScheduler } from '../adapters/sqs.ts';
import { ValidationError } from '../core/errors.ts';
import { parseRegistryEvent, type RegistryEvent } from '../core/registry/events.ts';
import { isScanCheck, scanCheckMessageSchema } from '../core/registry/schedule.ts';
import { SEVERITIES } from '../core/types.ts';
import type { AllowlistPort } from '../services/ports.ts';
import {
  handleRegistryEvent,
  handleScanCheck,
  type RegistryDeps,
  type RegistryOutcome,
} from '../services/registry.ts';
import { logger, metrics } from './commons/powertools.ts';

const whole = (what: string) =>
  z.coerce
    .number({ error: `${what} must be a whole number` })
    .int(`${what} must be a whole number`)
    .min(0, `${what} must not be negative`);

/** The variables `scan-status` gets from the stack. */
export const scanStatusConfigSchema = z.object({
  IMAGES_TABLE: z.string(),
  FINDINGS_TABLE: z.string(),
  SCAN_CHECK_QUEUE_URL: z.url(),
  SCAN_TIMEOUT_MINUTES: whole('SCAN_TIMEOUT_MINUTES').min(1, 'SCAN_TIMEOUT_MINUTES must be ≥ 1'),
  VULNERABLE_SEVERITY_THRESHOLD: z.enum(SEVERITIES).default('critical'),
  /** 0 keeps findings forever. */
  FINDINGS_TTL_DAYS: whole('FINDINGS_TTL_DAYS').default(0),
  /**
   * Signature checks of pushes (docs/signatures.md) run on the scan-check queue: with the
   * allowlist table set, `scan-status` can run them too.
   */
  ALLOWLIST_TABLE: z.string().optional(),
  ALLOWLIST_CACHE_TTL_SECONDS: whole('ALLOWLIST_CACHE_TTL_SECONDS').default(60),
  SIGNATURE_GRACE_SECONDS: whole('SIGNATURE_GRACE_SECONDS').max(900).default(300),
  ...signatureConfigSchema.shape,
});

/** `ecr-push` judges the pushed reference, so it also reads the allowlist. */
export const ecrPushConfigSchema = scanStatusConfigSchema.extend({
  ALLOWLIST_TABLE: z.string(),
});

export type ScanStatusConfig = z.infer<typeof scanStatusConfigSchema>;
export type EcrPushConfig = z.infer<typeof ecrPushConfigSchema>;

/** One client per region, made on first use and kept for warm invocations. */
function perRegion<T>(make: (region: string) => T): (region: string) => T {
  const clients = new Map<string, T>();
  return (region) => {
    let client = clients.get(region);
    if (!client) {
      client = make(region);
      clients.set(region, client);
    }
    return client;
  };
}

/**
 * What only one of the two functions uses is passed in by its entry module, so that the other
 * function's bundle leaves it out: `ecr-push` judges pushes (the allowlist); `scan-status` never
 * judges a push. Scan lookups need only ECR, which both bundle anyway.
 */
export interface RegistryPorts {
  /** Given the document client the stores share. */
  allowlist?: (doc: DynamoDBDocumentClient) => AllowlistPort;
}

/** The registry service's dependencies over DynamoDB, ECR and SQS, plus `ports`. */
export function buildRegistryDeps(
  config: ScanStatusConfig,
  ports: RegistryPorts = {},
): RegistryDeps {
  const doc = documentClient(new DynamoDBClient({}));
  const onInvalid = (report: InvalidItemReport) =>
    logger.warn('invalid item skipped on read', { ...report });
  const allowlistTable = config.ALLOWLIST_TABLE;
  const allowlist =
    ports.allowlist?.(doc) ??
    (allowlistTable
      ? cachedAllowlist({ ...config, ALLOWLIST_TABLE: allowlistTable })(doc)
      : undefined);
  // Signatures are verified where pushes are judged (the allowlist is known).
  const signatures = allowlist ? lambdaSignatureVerifier(config) : undefined;
  return {
    images: new ImagesStore(doc, config.IMAGES_TABLE, { onInvalid }),
    findings: new FindingsStore(doc, config.FINDINGS_TABLE, { onInvalid }),
    allowlist,
    signatures,
    signatureGraceSeconds: config.SIGNATURE_GRACE_SECONDS,
    onSignaturePushed: (digest) => signatures?.cache.invalidate(digest),
    scheduler: new SqsScanCheckScheduler(new SQSClient({}), config.SCAN_CHECK_QUEUE_URL),
    ecr: new EcrAdapter(perRegion((region) => new ECRClient({ region }))),
    clock: () => new Date(),
    scanTimeoutMinutes: config.SCAN_TIMEOUT_MINUTES,
    vulnerableThreshold: config.VULNERABLE_SEVERITY_THRESHOLD,
    ttlDays: config.FINDINGS_TTL_DAYS === 0 ? undefined : config.FINDINGS_TTL_DAYS,
    log: {
      info: (message, fields) => logger.info(message, { ...fields }),
      warn: (message, fields) => logger.warn(message, { ...fields }),
    },
  };
}

/** `ecr-push`'s allowlist: the stored rules, compiled and cached for the configured TTL. */
export function cachedAllowlist(config: EcrPushConfig) {
  return (doc: DynamoDBDocumentClient): AllowlistPort => {
    const cached = new CachedAllowlist(new AllowlistStore(doc, config.ALLOWLIST_TABLE), {
      ttlMs: config.ALLOWLIST_CACHE_TTL_SECONDS * 1000,
      onError: (error) => {
        logger.error('allowlist reload failed; the last good allowlist stays in use', { error });
        metrics.addMetric('AllowlistReloadFailed', 'Count', 1);
      },
    });
    return { current: () => cached.get() };
  };
}

/* ------------------------------------------------------------------ one message */

export type MessageResult =
  | { status: 'handled'; outcome: RegistryOutcome }
  | { status: 'ignored' | 'rejected'; reason: string };

export interface MessageOptions {
  /** The event kinds this function's queue should carry; others are ignored with a reason. */
  kinds: readonly RegistryEvent['kind'][];
  /** Whether scan-check messages are expected on this queue. */
  scanChecks: boolean;
}

/** Logs and counts what the service did. */
function report(outcome: RegistryOutcome, messageId: string): void {
  const alerting = outcome.findings.filter((f) => f.counted && f.outcome !== 'repeat').length;
  logger.info('registry message handled', {
    messageId,
    action: outcome.action,
    repository: outcome.image?.repository,
    digest: outcome.image?.digest,
    scanStatus: outcome.image?.scanStatus,
    findings: outcome.findings.map((f) => ({
      id: f.finding.id,
      rule: f.finding.rule,
      outcome: f.outcome,
      counted: f.counted,
    })),
    scheduled: outcome.scheduled,
    detail: outcome.detail,
  });
  if (alerting > 0) metrics.addMetric('FindingsNewOrReopened', 'Count', alerting);
  if (outcome.scheduled) metrics.addMetric('ScanChecksScheduled', 'Count', 1);
  if (outcome.action === 'scan-missing') metrics.addMetric('ScanMissing', 'Count', 1);
}

/**
 * Handles one SQS message body (an EventBridge event, or a scan check). Returns what happened;
 * throws `ValidationError` for a body of the wrong shape and lets service errors through, so the
 * batch handler fails that record alone.
 */
export async function processRegistryMessage(
  body: string,
  messageId: string,
  deps: RegistryDeps,
  options: MessageOptions,
): Promise<MessageResult> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new ValidationError(`SQS message ${messageId}: body is not JSON`);
  }

  if (isScanCheck(parsed)) {
    if (!options.scanChecks) {
      throw new ValidationError(`SQS message ${messageId}: a scan check on a queue for events`);
    }
    const check = scanCheckMessageSchema.safeParse(parsed);
    if (!check.success) {
      const issues = check.error.issues.map((i) => ({
        path: i.path.map(String).join('.') || '(root)',
        message: i.message,
      }));
      throw new ValidationError(
        `SQS message ${messageId}: invalid scan check (${issues.map((i) => `${i.path}: ${i.message}`).join('; ')})`,
        issues,
      );
    }
    const outcome = await handleScanCheck(check.data, deps);
    report(outcome, messageId);
    return { status: 'handled', outcome };
  }

  const result = parseRegistryEvent(parsed);
  switch (result.status) {
    case 'invalid':
      throw new ValidationError(`SQS message ${messageId}: ${result.reason}`);
    case 'rejected':
      logger.warn('registry event rejected: it can never be processed', {
        messageId,
        eventId: result.eventId,
        reason: result.reason,
      });
      metrics.addMetric('RegistryEventsRejected', 'Count', 1);
      return { status: 'rejected', reason: result.reason };
    case 'ignored':
      logger.info('registry event ignored', {
        messageId,
        eventId: result.eventId,
        reason: result.reason,
      });
      metrics.addMetric('RegistryEventsIgnored', 'Count', 1);
      return { status: 'ignored', reason: result.reason };
    case 'ok': {
      const event = result.event;
      if (!options.kinds.includes(event.kind)) {
        const reason = `${event.kind} event ${event.eventId} is not handled by this function`;
        logger.info('registry event ignored', { messageId, eventId: event.eventId, reason });
        metrics.addMetric('RegistryEventsIgnored', 'Count', 1);
        return { status: 'ignored', reason };
      }
      const outcome = await handleRegistryEvent(event, deps);
      report(outcome, messageId);
      return { status: 'handled', outcome };
    }
  }
}
