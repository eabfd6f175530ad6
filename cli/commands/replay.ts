import { access, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import {
  isLineModeFile,
  type ReaderStats,
  splitAtNewlines,
} from '../../lambdas/adapters/auditlog/reader.ts';
import {
  DecisionCache,
  evaluateAuditLog,
  mergeCounts,
  newPipelineCounts,
  type PipelineCounts,
  UNKNOWN_CLUSTER,
} from '../../lambdas/adapters/auditlog/replay-pipeline.ts';
import {
  type ReplayRangeTask,
  replayRanges,
} from '../../lambdas/adapters/auditlog/replay-worker.ts';
import { type AggregatedFinding, FindingAggregator } from '../../lambdas/core/aggregate.ts';
import type { AllowlistDocument, CompiledAllowlist } from '../../lambdas/core/allowlist/index.ts';
import { UsageError } from '../../lambdas/core/errors.ts';
import type { Decider } from '../../lambdas/core/evaluate.ts';
import type { FindingCandidate } from '../../lambdas/core/types.ts';
import { loadAllowlistDocument } from '../allowlist-file.ts';
import { type CliIo, EXIT } from '../context.ts';
import type { Register } from '../main.ts';
import { FINDING_COLUMNS, findingCells, formatTable } from '../table.ts';

export { UNKNOWN_CLUSTER };

interface ReplayOptions {
  threads?: string;
  allowlist?: string;
  cluster?: string;
  json?: boolean;
  at?: string;
  inventoryAt?: string;
  output?: string;
}

export interface ReplaySummary {
  files: number;
  reader: ReaderStats;
  observations: number;
  skipped: Record<string, number>;
  malformed: { file: string; line: number; error: string }[];
  findings: number;
  /** Byte ranges read by several threads, over all files (0: every file read on one thread). */
  parallelRanges: number;
}

/** The contract's JSON shape of one finding (exactly these keys). */
export function findingJson(f: AggregatedFinding) {
  return {
    fingerprint: f.fingerprint,
    cluster: f.cluster,
    namespace: f.namespace,
    workload: { kind: f.workload.kind, name: f.workload.name },
    container: f.container,
    image: f.image,
    reference: f.reference,
    rule: f.rule,
    severity: f.severity,
    count: f.count,
    firstSeen: f.firstSeen,
    lastSeen: f.lastSeen,
    actor: f.actor
      ? {
          username: f.actor.username,
          groups: f.actor.groups,
          sourceIPs: f.actor.sourceIPs,
          userAgent: f.actor.userAgent,
        }
      : null,
  };
}

function parseAt(text: string | undefined): Date | null {
  if (text === undefined) return null;
  if (text === 'now') return new Date();
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new UsageError(`--at: not a time: ${text} (use ISO-8601 or "now")`);
  return new Date(ms);
}

function parseThreads(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`--threads: not a positive whole number: ${text}`);
  }
  return n;
}

function printSummary(io: CliIo, s: ReplaySummary): void {
  const skipped = Object.entries(s.skipped)
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  const r = s.reader;
  io.stderr.write(
    `${[
      `replay: ${s.files} file(s), ${r.lines} line(s), ${r.events} audit event(s)`,
      `  pre-filtered (cannot matter): ${r.prefiltered}`,
      `  evaluated: ${s.observations} workload write(s)`,
      `  skipped: ${skipped || 'none'}`,
      s.skipped['metadata-only']
        ? `  ${s.skipped['metadata-only']} pod/workload write(s) logged at Metadata level: images unavailable, not evaluated (log pods at RequestResponse to see them)`
        : null,
      `  not JSON: ${r.notJson}, malformed: ${r.malformed}`,
      ...s.malformed.map((m) => `    ${m.file}:${m.line}: ${m.error}`),
      r.malformed > s.malformed.length
        ? `    … and ${r.malformed - s.malformed.length} more`
        : null,
      `  findings: ${s.findings}`,
    ]
      .filter((l): l is string => l !== null)
      .join('\n')}\n`,
  );
}

function printHuman(io: CliIo, findings: readonly AggregatedFinding[]): void {
  if (findings.length === 0) {
    io.stdout.write('no findings\n');
    return;
  }
  const rows = findings.map((f) => [...findingCells(f), f.firstSeen]);
  io.stdout.write(`${formatTable([...FINDING_COLUMNS, 'FIRST SEEN'], rows)}\n`);
}

export interface ReplayFilesOptions {
  allowlist: CompiledAllowlist;
  cluster?: string | undefined;
  at?: Date | null | undefined;
  /**
   * The document `allowlist` was compiled from. Worker threads compile their own copy of it
   * (a compiled allowlist cannot be sent); without it, replay uses one thread.
   */
  allowlistDocument?: AllowlistDocument | undefined;
  /** Threads for one large JSON-lines file (default: the available parallelism; 1: none). */
  threads?: number | undefined;
  /** Files smaller than this are read on one thread (default 32 MB). */
  parallelMinBytes?: number | undefined;
  /**
   * The plain path: one thread, no byte pre-filter, no decision cache. Results are the same;
   * tests compare it with the fast path.
   */
  reference?: boolean | undefined;
}

/** Below this, worker start-up (module loading, allowlist compile) costs more than it saves. */
export const PARALLEL_MIN_BYTES = 256 * 1024 * 1024;

/** Replays audit log files into findings; exported for local mode and the bench. */
export async function replayFiles(
  files: readonly string[],
  opts: ReplayFilesOptions,
): Promise<{ findings: AggregatedFinding[]; summary: ReplaySummary }> {
  const aggregator = new FindingAggregator();
  const total: PipelineCounts = newPipelineCounts();
  const at = opts.at ?? null;
  const decider: Decider = opts.reference ? opts.allowlist : new DecisionCache(opts.allowlist);
  const threads = opts.reference
    ? 1
    : Math.max(1, Math.floor(opts.threads ?? availableParallelism()));
  const add = (c: FindingCandidate) => aggregator.add(c);
  let rangesRead = 0;
  for (const file of files) {
    const name = path.basename(file);
    const ranges =
      threads > 1 && opts.allowlistDocument
        ? await parallelRanges(file, threads, opts.parallelMinBytes ?? PARALLEL_MIN_BYTES)
        : null;
    if (!ranges || !opts.allowlistDocument) {
      const counts = await evaluateAuditLog(
        file,
        decider,
        { file: name, cluster: opts.cluster, at, bytePrefilter: !opts.reference },
        add,
      );
      mergeCounts(total, counts);
      continue;
    }
    // Merged in file order, the candidates and counts are those of a sequential read.
    const tasks: ReplayRangeTask[] = ranges.map((range) => ({
      path: file,
      file: name,
      cluster: opts.cluster,
      atMs: at === null ? null : at.getTime(),
      range,
    }));
    rangesRead += tasks.length;
    const results = await replayRanges(tasks, {
      allowlist: opts.allowlist,
      document: opts.allowlistDocument,
      decider,
      workers: threads - 1,
    });
    for (const r of results) {
      for (const c of r.candidates) aggregator.add(c);
      mergeCounts(total, r.counts);
    }
  }
  const findings = aggregator.results();
  const summary: ReplaySummary = {
    files: files.length,
    reader: total.reader,
    observations: total.observations,
    skipped: total.skipped,
    malformed: total.malformed,
    findings: findings.length,
    parallelRanges: rangesRead,
  };
  return { findings, summary };
}

const RANGES_PER_THREAD = 4;
const MIN_RANGE_BYTES = 8 * 1024 * 1024;

/** Byte ranges for a parallel read, or null when the file is small, gzip or not JSON lines. */
async function parallelRanges(file: string, threads: number, minBytes: number) {
  const { size } = await stat(file);
  if (size < minBytes || size === 0) return null;
  if (!(await isLineModeFile(file))) return null;
  // Several ranges per thread, taken as threads become free: a worker that starts late
  // (module loading) or shares its core with other work simply reads fewer of them.
  const parts = Math.max(
    threads,
    Math.min(threads * RANGES_PER_THREAD, Math.ceil(size / MIN_RANGE_BYTES)),
  );
  const ranges = await splitAtNewlines(file, size, parts);
  return ranges.length > 1 ? ranges : null;
}

export const registerReplay: Register = (program: Command, io, setExit) => {
  program
    .command('replay')
    .description(
      'evaluate audit logs offline: JSON lines of Events, EventList documents, CloudWatch Logs payloads or exports, .gz',
    )
    .argument('<file...>', 'audit log files')
    .option(
      '--allowlist <file>',
      'allowlist YAML (default: $REGWATCH_ALLOWLIST or ./allowlist.yaml)',
    )
    .option(
      '--cluster <name>',
      'cluster name for events whose file names none (CloudWatch log groups do)',
    )
    .option(
      '--at <time>',
      'judge every event at this time (ISO-8601 or "now"); default: each event\'s own time',
    )
    .option('--json', 'one JSON object per finding')
    .option(
      '--inventory-at <time>',
      'instead of findings: what the log says was running at TIME (inventory JSON lines with --json)',
    )
    .option(
      '--threads <n>',
      `threads for a JSON-lines file of ${PARALLEL_MIN_BYTES / 1024 / 1024} MiB or more (default: available cores; 1: one thread)`,
    )
    .action(async (files: string[], opts: ReplayOptions) => {
      const threads = parseThreads(opts.threads);
      const { document, allowlist } = loadAllowlistDocument(opts.allowlist, io);
      const at = parseAt(opts.at);
      const resolved = files.map((f) => path.resolve(io.cwd, f));
      for (const [i, f] of resolved.entries()) {
        await access(f).catch(() => {
          throw new UsageError(`cannot read ${files[i]}: no such file`);
        });
      }
      if (opts.inventoryAt !== undefined) {
        const { printInventoryAt } = await import('../inventory-at-output.ts');
        await printInventoryAt(io, resolved, {
          at: parseAt(opts.inventoryAt) ?? new Date(),
          cluster: opts.cluster,
          allowlist,
          json: opts.json === true || opts.output === 'json',
        });
        setExit(EXIT.ok);
        return;
      }
      const { findings, summary } = await replayFiles(resolved, {
        allowlist,
        allowlistDocument: document,
        threads,
        ...(opts.cluster ? { cluster: opts.cluster } : {}),
        at,
      });
      if (opts.json) {
        for (const f of findings) io.stdout.write(`${JSON.stringify(findingJson(f))}\n`);
      } else {
        printHuman(io, findings);
      }
      printSummary(io, summary);
      setExit(findings.length > 0 ? EXIT.violations : EXIT.ok);
    });
};
