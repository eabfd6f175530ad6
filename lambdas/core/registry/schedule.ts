/**
 * Scan checks: after a push, regwatch asks ECR / Inspector for the scan result itself, in case
 * the scan event never comes. Checks ride on the scan-check SQS queue with a delay that grows
 * (1, 2, 4, 8 minutes, then every 15: SQS's longest delay) and never runs past the deadline,
 * `SCAN_TIMEOUT_MINUTES` after the push; a check at the deadline that still finds no result
 * records a `scan-missing` coverage gap.
 */
import * as z from 'zod';
import type { EcrRepositoryRef } from './events.ts';
import { ecrRepositoryName } from './identity.ts';

export const SCAN_CHECK_TYPE = 'scan-check';
/** SQS `DelaySeconds` maximum. */
export const MAX_SQS_DELAY_SECONDS = 900;
export const FIRST_CHECK_DELAY_SECONDS = 60;

/** The scan-check message (docs/stack-contract.md), plus the optional `imageTag` and `purpose`. */
export const scanCheckMessageSchema = z.object({
  type: z.literal(SCAN_CHECK_TYPE),
  registryId: z.string().regex(/^\d{12}$/, { message: 'expected a 12-digit account id' }),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { message: 'expected an AWS region' }),
  repositoryName: z.string().min(1),
  imageDigest: z.string().min(1),
  /** The push time: the deadline counts from here. */
  pushedAt: z.iso.datetime({ offset: true }),
  /** 1 for the first check after a push. */
  attempt: z.number().int().positive(),
  imageTag: z.string().nullable().default(null),
  /**
   * `push`: wait for the first scan result. `recount`: an Inspector finding the stored counts
   * miss; refresh them even though a result is stored. `signature`: verify the signatures a
   * `requireSignature` rule asks of the pushed digest, after the grace period.
   */
  purpose: z.enum(['push', 'recount', 'signature']).default('push'),
});
export type ScanCheckMessage = z.output<typeof scanCheckMessageSchema>;

/** The repository a scan check is about. */
export function scanCheckRepository(message: ScanCheckMessage): EcrRepositoryRef {
  return {
    account: message.registryId,
    region: message.region,
    repositoryName: message.repositoryName,
    repository: ecrRepositoryName(message.registryId, message.region, message.repositoryName),
  };
}

/** True when an SQS body looks like a scan check rather than an EventBridge event. */
export function isScanCheck(body: unknown): boolean {
  return (
    body !== null &&
    typeof body === 'object' &&
    (body as { type?: unknown }).type === SCAN_CHECK_TYPE
  );
}

/** The growing delay before check number `attempt` (1, 2, …), before the deadline clamp. */
export function backoffSeconds(attempt: number): number {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(`attempt must be a positive integer, got ${attempt}`);
  }
  // The exponent is bounded so huge attempt numbers stay finite; the cap applies from 5 on.
  return Math.min(
    MAX_SQS_DELAY_SECONDS,
    FIRST_CHECK_DELAY_SECONDS * 2 ** Math.min(attempt - 1, 10),
  );
}

/**
 * When to run check number `attempt`, `elapsedSeconds` after the push. Null when the deadline
 * has passed: the caller decides (scan-missing). The last check lands on the deadline.
 */
export function nextScanCheck(
  attempt: number,
  scanTimeoutMinutes: number,
  elapsedSeconds = 0,
): { attempt: number; delaySeconds: number } | null {
  if (!(scanTimeoutMinutes > 0)) {
    throw new RangeError(`scanTimeoutMinutes must be positive, got ${scanTimeoutMinutes}`);
  }
  const remaining = Math.ceil(scanTimeoutMinutes * 60 - Math.max(0, elapsedSeconds));
  if (remaining <= 0) return null;
  return { attempt, delaySeconds: Math.min(backoffSeconds(attempt), remaining) };
}

/** The whole schedule for a push handled at once: check times in seconds after the push. */
export function scanCheckSchedule(scanTimeoutMinutes: number): number[] {
  const times: number[] = [];
  let elapsed = 0;
  for (let attempt = 1; ; attempt++) {
    const next = nextScanCheck(attempt, scanTimeoutMinutes, elapsed);
    if (next === null) return times;
    elapsed += next.delaySeconds;
    times.push(elapsed);
  }
}
