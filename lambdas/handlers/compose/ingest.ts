/**
 * Composition root of the ingest functions (`eks-audit-logs`, `audit-webhook`, `pod-events`)
 * and of local mode's ingest: one DynamoDB client, the stores over it, the allowlist compiled
 * once and re-checked every `ALLOWLIST_CACHE_TTL_SECONDS`, and the Images table as the images
 * port, so a running digest that is known vulnerable gets `vulnerable-image` on AWS exactly as
 * it does locally.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  CachedAllowlist,
  type InventoryStore,
  type RegwatchTables,
  regwatchTables,
} from '../../adapters/dynamodb/index.ts';
import { lambdaSignatureVerifier } from '../../adapters/signatures/lambda.ts';
import type { AlertPort, IngestDeps, SignaturesPort } from '../../services/ports.ts';
import { silentTelemetry, type Telemetry } from '../commons/telemetry.ts';
import type { IngestConfig } from './config.ts';

export interface IngestWiring {
  deps: IngestDeps;
  tables: RegwatchTables;
  /** The compiled-allowlist cache (exposed for metrics and tests: `compilations`). */
  allowlist: CachedAllowlist;
  config: IngestConfig;
}

export interface IngestBuildOptions {
  /** A client to use instead of one made from the configuration (local mode, tests). */
  client?: DynamoDBClient | DynamoDBDocumentClient;
  telemetry?: Telemetry;
  /** Local mode only: on AWS the findings stream drives alerts. */
  alerts?: AlertPort;
  clock?: () => Date;
  /** Overrides `ALLOWLIST_CACHE_TTL_SECONDS` below a second (local mode, tests). */
  allowlistTtlMs?: number;
  /**
   * The signature verifier instead of the one made from the configuration; `null` for none
   * (rules with `requireSignature` then fail closed).
   */
  signatures?: SignaturesPort | null;
  /**
   * The Inventory adapter instead of the conditional one over `INVENTORY_TABLE` (local mode,
   * the table's single writer, passes its `LocalInventoryStore`).
   */
  inventory?: InventoryStore;
}

/** `IngestDeps` over DynamoDB for `config`. */
export function buildIngestDeps(
  config: IngestConfig,
  options: IngestBuildOptions = {},
): IngestWiring {
  const telemetry = options.telemetry ?? silentTelemetry;
  const client =
    options.client ??
    new DynamoDBClient(
      config.REGWATCH_DYNAMODB_ENDPOINT ? { endpoint: config.REGWATCH_DYNAMODB_ENDPOINT } : {},
    );
  const made = regwatchTables(
    client,
    {
      findings: config.FINDINGS_TABLE,
      allowlist: config.ALLOWLIST_TABLE,
      images: config.IMAGES_TABLE,
      // Unset: the store is never used (deps.inventory stays absent).
      inventory: config.INVENTORY_TABLE ?? '',
    },
    { onInvalid: (report) => telemetry.warn('invalid item skipped on read', { ...report }) },
  );
  const tables: RegwatchTables = options.inventory
    ? { ...made, inventory: options.inventory }
    : made;
  const allowlist = new CachedAllowlist(tables.allowlist, {
    ttlMs: options.allowlistTtlMs ?? config.ALLOWLIST_CACHE_TTL_SECONDS * 1000,
    onError: (error) => {
      telemetry.error('allowlist reload failed; the last good allowlist stays in use', { error });
      telemetry.count('AllowlistReloadFailed');
    },
  });
  const deps: IngestDeps = {
    allowlist: { current: () => allowlist.get() },
    findings: tables.findings,
    alerts: options.alerts,
    clock: options.clock ?? (() => new Date()),
    minAlertSeverity: config.MIN_ALERT_SEVERITY,
    ttlDays: config.FINDINGS_TTL_DAYS === 0 ? undefined : config.FINDINGS_TTL_DAYS,
    images: tables.images,
    vulnerableThreshold: config.VULNERABLE_SEVERITY_THRESHOLD,
    signatures:
      options.signatures === null
        ? undefined
        : (options.signatures ?? lambdaSignatureVerifier(config)),
    ...(config.INVENTORY_TABLE
      ? { inventory: { store: tables.inventory, findings: tables.findings } }
      : {}),
  };
  return { deps, tables, allowlist, config };
}
