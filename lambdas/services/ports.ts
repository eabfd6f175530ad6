/**
 * What the ingest services need from the outside world. Local mode wires these to dynalite
 * and the console; the Lambdas wire them to DynamoDB, SNS and EventBridge. Structural types,
 * so the stores in `lambdas/adapters` fit without wrappers.
 */
import type { Decider } from '../core/evaluate.ts';
import type { FindingCandidate, Severity, UpsertResult } from '../core/types.ts';

export interface AllowlistPort {
  /** The compiled allowlist, cached by the adapter. */
  current(): Promise<Decider>;
}

export interface FindingsPort {
  upsert(candidate: FindingCandidate, opts: { now: Date; ttlDays?: number }): Promise<UpsertResult>;
}

/** Told about every upsert whose outcome should alert (new / reopened, above the minimum). */
export interface AlertPort {
  notify(result: UpsertResult): Promise<void>;
}

export interface IngestDeps {
  allowlist: AllowlistPort;
  findings: FindingsPort;
  /** Absent on the AWS path, where a DynamoDB stream on the findings table drives alerts. */
  alerts?: AlertPort | undefined;
  clock: () => Date;
  minAlertSeverity: Severity;
  ttlDays?: number | undefined;
}
