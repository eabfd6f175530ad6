/**
 * `regwatch local` (what `npm start` runs): the whole pipeline on this machine with an
 * embedded DynamoDB and a loopback HTTP ingest. Runs until SIGINT/SIGTERM, then stops cleanly.
 */
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../lambdas/core/errors.ts';
import { SEVERITIES, type Severity } from '../../lambdas/core/types.ts';
import { visible } from '../../lambdas/core/visible.ts';
import { DEFAULT_DYNAMODB_PORT, DEFAULT_INGEST_PORT, startLocal } from '../../lambdas/local/app.ts';
import { banner } from '../../lambdas/local/banner.ts';
import {
  addExpiringExample,
  EXAMPLE_ALLOWLIST,
  EXAMPLES_DIR,
  findingsSummary,
  replayExamples,
} from '../../lambdas/local/examples.ts';
import { EXIT, write } from '../context.ts';
import type { Register } from '../main.ts';

interface LocalFlags {
  port: string;
  dynamodbPort: string;
  data?: string;
  allowlist?: string;
  token?: string;
  slackWebhook?: string;
  minAlertSeverity: string;
  vulnerableSeverity: string;
  scanTimeoutMinutes: string;
  maxBodyBytes: string;
  example?: boolean;
  readyFile?: string;
}

/** Resolves when the process is asked to stop; tests pass their own. */
export type StopSignal = () => Promise<string>;

const processStop: StopSignal = () =>
  new Promise((resolve) => {
    const on = (signal: string) => () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(signal);
    };
    const onInt = on('SIGINT');
    const onTerm = on('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
  });

function port(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new UsageError(
      `${flag} must be a port number 0-65535 (0 = any free port), got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

function positive(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

function severity(value: string, flag: string): Severity {
  if (!(SEVERITIES as readonly string[]).includes(value)) {
    throw new UsageError(
      `${flag} must be one of ${SEVERITIES.join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return value as Severity;
}

/** A port someone else holds is the user's to choose differently, not an internal error. */
async function inUseAsUsage<T>(start: Promise<T>): Promise<T> {
  try {
    return await start;
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { port?: number };
    if (e.code === 'EADDRINUSE') {
      throw new UsageError(
        `port ${e.port ?? '?'} on 127.0.0.1 is in use (another regwatch local?): pass --port / --dynamodb-port with a free port, or 0 for any`,
      );
    }
    throw error;
  }
}

export function makeRegisterLocal(stop: StopSignal = processStop): Register {
  return (program: Command, io, setExit) => {
    program
      .command('local')
      .description(
        'Run regwatch on this machine: embedded DynamoDB, loopback HTTP ingest, console/Slack alerts',
      )
      .option(
        '--port <n>',
        'ingest port on 127.0.0.1 (0 = any free port)',
        String(DEFAULT_INGEST_PORT),
      )
      .option(
        '--dynamodb-port <n>',
        'embedded DynamoDB port on 127.0.0.1 (0 = any free port)',
        String(DEFAULT_DYNAMODB_PORT),
      )
      .option('--data <dir>', 'keep tables in this folder across restarts (default: in memory)')
      .option(
        '--allowlist <file>',
        'allowlist to import on start (default: examples/allowlist.yaml)',
      )
      .option(
        '--token <token>',
        'require this bearer token on /v1/* (default: $REGWATCH_LOCAL_TOKEN)',
      )
      .option(
        '--slack-webhook <url>',
        'also post alerts to this Slack incoming webhook (default: $REGWATCH_SLACK_WEBHOOK)',
      )
      .option(
        '--min-alert-severity <s>',
        `lowest severity that alerts (${SEVERITIES.join('|')})`,
        'low',
      )
      .option(
        '--vulnerable-severity <s>',
        'scan severity that makes an image vulnerable',
        'critical',
      )
      .option(
        '--scan-timeout-minutes <n>',
        'after a push, how long to wait for a scan before scan-missing',
        '30',
      )
      .option(
        '--max-body-bytes <n>',
        'largest request body accepted (413 above)',
        String(5 * 1024 * 1024),
      )
      .option('--example', 'post the bundled example events after start (what npm start does)')
      .option(
        '--ready-file <file>',
        'write {"url","dynamodbEndpoint","pid"} as JSON here once serving',
      )
      .action(async (flags: LocalFlags) => {
        const token = flags.token ?? (io.env.REGWATCH_LOCAL_TOKEN || undefined);
        const slackWebhook = flags.slackWebhook ?? (io.env.REGWATCH_SLACK_WEBHOOK || undefined);
        if (slackWebhook && !/^https?:\/\//.test(slackWebhook)) {
          throw new UsageError('--slack-webhook must be an http(s) URL');
        }
        const allowlistFile = flags.allowlist
          ? path.resolve(io.cwd, flags.allowlist)
          : EXAMPLE_ALLOWLIST;
        const dataDir = flags.data ? path.resolve(io.cwd, flags.data) : undefined;
        const minAlertSeverity = severity(flags.minAlertSeverity, '--min-alert-severity');
        // Console lines can quote request content: escape controls within each line.
        const safe = (text: string) => text.split('\n').map(visible).join('\n');
        const out = (line: string) => write(io.stdout, safe(line));
        const err = (line: string) => write(io.stderr, safe(line));

        const instance = await inUseAsUsage(
          startLocal({
            port: port(flags.port, '--port'),
            dynamodbPort: port(flags.dynamodbPort, '--dynamodb-port'),
            dataDir,
            allowlistFile,
            token,
            slackWebhook,
            minAlertSeverity,
            vulnerableThreshold: severity(flags.vulnerableSeverity, '--vulnerable-severity'),
            scanTimeoutMinutes: positive(flags.scanTimeoutMinutes, '--scan-timeout-minutes'),
            maxBodyBytes: positive(flags.maxBodyBytes, '--max-body-bytes'),
            out,
            err,
            // Registries from REGWATCH_REGISTRY_ENDPOINTS / docker config.json (docs/signatures.md).
            signatures: await (await import('../signatures.ts')).cliVerifier(io, {
              failClosed: true,
            }),
          }),
        );
        // Registered before anything else can fail, so a stop signal always stops cleanly.
        const stopped = stop();
        try {
          write(
            io.stdout,
            banner({
              instance,
              allowlistFile,
              dataDir,
              examplesDir: EXAMPLES_DIR,
              cwd: io.cwd,
              tokenSet: token !== undefined,
              slack: slackWebhook !== undefined,
              minAlertSeverity,
            }),
          );
          if (flags.readyFile) {
            const file = path.resolve(io.cwd, flags.readyFile);
            // Written whole, then renamed: a reader never sees half a file.
            writeFileSync(
              `${file}.tmp`,
              `${JSON.stringify({ url: instance.url, dynamodbEndpoint: instance.dynamodbEndpoint, pid: process.pid })}\n`,
            );
            renameSync(`${file}.tmp`, file);
          }
          if (flags.example) {
            out('\nReplaying the bundled example events (examples/events/) through the ingest:');
            for (const r of await replayExamples(instance.url, { token })) {
              const failed = 'failed' in r.report ? r.report.failed.length : 0;
              out(
                `  ${r.path} ← ${r.file}: HTTP ${r.status}${failed ? `, ${failed} invalid record(s)` : ''}`,
              );
            }
            out(`${await findingsSummary(instance.tables.findings)}\n`);
            const rule = await addExpiringExample(instance.tables.allowlist, new Date());
            out(
              `Added the exception ${rule.id} for ghcr.io/${rule.repository} expiring at ${rule.expiresAt}: regwatch re-judges what it covers now (now-allowed) and again when it expires (expired-exception).\n`,
            );
          }
          const signal = await stopped;
          out(`\n${signal}: stopping (finishing requests in flight)…`);
        } finally {
          await instance.stop();
        }
        out('regwatch local stopped.');
        setExit(EXIT.ok);
      });
  };
}

export const registerLocal: Register = makeRegisterLocal();
