import { stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Command } from 'commander';
import {
  isLineModeFile,
  type ReaderStats,
  splitAtNewlines,
} from '../../lambdas/adapters/auditlog/reader.ts';
import {
  DecisionCache,
  evaluateAuditLog,
  type MalformedLine,
  mergeCounts,
  newPipelineCounts,
  type PipelineCounts,
  UNKNOWN_CLUSTER,
} from '../../lambdas/adapters/auditlog/replay-pipeline.ts';
import type { ReplayRangeTask } from '../../lambdas/adapters/auditlog/replay-worker.ts';
import { type AggregatedFinding, FindingAggregator } from '../../lambdas/core/aggregate.ts';
import type { AllowlistDocument, CompiledAllowlist } from '../../lambdas/core/allowlist/index.ts';
import { FAILURE_REASONS, type SkipReason } from '../../lambdas/core/audit/interpret.ts';
import { UsageError } from '../../lambdas/core/errors.ts';
import type { Decider } from '../../lambdas/core/evaluate.ts';
import type { FindingCandidate } from '../../lambdas/core/types.ts';
import { visible } from '../../lambdas/core/visible.ts';
import { loadAllowlistDocument } from '../allowlist-file.ts';
import { parseClusterOption } from '../cluster-option.ts';
import { type CliIo, EXIT } from '../context.ts';
import { csvLine } from '../format.ts';
import type { Register } from '../main.ts';
import {
  type OutputFormat,
  type OutputOptions,
  outputFormat,
  withOutputOption,
} from '../output/format.ts';
import { isTerminal, ProgressRenderer, type ReplayProgress } from '../replay-progress.ts';
import { FINDING_COLUMNS, findingCells, formatTable } from '../table.ts';
import { loadYaml } from '../yaml-module.ts';

const FORMATS: readonly OutputFormat[] = ['table', 'wide', 'json', 'yaml', 'csv'];

export { UNKNOWN_CLUSTER };

interface ReplayOptions extends OutputOptions {
  threads?: string;
  allowlist?: string;
  cluster?: string;
  json?: boolean;
  at?: string;
  quiet?: boolean;
  summaryJson?: string;
  inventoryAt?: string;
  maxRecordBytes?: string;
}

/** The file argument that means standard input. */
export const STDIN = '-';

export interface ReplaySummary {
  files: number;
  reader: ReaderStats;
  observations: number;
  skipped: Record<string, number>;
  malformed: MalformedLine[];
  /** The first writes whose images could not be judged (reported failures, by auditID). */
  unjudged: MalformedLine[];
  findings: number;
  /** Byte ranges read by several threads, over all files (0: every file read on one thread). */
  parallelRanges: number;
  /** Observations judged without a cluster (no --cluster, no EKS log group). */
  unknownCluster: number;
  /** Inputs (as passed) that held no audit event at all: the wrong file, not a quiet log. */
  noEvents: string[];
  /** Things the reader should know about the result (printed once each). */
  notes: string[];
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

/** `--max-record-bytes`: a whole number of bytes, optionally with KiB / MiB / GiB. */
function parseSize(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+)\s*(KiB|MiB|GiB)?$/i.exec(text.trim());
  const unit = { kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 }[m?.[2]?.toLowerCase() ?? ''] ?? 1;
  const n = m ? Number(m[1]) * unit : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1024) {
    throw new UsageError(
      `--max-record-bytes: not a size of at least 1024 bytes: ${text} (e.g. 64MiB)`,
    );
  }
  return n;
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
      ...s.malformed.map((m) => `    ${visible(m.file)}:${m.line}: ${visible(m.error)}`),
      r.malformed > s.malformed.length
        ? `    … and ${r.malformed - s.malformed.length} more`
        : null,
      r.malformed > 0
        ? '  malformed lines fail the run (exit 1): a line that cannot be read may hold a pod write'
        : null,
      ...unjudgedLines(s),
      `  findings: ${s.findings}`,
      ...s.notes.map((n) => `  note: ${n}`),
    ]
      .filter((l): l is string => l !== null)
      .join('\n')}\n`,
  );
}

/** Writes whose images could not be judged: counted and listed, never a quiet skip. */
function unjudgedLines(s: ReplaySummary): string[] {
  const total = unjudgedCount(s);
  if (total === 0) return [];
  return [
    `  not judged (reported failures): ${total} write(s) whose images the log does not show`,
    ...s.unjudged.map((m) => `    ${visible(m.file)}:${m.line}: ${visible(m.error)}`),
    ...(total > s.unjudged.length ? [`    … and ${total - s.unjudged.length} more`] : []),
  ];
}

function unjudgedCount(s: ReplaySummary): number {
  let n = 0;
  for (const [reason, count] of Object.entries(s.skipped)) {
    if (FAILURE_REASONS.has(reason as SkipReason) && reason !== 'not-audit-event') n += count;
  }
  return n;
}

function printHuman(io: CliIo, findings: readonly AggregatedFinding[], wide = false): void {
  if (findings.length === 0) {
    io.stdout.write('no findings\n');
    return;
  }
  const rows = findings.map((f) => [...findingCells(f), f.firstSeen]);
  const maxWidth = wide ? Number.POSITIVE_INFINITY : undefined;
  io.stdout.write(`${formatTable([...FINDING_COLUMNS, 'FIRST SEEN'], rows, { maxWidth })}\n`);
}

const CSV_COLUMNS = [
  'fingerprint',
  'cluster',
  'namespace',
  'workloadKind',
  'workloadName',
  'container',
  'image',
  'reference',
  'rule',
  'severity',
  'count',
  'firstSeen',
  'lastSeen',
  'actor',
];

async function printFindings(
  io: CliIo,
  format: OutputFormat,
  findings: readonly AggregatedFinding[],
) {
  if (format === 'json') {
    for (const f of findings) io.stdout.write(`${JSON.stringify(findingJson(f))}\n`);
  } else if (format === 'yaml') {
    const { stringify } = await loadYaml();
    for (const f of findings) io.stdout.write(`---\n${stringify(findingJson(f))}`);
  } else if (format === 'csv') {
    io.stdout.write(csvLine(CSV_COLUMNS));
    for (const f of findings) {
      const j = findingJson(f);
      io.stdout.write(
        csvLine([
          j.fingerprint,
          j.cluster,
          j.namespace,
          j.workload.kind,
          j.workload.name,
          j.container,
          j.image,
          j.reference,
          j.rule,
          j.severity,
          j.count,
          j.firstSeen,
          j.lastSeen,
          j.actor?.username ?? '',
        ]),
      );
    }
  } else printHuman(io, findings, format === 'wide');
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
  /** What the file `-` reads. */
  stdin?: Readable | undefined;
  /** Longest line / largest pretty-printed document read (default 16 MiB / 32 Mi chars). */
  maxRecordBytes?: number | undefined;
  /** Called once, before reading, with the replay's live progress. */
  onProgress?: ((progress: ReplayProgress) => void) | undefined;
}

/** Notes about rules that cannot apply to what was replayed. */
function notesFor(allowlist: CompiledAllowlist, unknownCluster: number): string[] {
  const scoped = allowlist.rules.filter((r) => (r.clusters?.length ?? 0) > 0);
  if (unknownCluster === 0 || scoped.length === 0) return [];
  const ids = scoped.map((r) => r.id);
  const shown = ids.length > 5 ? `${ids.slice(0, 5).join(', ')}, …` : ids.join(', ');
  return [
    `${unknownCluster} workload write(s) came with no cluster (no --cluster, no EKS log group) and were judged as cluster "${UNKNOWN_CLUSTER}": ${scoped.length} cluster-scoped rule(s) cannot apply to them (${shown}); pass --cluster NAME`,
  ];
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
  const noEvents: string[] = [];
  // Progress: the finished files' counts plus the live counts of the one being read.
  let current: PipelineCounts = newPipelineCounts();
  // Ranges of the file being read in parallel that are done (merged once all are).
  const rangesDone = { bytes: 0, events: 0 };
  if (opts.onProgress) {
    const sizes = await Promise.all(
      files.map((f) =>
        f === STDIN
          ? null
          : stat(f).then(
              (st) => st.size,
              () => null,
            ),
      ),
    );
    opts.onProgress({
      totalBytes: sizes.includes(null) ? null : sizes.reduce<number>((a, b) => a + (b ?? 0), 0),
      bytes: () => total.reader.bytes + current.reader.bytes + rangesDone.bytes,
      events: () => total.reader.events + current.reader.events + rangesDone.events,
      findings: () => aggregator.size,
    });
  }
  for (const file of files) {
    const stdin = file === STDIN;
    const name = stdin ? '<stdin>' : path.basename(file);
    const ranges =
      !stdin && threads > 1 && opts.allowlistDocument
        ? await parallelRanges(file, threads, opts.parallelMinBytes ?? PARALLEL_MIN_BYTES)
        : null;
    current = newPipelineCounts();
    if (!ranges || !opts.allowlistDocument) {
      const source = stdin ? (opts.stdin ?? Readable.from([])) : file;
      await evaluateAuditLog(
        source,
        decider,
        {
          file: name,
          cluster: opts.cluster,
          at,
          bytePrefilter: !opts.reference,
          maxRecordBytes: opts.maxRecordBytes,
        },
        add,
        current,
      );
    } else {
      // Merged in file order, the candidates and counts are those of a sequential read.
      const tasks: ReplayRangeTask[] = ranges.map((range) => ({
        path: file,
        file: name,
        cluster: opts.cluster,
        atMs: at === null ? null : at.getTime(),
        range,
        maxRecordBytes: opts.maxRecordBytes,
      }));
      rangesRead += tasks.length;
      const { replayRanges } = await import('../../lambdas/adapters/auditlog/replay-worker.ts');
      const results = await replayRanges(tasks, {
        allowlist: opts.allowlist,
        document: opts.allowlistDocument,
        decider,
        workers: threads - 1,
        onRange: (r) => {
          rangesDone.bytes += r.counts.reader.bytes;
          rangesDone.events += r.counts.reader.events;
        },
      });
      rangesDone.bytes = 0;
      rangesDone.events = 0;
      for (const r of results) {
        for (const c of r.candidates) aggregator.add(c);
        mergeCounts(current, r.counts);
      }
    }
    if (current.reader.events === 0) noEvents.push(file);
    mergeCounts(total, current, false);
    current = newPipelineCounts();
  }
  const findings = aggregator.results();
  const summary: ReplaySummary = {
    files: files.length,
    reader: total.reader,
    observations: total.observations,
    skipped: total.skipped,
    malformed: total.malformed,
    unjudged: total.unjudged,
    findings: findings.length,
    parallelRanges: rangesRead,
    unknownCluster: total.unknownCluster,
    noEvents,
    notes: notesFor(opts.allowlist, total.unknownCluster),
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
  const replayCmd = program
    .command('replay')
    .description(
      'evaluate audit logs offline: JSON lines of Events, EventList documents, CloudWatch Logs payloads or exports, .gz',
    )
    .argument('<file...>', 'audit log files (- reads standard input)')
    .option(
      '--allowlist <file>',
      'allowlist YAML (default: $REGWATCH_ALLOWLIST or ./allowlist.yaml)',
    )
    .option(
      '--cluster <name>',
      'cluster name for events whose file names none (CloudWatch log groups do)',
      parseClusterOption,
    )
    .option(
      '--at <time>',
      'judge every event at this time (ISO-8601 or "now"); default: each event\'s own time',
    )
    .option('-q, --quiet', 'no progress line on a terminal')
    .option('--summary-json <file>', 'also write the summary as JSON to this file')
    .option(
      '--inventory-at <time>',
      'instead of findings: what the log says was running at TIME (inventory JSON lines with --json)',
    )
    .option(
      '--max-record-bytes <size>',
      'longest line / largest pretty-printed document read; larger ones are reported as malformed (default 16MiB / 32MiB)',
    )
    .option(
      '--threads <n>',
      `threads for a JSON-lines file of ${PARALLEL_MIN_BYTES / 1024 / 1024} MiB or more (default: available cores; 1: one thread)`,
    );
  withOutputOption(replayCmd, FORMATS).action(async (files: string[], opts: ReplayOptions) => {
    const format = outputFormat(opts, FORMATS);
    const threads = parseThreads(opts.threads);
    const maxRecordBytes = parseSize(opts.maxRecordBytes);
    const { document, allowlist } = await loadAllowlistDocument(opts.allowlist, io);
    const at = parseAt(opts.at);
    if (files.filter((f) => f === STDIN).length > 1) {
      throw new UsageError('standard input (-) can be read only once');
    }
    const resolved = files.map((f) => (f === STDIN ? STDIN : path.resolve(io.cwd, f)));
    for (const [i, f] of resolved.entries()) {
      if (f === STDIN) continue;
      const st = await stat(f).catch(() => {
        throw new UsageError(`cannot read ${files[i]}: no such file`);
      });
      if (st.isDirectory()) {
        throw new UsageError(`${files[i]} is a directory, not an audit log (name its files)`);
      }
    }
    if (opts.inventoryAt !== undefined) {
      if (resolved.includes(STDIN)) {
        throw new UsageError('--inventory-at reads files: name them (standard input is not read)');
      }
      const { printInventoryAt } = await import('../inventory-at-output.ts');
      await printInventoryAt(io, resolved, {
        at: parseAt(opts.inventoryAt) ?? new Date(),
        cluster: opts.cluster,
        allowlist,
        json: format === 'json',
      });
      setExit(EXIT.ok);
      return;
    }
    let renderer: ProgressRenderer | null = null;
    const { findings, summary } = await replayFiles(resolved, {
      allowlist,
      allowlistDocument: document,
      threads,
      ...(opts.cluster ? { cluster: opts.cluster } : {}),
      at,
      maxRecordBytes,
      stdin: io.stdin,
      ...(isTerminal(io.stderr) && !opts.quiet
        ? {
            onProgress: (p: ReplayProgress) => {
              renderer = new ProgressRenderer(io.stderr, p);
            },
          }
        : {}),
    }).finally(() => (renderer as ProgressRenderer | null)?.stop());
    if (summary.noEvents.length > 0) {
      // The wrong file (a YAML file, another log) must not pass as "no findings".
      setExit(EXIT.usage);
    } else {
      // An image that could not be judged fails closed, like a finding, and so does a line
      // that could not be read (bad JSON, over the size caps, a bad gzip member): it may have
      // held a pod write. Set before printing: a closed stdout ends the CLI with the code set
      // so far.
      const unread = summary.reader.malformed;
      setExit(
        findings.length > 0 || unjudgedCount(summary) > 0 || unread > 0 ? EXIT.violations : EXIT.ok,
      );
    }
    await printFindings(io, format, findings);
    printSummary(io, summary);
    if (opts.summaryJson) {
      await writeFile(
        path.resolve(io.cwd, opts.summaryJson),
        `${JSON.stringify(summaryJson(summary, files, resolved), null, 2)}\n`,
      );
    }
    for (const f of summary.noEvents) {
      const given = files[resolved.indexOf(f)] ?? f;
      io.stderr.write(
        `regwatch: ${given === STDIN ? 'standard input' : given}: no audit events found (not an audit log?)\n`,
      );
    }
  });
};

/** The `--summary-json` document: the summary, with inputs named as they were given. */
export function summaryJson(
  s: ReplaySummary,
  given: readonly string[],
  resolved: readonly string[],
) {
  const asGiven = (f: string) => given[resolved.indexOf(f)] ?? f;
  return {
    files: s.files,
    bytes: s.reader.bytes,
    lines: s.reader.lines,
    events: s.reader.events,
    prefiltered: s.reader.prefiltered,
    evaluated: s.observations,
    skipped: s.skipped,
    notJson: s.reader.notJson,
    malformed: s.reader.malformed,
    malformedLines: s.malformed,
    findings: s.findings,
    noEvents: s.noEvents.map(asGiven),
    notes: s.notes,
  };
}
