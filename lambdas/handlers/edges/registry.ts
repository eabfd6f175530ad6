/**
 * The registry functions' edge (`ecr-push`, `scan-status`, and local mode's `/v1/events` for
 * registry events): one SQS message body in, one outcome out.
 *
 * Per message, exactly one of:
 * - handled: the service ran (its outcome is logged and counted);
 * - ignored: a valid event with nothing to do (an ECR DELETE, an Inspector2 event about an
 *   EC2 instance or a Lambda function): logged, counted, acknowledged;
 * - rejected: a well-formed event naming an image that cannot exist (AWS's sample digests):
 *   logged with the reason, counted (`RegistryEventsRejected`), acknowledged. Retrying cannot
 *   help and a dead letter would page someone over a documentation sample;
 * - failed: the body is not an event of the documented shape (`ValidationError`), or storage /
 *   an AWS API failed. The record alone fails (partial batch response), is retried, and after
 *   five receives lands in the queue's DLQ, where it can be redriven after a fix.
 */
import type { SQSRecord } from 'aws-lambda';
import { ValidationError } from '../../core/errors.ts';
import { parseRegistryEvent, type RegistryEvent } from '../../core/registry/events.ts';
import { isScanCheck, scanCheckMessageSchema } from '../../core/registry/schedule.ts';
import {
  handleRegistryEvent,
  handleScanCheck,
  type RegistryDeps,
  type RegistryOutcome,
} from '../../services/registry.ts';
import { silentTelemetry, type Telemetry } from '../commons/telemetry.ts';

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
function report(outcome: RegistryOutcome, messageId: string, telemetry: Telemetry): void {
  const alerting = outcome.findings.filter((f) => f.counted && f.outcome !== 'repeat').length;
  telemetry.info('registry message handled', {
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
  if (alerting > 0) telemetry.count('FindingsNewOrReopened', alerting);
  if (outcome.scheduled) telemetry.count('ScanChecksScheduled');
  if (outcome.action === 'scan-missing') telemetry.count('ScanMissing');
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
  telemetry: Telemetry = silentTelemetry,
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
    report(outcome, messageId, telemetry);
    return { status: 'handled', outcome };
  }

  const result = parseRegistryEvent(parsed);
  switch (result.status) {
    case 'invalid':
      throw new ValidationError(`SQS message ${messageId}: ${result.reason}`);
    case 'rejected':
      telemetry.warn('registry event rejected: it can never be processed', {
        messageId,
        eventId: result.eventId,
        reason: result.reason,
      });
      telemetry.count('RegistryEventsRejected');
      return { status: 'rejected', reason: result.reason };
    case 'ignored':
      telemetry.info('registry event ignored', {
        messageId,
        eventId: result.eventId,
        reason: result.reason,
      });
      telemetry.count('RegistryEventsIgnored');
      return { status: 'ignored', reason: result.reason };
    case 'ok': {
      const event = result.event;
      if (!options.kinds.includes(event.kind)) {
        const reason = `${event.kind} event ${event.eventId} is not handled by this function`;
        telemetry.info('registry event ignored', { messageId, eventId: event.eventId, reason });
        telemetry.count('RegistryEventsIgnored');
        return { status: 'ignored', reason };
      }
      const outcome = await handleRegistryEvent(event, deps);
      report(outcome, messageId, telemetry);
      return { status: 'handled', outcome };
    }
  }
}

/** `ecr-push`'s per-record work. */
export function ecrPushEdge(deps: RegistryDeps, telemetry: Telemetry = silentTelemetry) {
  return (record: Pick<SQSRecord, 'body' | 'messageId'>) =>
    processRegistryMessage(
      record.body,
      record.messageId,
      deps,
      { kinds: ['ecr-push'], scanChecks: false },
      telemetry,
    );
}

/** `scan-status`'s per-record work: scan results, Inspector2 findings, scan checks. */
export function scanStatusEdge(deps: RegistryDeps, telemetry: Telemetry = silentTelemetry) {
  return (record: Pick<SQSRecord, 'body' | 'messageId'>) =>
    processRegistryMessage(
      record.body,
      record.messageId,
      deps,
      { kinds: ['scan', 'inspector-finding'], scanChecks: true },
      telemetry,
    );
}
