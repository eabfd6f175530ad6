/**
 * `regwatch local` as a library: the embedded DynamoDB, the tables, the imported allowlist, the
 * alerters and the loopback ingest, started together and stopped together. The CLI command and
 * the end-to-end test and bench drive this.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../adapters/dynamodb/embedded.ts';
import {
  type AllowlistDiff,
  createTables,
  LOCAL_TABLE_NAMES,
  type RegwatchTables,
} from '../adapters/dynamodb/index.ts';
import { LocalInventoryStore } from '../adapters/dynamodb/inventory-local.ts';
import { WarningMarks } from '../adapters/dynamodb/warning-marks.ts';
import { FileOutbox } from '../adapters/outbox.ts';
import { parseAllowlist } from '../core/allowlist/index.ts';
import { UsageError } from '../core/errors.ts';
import type { Severity } from '../core/types.ts';
import { loadConfig } from '../handlers/commons/config.ts';
import { lineTelemetry } from '../handlers/commons/telemetry.ts';
import { FUNCTION_CONFIG, type FunctionEnvironment } from '../handlers/compose/config.ts';
import { buildIngestDeps } from '../handlers/compose/ingest.ts';
import { buildRegistryDeps } from '../handlers/compose/registry.ts';
import { auditWebhookEdge } from '../handlers/edges/audit-webhook.ts';
import { auditLogsEdge } from '../handlers/edges/eks-audit-logs.ts';
import { podEventsEdge } from '../handlers/edges/pod-events.ts';
import { ecrPushEdge, scanStatusEdge } from '../handlers/edges/registry.ts';
import type { AlertPort, SignaturesPort } from '../services/ports.ts';
import { ReconcileLoop } from '../services/reconcile-loop.ts';
import type { RegistryDeps } from '../services/registry.ts';
import {
  ConsoleAlerter,
  FanOutAlerter,
  LocalExpiryWarningNotifier,
  type PendingAlert,
  SlackAlerter,
  terminalSafe,
} from './alerts.ts';
import { DEFAULT_MAX_BODY_BYTES } from './body.ts';
import { alertResults, type LocalEdges, type LocalPipeline } from './routes.ts';
import { TimerScanScheduler } from './scheduler.ts';
import { closeServer, createIngestServer, listenLoopback } from './server.ts';

export const DEFAULT_INGEST_PORT = 8787;
/** DynamoDB Local's usual port, so `--dynamodb-endpoint http://127.0.0.1:8000` is familiar. */
export const DEFAULT_DYNAMODB_PORT = 8000;

export interface LocalOptions {
  /** Ingest port; 0 picks a free one. */
  port: number;
  dynamodbPort: number;
  /** LevelDB folder: findings survive restarts. In memory when absent. */
  dataDir?: string | undefined;
  allowlistFile: string;
  token?: string | undefined;
  slackWebhook?: string | undefined;
  /** Lowest severity that alerts (console and Slack). */
  minAlertSeverity: Severity;
  /** Lowest finding severity a scan's counts must reach to make a `vulnerable-image` finding. */
  vulnerableThreshold: Severity;
  scanTimeoutMinutes: number;
  maxBodyBytes?: number | undefined;
  ttlDays?: number | undefined;
  /** How long the compiled allowlist is reused before the table's version is checked. */
  allowlistTtlMs?: number | undefined;
  /** Console alerts and request lines; null turns them off (the bench). */
  out: ((line: string) => void) | null;
  err: (line: string) => void;
  /** Slack retry tuning (tests). */
  slackOptions?: { baseDelayMs?: number; maxWaitMs?: number; maxAttempts?: number } | undefined;
  clock?: (() => Date) | undefined;
  /** Verifies `requireSignature` (against whatever registries are configured); else fail closed. */
  signatures?: (SignaturesPort & { cache?: { invalidate(digest: string): unknown } }) | undefined;
  /**
   * false: the conditional Inventory adapter the Lambdas use, instead of the single-writer
   * index with batched writes (the bench compares them).
   */
  inventoryIndex?: boolean | undefined;
  /** Bounds of the inventory index (tests); past them it falls back to conditional writes. */
  inventoryBounds?: { maxEntries?: number; maxBytes?: number } | undefined;
  /** Reconciler tuning: allowlist poll (ms), sweep period (ms, 0 = off), expiry warning days. */
  reconcile?: { pollMs?: number; sweepMs?: number; warningDays?: number } | undefined;
}

export interface LocalInstance {
  /** `http://127.0.0.1:<port>` of the ingest. */
  url: string;
  port: number;
  dynamodbEndpoint: string;
  dynamodbPort: number;
  tables: RegwatchTables;
  pipeline: LocalPipeline;
  allowlistDiff: AllowlistDiff;
  allowlistRules: number;
  slack: SlackAlerter | undefined;
  /** The in-process reconciler (allowlist changes, expiries, scans, sweeps). */
  reconciler: ReconcileLoop;
  server: Server;
  /** Stop accepting, finish in-flight requests, drop pending scan checks, drain Slack, stop DynamoDB. */
  stop(): Promise<void>;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function startLocal(options: LocalOptions): Promise<LocalInstance> {
  let text: string;
  try {
    text = readFileSync(options.allowlistFile, 'utf8');
  } catch (error) {
    throw new UsageError(
      `cannot read allowlist ${options.allowlistFile}: ${(error as NodeJS.ErrnoException).code ?? error}`,
    );
  }
  // Validated before anything starts: a bad file changes nothing and starts nothing.
  const document = parseAllowlist(text, options.allowlistFile);

  const dynamo: EmbeddedDynamo = await startEmbeddedDynamo({
    port: options.dynamodbPort,
    path: options.dataDir,
  });
  let server: Server | undefined;
  let reconcilerRef: ReconcileLoop | undefined;
  try {
    await createTables(dynamo.client, LOCAL_TABLE_NAMES, {
      onMigrated: (table, items) =>
        options.err(
          `regwatch local: table ${table} rebuilt with this version's indexes (${items} item(s) kept)`,
        ),
    });
    const warn = lineTelemetry(options.err, 'regwatch local');
    const clock = options.clock ?? (() => new Date());
    const out = options.out;

    const ports: AlertPort[] = [];
    if (out) ports.push(new ConsoleAlerter(out));
    let slack: SlackAlerter | undefined;
    if (options.slackWebhook) {
      // With --data, undelivered alerts wait on disk and go out at the next start.
      const outbox = options.dataDir
        ? new FileOutbox<PendingAlert>(path.join(options.dataDir, 'alert-outbox'), {
            onProblem: (message) => options.err(`regwatch local: ${message}`),
          })
        : undefined;
      const undelivered = (id: string, error: Error) =>
        options.err(
          `regwatch local: Slack alert for finding ${id} not delivered: ${error.message}${outbox ? ' (kept in the outbox for the next start unless Slack refused it)' : ''}`,
        );
      slack = new SlackAlerter(options.slackWebhook, {
        ...options.slackOptions,
        ...(outbox ? { outbox } : {}),
        onError: (error, result) => undelivered(result.finding.id, error),
        onResumedError: (error, id) => undelivered(id, error),
      });
      const resumed = slack.resume();
      if (resumed > 0)
        options.err(`regwatch local: sending ${resumed} alert(s) left undelivered by the last run`);
      ports.push(slack);
    }

    // The Lambdas' composition root, over the embedded DynamoDB, from the same typed config
    // (validated by the same schema) the stack gives the functions.
    const ingestConfig = loadConfig(FUNCTION_CONFIG['pod-events'], {
      FINDINGS_TABLE: LOCAL_TABLE_NAMES.findings,
      ALLOWLIST_TABLE: LOCAL_TABLE_NAMES.allowlist,
      IMAGES_TABLE: LOCAL_TABLE_NAMES.images,
      INVENTORY_TABLE: LOCAL_TABLE_NAMES.inventory,
      VULNERABLE_SEVERITY_THRESHOLD: options.vulnerableThreshold,
      FINDINGS_TTL_DAYS: String(options.ttlDays ?? 0),
      MIN_ALERT_SEVERITY: options.minAlertSeverity,
    } satisfies FunctionEnvironment<'pod-events'>);
    // This process is the inventory's only writer (see LocalInventoryStore): its index and
    // batched writes replace the conditional writes the Lambdas need.
    const inventory =
      options.inventoryIndex === false
        ? undefined
        : await LocalInventoryStore.load(dynamo.doc, LOCAL_TABLE_NAMES.inventory, {
            onInvalid: (report) => warn.warn('invalid item skipped on read', { ...report }),
            onFallback: (reason) => options.err(`regwatch local: ${reason}`),
            ...options.inventoryBounds,
          });
    const ingestWiring = buildIngestDeps(ingestConfig, {
      client: dynamo.doc,
      ...(inventory ? { inventory } : {}),
      telemetry: warn,
      alerts: ports.length === 0 ? undefined : new FanOutAlerter(ports),
      clock,
      // Short: `regwatch allowlist import` against the local endpoint takes effect at once.
      allowlistTtlMs: options.allowlistTtlMs ?? 2000,
      signatures: options.signatures ?? null,
    });
    const tables = ingestWiring.tables;
    const allowlistDiff = await tables.allowlist.applyDiff(document);

    let pipeline: LocalPipeline | undefined;
    const alertPort = ingestWiring.deps.alerts;
    const reconciler = new ReconcileLoop({
      deps: {
        inventory: tables.inventory,
        findings: tables.findings,
        alerts: alertPort,
        minAlertSeverity: options.minAlertSeverity,
        images: tables.images,
        vulnerableThreshold: options.vulnerableThreshold,
        clock: options.clock ?? (() => new Date()),
        ttlDays: options.ttlDays,
      },
      allowlist: tables.allowlist,
      pollMs: options.reconcile?.pollMs,
      sweepMs: options.reconcile?.sweepMs,
      warningDays: options.reconcile?.warningDays,
      onRun: (what, report) => {
        const resolved = Object.entries(report.resolved).filter(([, n]) => n > 0);
        const opened = report.opened.new + report.opened.reopened;
        if (!out || (report.changed === 0 && opened === 0 && resolved.length === 0)) return;
        out(
          `regwatch local: reconciled ${what}: ${report.judged} judged, ${report.changed} changed, ${opened} opened${resolved.map(([r, n]) => `, ${n} resolved (${r})`).join('')}`,
        );
      },
      onExpiryWarning: (warning, outcome) =>
        out?.(
          terminalSafe(
            `regwatch local: exception ${warning.rule.id} expires at ${warning.rule.expiresAt}; still used by ${warning.total} container(s)${warning.dependents
              .slice(0, 20)
              .map(
                (d) =>
                  ` ${d.cluster}/${d.namespace}/${d.workload.kind}/${d.workload.name}/${d.container}`,
              )
              .join(',')} (alert: ${outcome})`,
          ),
        ),
      warnings: {
        marks: new WarningMarks(tables.doc, LOCAL_TABLE_NAMES.findings),
        notifier: new LocalExpiryWarningNotifier(out, slack, options.minAlertSeverity),
      },
      onError: (error, what) =>
        options.err(`regwatch local: reconciliation (${what}) failed: ${errorText(error)}`),
    });
    reconcilerRef = reconciler;
    const scheduler = new TimerScanScheduler({
      deps: () => registry,
      onResults: async (results) => {
        if (pipeline) await alertResults(results, pipeline.ingest);
      },
      onError: (error, message) =>
        options.err(
          `regwatch local: scan check of ${message.repositoryName}@${message.imageDigest} failed: ${errorText(error)}`,
        ),
    });
    const registryConfig = {
      ...loadConfig(FUNCTION_CONFIG['scan-status'], {
        IMAGES_TABLE: LOCAL_TABLE_NAMES.images,
        FINDINGS_TABLE: LOCAL_TABLE_NAMES.findings,
        // Never used: local mode's timers schedule the checks.
        SCAN_CHECK_QUEUE_URL: 'http://127.0.0.1/local-mode-has-no-queue',
        SCAN_TIMEOUT_MINUTES: String(options.scanTimeoutMinutes),
        VULNERABLE_SEVERITY_THRESHOLD: options.vulnerableThreshold,
        FINDINGS_TTL_DAYS: String(options.ttlDays ?? 0),
      } satisfies FunctionEnvironment<'scan-status'>),
      SCAN_CHECK_QUEUE_URL: undefined,
    };
    const registry: RegistryDeps = buildRegistryDeps(registryConfig, {
      doc: tables.doc,
      // One allowlist cache for both paths, as `ecr-push` and the ingest functions read one table.
      allowlist: () => ingestWiring.deps.allowlist,
      scheduler,
      // No registry to ask: scan results arrive as events.
      ecr: null,
      telemetry: warn,
      clock,
      signatures: options.signatures ?? null,
    });
    const edges: LocalEdges = {
      podEvents: podEventsEdge(ingestWiring.deps, warn),
      auditWebhook: auditWebhookEdge(
        ingestWiring.deps,
        { maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES },
        warn,
      ),
      auditLogs: auditLogsEdge(ingestWiring.deps, warn),
      ecrPush: ecrPushEdge(registry, warn),
      scanStatus: scanStatusEdge(registry, warn),
    };
    // Scan states reach every running workload of their digest at once.
    registry.onScanRecorded = (record) => reconciler.scanRecorded(record);
    pipeline = { ingest: ingestWiring.deps, registry, edges };

    await reconciler.start();
    // What a kept data folder holds is judged by the allowlist just imported.
    void reconciler.sweepNow();

    server = createIngestServer(pipeline, {
      token: options.token,
      maxBodyBytes: options.maxBodyBytes,
      log: out ?? undefined,
      logError: (line, error) =>
        options.err(
          `regwatch local: ${line}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        ),
    });
    const port = await listenLoopback(server, options.port);
    const started = server;
    let stopping: Promise<void> | undefined;
    return {
      url: `http://127.0.0.1:${port}`,
      port,
      dynamodbEndpoint: dynamo.endpoint,
      dynamodbPort: dynamo.port,
      tables,
      pipeline,
      allowlistDiff,
      allowlistRules: document.rules.length,
      slack,
      reconciler,
      server: started,
      stop() {
        stopping ??= (async () => {
          await closeServer(started);
          await reconciler.stop();
          // Nothing is queued unless a flush failed; one more try before the store stops.
          await inventory
            ?.flush()
            .catch((error: unknown) =>
              options.err(`regwatch local: inventory writes not flushed: ${errorText(error)}`),
            );
          await scheduler.stop();
          await slack?.drain();
          await dynamo.stop();
        })();
        return stopping;
      },
    };
  } catch (error) {
    if (server) await closeServer(server).catch(() => {});
    await reconcilerRef?.stop().catch(() => {});
    await dynamo.stop().catch(() => {});
    throw error;
  }
}
