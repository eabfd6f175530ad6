import { access } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import {
  newReaderStats,
  type ReaderStats,
  readAuditLog,
} from '../../lambdas/adapters/auditlog/reader.ts';
import { type AggregatedFinding, FindingAggregator } from '../../lambdas/core/aggregate.ts';
import { interpretAuditEvent } from '../../lambdas/core/audit/interpret.ts';
import { UsageError } from '../../lambdas/core/errors.ts';
import { evaluateObservation } from '../../lambdas/core/evaluate.ts';
import { loadAllowlistFile } from '../allowlist-file.ts';
import { type CliIo, EXIT } from '../context.ts';
import type { Register } from '../main.ts';
import { formatTable } from '../table.ts';

/** Cluster name for events whose file and flags name none. */
export const UNKNOWN_CLUSTER = 'unknown';
const MAX_LISTED_MALFORMED = 20;

interface ReplayOptions {
  allowlist?: string;
  cluster?: string;
  json?: boolean;
  at?: string;
}

export interface ReplaySummary {
  files: number;
  reader: ReaderStats;
  observations: number;
  skipped: Record<string, number>;
  malformed: { file: string; line: number; error: string }[];
  findings: number;
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

function printSummary(io: CliIo, s: ReplaySummary): void {
  const skipped = Object.entries(s.skipped)
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  const r = s.reader;
  io.stderr.write(
    [
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
      .join('\n') + '\n',
  );
}

function printHuman(io: CliIo, findings: readonly AggregatedFinding[]): void {
  if (findings.length === 0) {
    io.stdout.write('no findings\n');
    return;
  }
  const rows = findings.map((f) => [
    f.severity.toUpperCase(),
    f.rule,
    `${f.cluster}/${f.namespace}`,
    `${f.workload.kind}/${f.workload.name}`,
    f.container,
    f.image,
    String(f.count),
    f.actor?.username ?? '-',
    f.firstSeen,
  ]);
  io.stdout.write(
    `${formatTable(
      [
        'SEVERITY',
        'RULE',
        'WHERE',
        'WORKLOAD',
        'CONTAINER',
        'IMAGE',
        'COUNT',
        'ACTOR',
        'FIRST SEEN',
      ],
      rows,
    )}\n`,
  );
}

/** Replays audit log files into findings; exported for local mode and the bench. */
export async function replayFiles(
  files: readonly string[],
  opts: { allowlist: ReturnType<typeof loadAllowlistFile>; cluster?: string; at?: Date | null },
): Promise<{ findings: AggregatedFinding[]; summary: ReplaySummary }> {
  const aggregator = new FindingAggregator();
  const summary: ReplaySummary = {
    files: files.length,
    reader: newReaderStats(),
    observations: 0,
    skipped: {},
    malformed: [],
    findings: 0,
  };
  for (const file of files) {
    for await (const record of readAuditLog(file, {
      file: path.basename(file),
      cluster: opts.cluster,
      stats: summary.reader,
    })) {
      if (record.kind === 'malformed') {
        if (summary.malformed.length < MAX_LISTED_MALFORMED) {
          summary.malformed.push({ file: record.file, line: record.line, error: record.error });
        }
        continue;
      }
      // Plain-text lines are counted by the reader (`not JSON` in the summary).
      if (record.kind === 'skipped') continue;
      const outcome = interpretAuditEvent(record.event, {
        cluster: record.cluster ?? UNKNOWN_CLUSTER,
      });
      if (outcome.kind === 'skipped') {
        summary.skipped[outcome.reason] = (summary.skipped[outcome.reason] ?? 0) + 1;
        continue;
      }
      summary.observations++;
      const obs = outcome.observation;
      // History is judged by the allowlist as it applied then: a time-boxed exception that
      // covered the event counts, unless --at fixes one time for all.
      const when = opts.at ?? new Date(obs.observedAt);
      for (const candidate of evaluateObservation(obs, opts.allowlist, when)) {
        aggregator.add(candidate);
      }
    }
  }
  const findings = aggregator.results();
  summary.findings = findings.length;
  return { findings, summary };
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
    .action(async (files: string[], opts: ReplayOptions) => {
      const allowlist = loadAllowlistFile(opts.allowlist, io);
      const at = parseAt(opts.at);
      const resolved = files.map((f) => path.resolve(io.cwd, f));
      for (const [i, f] of resolved.entries()) {
        await access(f).catch(() => {
          throw new UsageError(`cannot read ${files[i]}: no such file`);
        });
      }
      const { findings, summary } = await replayFiles(resolved, {
        allowlist,
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
