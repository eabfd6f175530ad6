/**
 * The ingest handlers' dependencies (`IngestDeps`) built from the stack's `EVAL` environment:
 * one DynamoDB client, the stores over it, and the allowlist compiled once and re-checked every
 * `ALLOWLIST_CACHE_TTL_SECONDS`. A handler calls `ingestWiring()` at module load, so a cold
 * start with bad configuration fails at once, naming every bad variable, and warm invocations
 * reuse the client's connections and the compiled allowlist.
 *
 * The pieces (`ingestConfigSchema`, `buildIngestDeps`) take their inputs as arguments so local
 * mode can wire the same services to dynalite without any environment.
 *
 * Also here: `recordIngestMetrics`, the one way the ingest handlers turn an `IngestReport` into
 * Powertools metrics and a log line.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as z from 'zod';
import {
  CachedAllowlist,
  type RegwatchTables,
  regwatchTables,
} from '../adapters/dynamodb/index.ts';
import { SEVERITIES } from '../core/types.ts';
import type { IngestReport } from '../services/ingest.ts';
import type { IngestDeps } from '../services/ports.ts';
import { loadConfig } from './commons/config.ts';
import { logger, metrics } from './commons/powertools.ts';

const count = (what: string) =>
  z.coerce
    .number({ error: `${what} must be a whole number` })
    .int(`${what} must be a whole number`)
    .min(0, `${what} must not be negative`);

/** The stack's `EVAL` variables the ingest path reads (the images table is not read yet). */
export const ingestConfigSchema = z.object({
  FINDINGS_TABLE: z.string(),
  ALLOWLIST_TABLE: z.string(),
  IMAGES_TABLE: z.string(),
  /** The inventory (issue 11); optional until every ingest function's stack wiring sets it. */
  INVENTORY_TABLE: z.string().optional(),
  /** Days a finding lives after its last sighting; 0 keeps findings forever. */
  FINDINGS_TTL_DAYS: count('FINDINGS_TTL_DAYS'),
  ALLOWLIST_CACHE_TTL_SECONDS: count('ALLOWLIST_CACHE_TTL_SECONDS').default(60),
  /**
   * Only used where an alert port is wired (local mode). On AWS the `alerts` function applies
   * its own `MIN_ALERT_SEVERITY`, so the stack does not set this for ingest functions.
   */
  MIN_ALERT_SEVERITY: z.enum(SEVERITIES).default('low'),
  /**
   * Explicit DynamoDB endpoint (dynalite, DynamoDB Local). The SDK also honours
   * `AWS_ENDPOINT_URL_DYNAMODB` by itself; this one wins when both are set.
   */
  REGWATCH_DYNAMODB_ENDPOINT: z.url().optional(),
});
export type IngestConfig = z.infer<typeof ingestConfigSchema>;

export interface IngestWiring {
  deps: IngestDeps;
  tables: RegwatchTables;
  /** The compiled-allowlist cache (exposed for metrics and tests: `compilations`). */
  allowlist: CachedAllowlist;
  config: IngestConfig;
}

export interface BuildOptions {
  /** A client to use instead of one made from the configuration (local mode, tests). */
  client?: DynamoDBClient;
  /** Told when an allowlist reload fails while the last good one stays in use. */
  onAllowlistError?: (error: unknown) => void;
  clock?: () => Date;
}

/** `IngestDeps` over DynamoDB for `config`; no alert port (the findings stream drives alerts). */
export function buildIngestDeps(config: IngestConfig, options: BuildOptions = {}): IngestWiring {
  const client =
    options.client ??
    new DynamoDBClient(
      config.REGWATCH_DYNAMODB_ENDPOINT ? { endpoint: config.REGWATCH_DYNAMODB_ENDPOINT } : {},
    );
  const tables = regwatchTables(
    client,
    {
      findings: config.FINDINGS_TABLE,
      allowlist: config.ALLOWLIST_TABLE,
      images: config.IMAGES_TABLE,
      // Unset: no ingest dependency reads the inventory store (deps.inventory stays absent).
      inventory: config.INVENTORY_TABLE ?? '',
    },
    {
      onInvalid: (report) => logger.warn('invalid item skipped on read', { ...report }),
    },
  );
  const allowlist = new CachedAllowlist(tables.allowlist, {
    ttlMs: config.ALLOWLIST_CACHE_TTL_SECONDS * 1000,
    onError: options.onAllowlistError,
  });
  const deps: IngestDeps = {
    allowlist: { current: () => allowlist.get() },
    findings: tables.findings,
    clock: options.clock ?? (() => new Date()),
    minAlertSeverity: config.MIN_ALERT_SEVERITY,
    ttlDays: config.FINDINGS_TTL_DAYS === 0 ? undefined : config.FINDINGS_TTL_DAYS,
  };
  return { deps, tables, allowlist, config };
}

let wiring: IngestWiring | undefined;

/**
 * The wiring for this process, built from `process.env` on the first call (handlers call it at
 * module load). A stored allowlist that stops compiling keeps the last good one in use; the
 * failure is logged and counted (`AllowlistReloadFailed`).
 */
export function ingestWiring(): IngestWiring {
  wiring ??= buildIngestDeps(loadConfig(ingestConfigSchema), {
    onAllowlistError: (error) => {
      logger.error('allowlist reload failed; the last good allowlist stays in use', { error });
      metrics.addMetric('AllowlistReloadFailed', 'Count', 1);
    },
  });
  return wiring;
}

/* ------------------------------------------------------------ metrics */

export interface BatchCounts {
  /** Records that arrived (log events, webhook items, SQS records). */
  received: number;
  /** Records that are not JSON at all (CloudWatch plain-text lines). */
  notJson?: number;
}

/**
 * Adds a batch's figures to the invocation's metrics: received, evaluated, skipped by reason
 * (dimension `reason`), invalid records and findings by outcome. Flushed by the Powertools
 * middleware at the end of the invocation.
 */
export function recordIngestMetrics(report: IngestReport, counts: BatchCounts): void {
  metrics.addMetric('EventsReceived', 'Count', counts.received);
  metrics.addMetric('EventsEvaluated', 'Count', report.evaluated);
  metrics.addMetric('InvalidRecords', 'Count', report.failed.length);
  metrics.addMetric('FindingsNew', 'Count', report.findings.new);
  metrics.addMetric('FindingsReopened', 'Count', report.findings.reopened);
  metrics.addMetric('FindingsRepeat', 'Count', report.findings.repeat);
  metrics.addMetric('FindingsDuplicate', 'Count', report.findings.duplicate);
  for (const [reason, n] of Object.entries(skippedOf(report, counts))) {
    // One metric per reason under a dimension: dashboards can stack them.
    const single = metrics.singleMetric();
    single.addDimension('reason', reason);
    single.addMetric('EventsSkipped', 'Count', n);
  }
}

/** Skip counts by reason, with the handler's own `not-json` count merged in. */
export function skippedOf(report: IngestReport, counts: BatchCounts): Record<string, number> {
  const skipped = { ...report.skipped };
  if (counts.notJson) skipped['not-json'] = (skipped['not-json'] ?? 0) + counts.notJson;
  return skipped;
}

/** Merges `part` into `total` (per-record reports of an SQS batch). */
export function addReport(total: IngestReport, part: IngestReport): void {
  total.received += part.received;
  total.evaluated += part.evaluated;
  for (const [reason, n] of Object.entries(part.skipped)) {
    total.skipped[reason] = (total.skipped[reason] ?? 0) + n;
  }
  total.failed.push(...part.failed);
  for (const outcome of ['new', 'reopened', 'repeat', 'duplicate'] as const) {
    total.findings[outcome] += part.findings[outcome];
  }
}
