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
  CachedAllowlist,
  createTables,
  LOCAL_TABLE_NAMES,
  type RegwatchTables,
  regwatchTables,
} from '../adapters/dynamodb/index.ts';
import { FileOutbox } from '../adapters/outbox.ts';
import { parseAllowlist } from '../core/allowlist/index.ts';
import { UsageError } from '../core/errors.ts';
import type { Severity } from '../core/types.ts';
import type { AlertPort } from '../services/ports.ts';
import type { RegistryDeps } from '../services/registry.ts';
import { ConsoleAlerter, FanOutAlerter, type PendingAlert, SlackAlerter } from './alerts.ts';
import { alertResults, type LocalPipeline } from './routes.ts';
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
  try {
    await createTables(dynamo.client, LOCAL_TABLE_NAMES);
    const tables = regwatchTables(dynamo.doc, LOCAL_TABLE_NAMES, {
      onInvalid: (report) =>
        options.err(`regwatch local: skipped an invalid stored item: ${JSON.stringify(report)}`),
    });
    const allowlistDiff = await tables.allowlist.applyDiff(document);
    const cached = new CachedAllowlist(tables.allowlist, {
      // Short: `regwatch allowlist import` against the local endpoint takes effect at once.
      ttlMs: options.allowlistTtlMs ?? 2000,
      onError: (error) =>
        options.err(
          `regwatch local: stored allowlist unusable, keeping the last good one: ${errorText(error)}`,
        ),
    });
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

    let pipeline: LocalPipeline | undefined;
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
    const allowlist = { current: () => cached.get() };
    const registry: RegistryDeps = {
      images: tables.images,
      findings: tables.findings,
      allowlist,
      scheduler,
      clock,
      scanTimeoutMinutes: options.scanTimeoutMinutes,
      vulnerableThreshold: options.vulnerableThreshold,
      ttlDays: options.ttlDays,
      log: {
        info: () => {},
        warn: (message, fields) =>
          options.err(`regwatch local: ${message} ${JSON.stringify(fields ?? {})}`),
      },
    };
    pipeline = {
      ingest: {
        allowlist,
        findings: tables.findings,
        alerts: ports.length === 0 ? undefined : new FanOutAlerter(ports),
        clock,
        minAlertSeverity: options.minAlertSeverity,
        ttlDays: options.ttlDays,
      },
      registry,
    };

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
      server: started,
      stop() {
        stopping ??= (async () => {
          await closeServer(started);
          await scheduler.stop();
          await slack?.drain();
          await dynamo.stop();
        })();
        return stopping;
      },
    };
  } catch (error) {
    if (server) await closeServer(server).catch(() => {});
    await dynamo.stop().catch(() => {});
    throw error;
  }
}
