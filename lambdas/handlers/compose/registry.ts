/**
 * Composition root of the registry functions (`ecr-push`, `scan-status`): the registry
 * service's dependencies over DynamoDB, ECR and SQS, built from the function's typed config.
 * Local mode builds the same dependencies with its own DynamoDB client and an in-process
 * scan-check scheduler.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ECRClient } from '@aws-sdk/client-ecr';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  AllowlistStore,
  CachedAllowlist,
  documentClient,
  FindingsStore,
  ImagesStore,
  type InvalidItemReport,
  InventoryStore,
} from '../../adapters/dynamodb/index.ts';
import { EcrAdapter } from '../../adapters/ecr.ts';
import { lambdaSignatureVerifier } from '../../adapters/signatures/lambda.ts';
import { SqsScanCheckScheduler } from '../../adapters/sqs.ts';
import { ConfigError } from '../../core/errors.ts';
import type { ImageRecord } from '../../core/types.ts';
import type { AllowlistPort, SignaturesPort } from '../../services/ports.ts';
import { reconcileDigest } from '../../services/reconcile.ts';
import type { RegistryDeps, ScanCheckScheduler } from '../../services/registry.ts';
import { silentTelemetry, type Telemetry } from '../commons/telemetry.ts';
import type { EcrPushConfig, ScanStatusConfig } from './config.ts';

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

export interface RegistryBuildOptions {
  /** The document client the stores share (local mode, tests); else one over the default. */
  doc?: DynamoDBDocumentClient;
  /**
   * `ecr-push` judges pushes (the allowlist); `scan-status` never does. Given the document
   * client the stores share.
   */
  allowlist?: (doc: DynamoDBDocumentClient) => AllowlistPort;
  /** Instead of the SQS scheduler (local mode's timers). */
  scheduler?: ScanCheckScheduler;
  /** `null`: no ECR lookups at all (local mode, which has no registry to ask). */
  ecr?: ((region: string) => ECRClient) | null;
  telemetry?: Telemetry;
  clock?: () => Date;
  /**
   * The signature verifier and its cache instead of the one made from the configuration;
   * `null` for none (pushes covered by `requireSignature` then fail closed).
   */
  signatures?: (SignaturesPort & { cache?: { invalidate(digest: string): unknown } }) | null;
}

/** The Lambdas' config, or local mode's: no queue URL, its timers schedule the checks. */
export type LocalRegistryConfig = Omit<ScanStatusConfig, 'SCAN_CHECK_QUEUE_URL'> & {
  SCAN_CHECK_QUEUE_URL?: string | undefined;
};

/** The registry service's dependencies for `config`. */
export function buildRegistryDeps(
  config: LocalRegistryConfig,
  options: RegistryBuildOptions = {},
): RegistryDeps {
  if (!options.scheduler && !config.SCAN_CHECK_QUEUE_URL) {
    throw new ConfigError('SCAN_CHECK_QUEUE_URL is not set and no scan-check scheduler is given');
  }
  const telemetry = options.telemetry ?? silentTelemetry;
  const doc = options.doc ?? documentClient(new DynamoDBClient({}));
  const onInvalid = (report: InvalidItemReport) =>
    telemetry.warn('invalid item skipped on read', { ...report });
  const ecr =
    options.ecr === null
      ? undefined
      : new EcrAdapter(options.ecr ?? perRegion((region) => new ECRClient({ region })));
  const allowlist =
    options.allowlist?.(doc) ??
    (config.ALLOWLIST_TABLE
      ? cachedAllowlist({ ...config, ALLOWLIST_TABLE: config.ALLOWLIST_TABLE }, telemetry)(doc)
      : undefined);
  // Signatures are verified where pushes are judged (the allowlist is known).
  const signatures =
    options.signatures === null
      ? undefined
      : (options.signatures ?? (allowlist ? lambdaSignatureVerifier(config) : undefined));
  const images = new ImagesStore(doc, config.IMAGES_TABLE, { onInvalid });
  const findings = new FindingsStore(doc, config.FINDINGS_TABLE, { onInvalid });
  const clock = options.clock ?? (() => new Date());
  return {
    onScanRecorded: scanReachesInventory(config, doc, images, findings, clock, onInvalid),
    images,
    findings,
    allowlist,
    signatures,
    signatureGraceSeconds: config.SIGNATURE_GRACE_SECONDS,
    onSignaturePushed: (digest) => signatures?.cache?.invalidate(digest),
    scheduler:
      options.scheduler ??
      new SqsScanCheckScheduler(new SQSClient({}), config.SCAN_CHECK_QUEUE_URL ?? ''),
    ecr,
    clock,
    scanTimeoutMinutes: config.SCAN_TIMEOUT_MINUTES,
    vulnerableThreshold: config.VULNERABLE_SEVERITY_THRESHOLD,
    ttlDays: config.FINDINGS_TTL_DAYS === 0 ? undefined : config.FINDINGS_TTL_DAYS,
    log: {
      info: (message, fields) => telemetry.info(message, { ...fields }),
      warn: (message, fields) => telemetry.warn(message, { ...fields }),
    },
  };
}

/** `ecr-push`'s allowlist: the stored rules, compiled and cached for the configured TTL. */
export function cachedAllowlist(
  config: Pick<EcrPushConfig, 'ALLOWLIST_TABLE' | 'ALLOWLIST_CACHE_TTL_SECONDS'>,
  telemetry: Telemetry = silentTelemetry,
) {
  return (doc: DynamoDBDocumentClient): AllowlistPort => {
    const cached = new CachedAllowlist(new AllowlistStore(doc, config.ALLOWLIST_TABLE), {
      ttlMs: config.ALLOWLIST_CACHE_TTL_SECONDS * 1000,
      onError: (error) => {
        telemetry.error('allowlist reload failed; the last good allowlist stays in use', {
          error,
        });
        telemetry.count('AllowlistReloadFailed');
      },
    });
    return { current: () => cached.get() };
  };
}

/**
 * Issue 11: with the inventory and allowlist tables configured, a stored scan state re-judges
 * every inventory entry running the digest (through `byDigest`) before the record is done.
 */
function scanReachesInventory(
  config: LocalRegistryConfig,
  doc: DynamoDBDocumentClient,
  images: ImagesStore,
  findings: FindingsStore,
  clock: () => Date,
  onInvalid: (report: InvalidItemReport) => void,
): RegistryDeps['onScanRecorded'] {
  const inventoryTable = config.INVENTORY_TABLE;
  const allowlistTable = config.ALLOWLIST_TABLE;
  if (!inventoryTable || !allowlistTable) return undefined;
  const inventory = new InventoryStore(doc, inventoryTable, { onInvalid });
  const allowlist = new CachedAllowlist(new AllowlistStore(doc, allowlistTable), { ttlMs: 60_000 });
  return async (record: ImageRecord) => {
    await reconcileDigest(
      record.digest,
      await allowlist.get(),
      {
        inventory,
        findings,
        images,
        vulnerableThreshold: config.VULNERABLE_SEVERITY_THRESHOLD,
        // The findings stream alerts on AWS.
        minAlertSeverity: 'low',
        clock,
        ttlDays: config.FINDINGS_TTL_DAYS === 0 ? undefined : config.FINDINGS_TTL_DAYS,
      },
      `scan:${record.digest}:${record.scanStatus}:${record.scanCompletedAt ?? ''}`,
    );
  };
}
