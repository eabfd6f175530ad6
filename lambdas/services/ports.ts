/**
 * What the ingest services need from the outside world. Local mode wires these to dynalite
 * and the console; the Lambdas wire them to DynamoDB, SNS and EventBridge. Structural types,
 * so the stores in `lambdas/adapters` fit without wrappers.
 */

import type { AppliedPlan, StoredEntry } from '../adapters/dynamodb/inventory.ts';
import type { Decider } from '../core/evaluate.ts';
import type { InventoryEntry, InventoryEvent } from '../core/inventory.ts';
import type {
  AutoResolutionReason,
  Decision,
  Finding,
  FindingCandidate,
  ImageRecord,
  Scope,
  Severity,
  UpsertResult,
  WorkloadRef,
} from '../core/types.ts';
import type { OrphanFindingsPort } from './resync-orphans.ts';

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

/** What is known of pushed images (the Images table): scan status and severity counts. */
export interface ImagesPort {
  lookup(digest: string, repository?: string | null): Promise<ImageRecord | undefined>;
}

/**
 * Decides an image with the signatures its rules require verified (`SignatureVerifier` fits):
 * `digest` is what ran (the pod's imageID digest), null when not known (never a pass).
 */
export interface SignaturesPort {
  decide(
    decider: Decider,
    image: string,
    scope: Scope,
    now: Date,
    digest: string | null,
  ): Promise<Decision>;
}

/** What ingest needs of the Inventory table (`InventoryStore` fits). */
export interface InventoryIngestPort {
  applyToWorkload(
    cluster: string,
    namespace: string,
    workload: WorkloadRef,
    event: InventoryEvent,
  ): Promise<AppliedPlan>;
  applyToFound(found: readonly InventoryEntry[], event: InventoryEvent): Promise<AppliedPlan>;
  query(filter: { cluster?: string; namespace?: string }): AsyncGenerator<StoredEntry>;
  resyncStarted(cluster: string, resyncId: string, observedAt: string): Promise<void>;
  resyncStart(cluster: string, resyncId: string): Promise<string | null>;
  /** One entry by its identity, read consistently (after what is queued). */
  get(
    cluster: string,
    namespace: string,
    workload: WorkloadRef,
    key: Pick<InventoryEntry, 'container' | 'reference' | 'image'>,
  ): Promise<StoredEntry | undefined>;
  /**
   * An adapter that defers its writes (local mode's `LocalInventoryStore`) sends them here;
   * ingest calls it before it answers, so an answered batch's inventory is durable.
   */
  flush?(): Promise<void>;
}

/** What auto-resolution needs of the Findings table (`FindingsStore` fits). */
export interface FindingsResolverPort {
  autoResolve(
    fingerprint: string,
    reason: AutoResolutionReason,
    now: Date,
  ): Promise<Finding | null>;
}

export interface IngestDeps {
  allowlist: AllowlistPort;
  findings: FindingsPort;
  /** Absent on the AWS path, where a DynamoDB stream on the findings table drives alerts. */
  alerts?: AlertPort | undefined;
  clock: () => Date;
  minAlertSeverity: Severity;
  ttlDays?: number | undefined;
  /**
   * With both set, a container whose digest is known to carry vulnerabilities at or above the
   * threshold gets a `vulnerable-image` finding too ("digest X is running and has 3 CRITICAL").
   */
  images?: ImagesPort | undefined;
  vulnerableThreshold?: Severity | undefined;
  /**
   * Verifies signatures for rules with `requireSignature`. Without it such rules fail closed
   * (`unsigned-image`, not verified).
   */
  signatures?: SignaturesPort | undefined;
  /** With it, every observation keeps the inventory current and resolves what it ended. */
  inventory?:
    | { store: InventoryIngestPort; findings: FindingsResolverPort & OrphanFindingsPort }
    | undefined;
}
