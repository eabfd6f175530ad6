import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { FindingFilter } from '../../lambdas/adapters/dynamodb/index.ts';
import { UsageError } from '../../lambdas/core/errors.ts';
import { parseNormalizedNamed } from '../../lambdas/core/reference.ts';
import {
  FINDING_STATUSES,
  type Finding,
  type FindingStatus,
  SEVERITIES,
  type Severity,
} from '../../lambdas/core/types.ts';
import { visible } from '../../lambdas/core/visible.ts';
import { parseClusterOption } from '../cluster-option.ts';
import { type CliIo, EXIT } from '../context.ts';
import { csvLine, parseSince } from '../format.ts';
import type { Register } from '../main.ts';
import { colors } from '../output/color.ts';
import {
  type OutputFormat,
  type OutputOptions,
  outputFormat,
  withOutputOption,
} from '../output/format.ts';
import { FINDING_COLUMNS, findingCells, formatTable } from '../table.ts';

const LIST_FORMATS: readonly OutputFormat[] = ['table', 'wide', 'json', 'yaml', 'csv'];
const SHOW_FORMATS: readonly OutputFormat[] = ['table', 'json', 'yaml'];

import { openTarget, type TargetOptions, withTargetOptions } from '../target.ts';
import { loadYaml } from '../yaml-module.ts';

interface ListOptions extends TargetOptions, OutputOptions {
  status?: string;
  cluster?: string;
  namespace?: string;
  image?: string;
  actor?: string;
  severity?: string;
  since?: string;
  limit?: string;
  csv?: boolean;
}

const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

function parseStatus(text: string): FindingStatus {
  const upper = text.toUpperCase();
  if ((FINDING_STATUSES as readonly string[]).includes(upper)) return upper as FindingStatus;
  throw new UsageError(`--status: expected one of ${FINDING_STATUSES.join(', ')}, got ${text}`);
}

function parseSeverity(text: string): Severity {
  const lower = text.toLowerCase();
  if ((SEVERITIES as readonly string[]).includes(lower)) return lower as Severity;
  throw new UsageError(`--severity: expected one of ${SEVERITIES.join(', ')}, got ${text}`);
}

/** `--image` is a digest, a reference with a digest, or a repository in any spelling. */
export function imageFilter(text: string): Pick<FindingFilter, 'digest' | 'repository'> {
  if (DIGEST.test(text)) return { digest: text };
  const parsed = parseNormalizedNamed(text);
  if (!parsed.ok) throw new UsageError(`--image: ${text}: ${parsed.error}`);
  if (parsed.ref.digest) return { digest: parsed.ref.digest };
  return { repository: parsed.ref.name };
}

export function filterFromOptions(opts: ListOptions, now: Date): FindingFilter {
  const filter: FindingFilter = {};
  if (opts.status) filter.status = parseStatus(opts.status);
  if (opts.cluster) filter.cluster = opts.cluster;
  if (opts.namespace) filter.namespace = opts.namespace;
  if (opts.image) Object.assign(filter, imageFilter(opts.image));
  if (opts.actor) filter.actor = opts.actor;
  if (opts.severity) filter.minSeverity = parseSeverity(opts.severity);
  if (opts.since) {
    const since = parseSince(opts.since, now);
    if (!since)
      throw new UsageError(
        `--since: expected a duration like 24h or 7d, or a date; got ${opts.since}`,
      );
    filter.since = since;
  }
  if (opts.limit !== undefined) {
    const limit = Number(opts.limit);
    if (!Number.isInteger(limit) || limit < 1)
      throw new UsageError(`--limit: expected a positive whole number, got ${opts.limit}`);
    filter.limit = limit;
  }
  return filter;
}

const CSV_COLUMNS = [
  'id',
  'status',
  'severity',
  'rule',
  'cluster',
  'namespace',
  'workloadKind',
  'workloadName',
  'container',
  'image',
  'reference',
  'digest',
  'count',
  'firstSeen',
  'lastSeen',
  'actor',
  'fingerprint',
] as const;

function csvRow(f: Finding): unknown[] {
  return [
    f.id,
    f.status,
    f.severity,
    f.rule,
    f.cluster,
    f.namespace,
    f.workload.kind,
    f.workload.name,
    f.container,
    f.image,
    f.reference,
    f.digest,
    f.count,
    f.firstSeen,
    f.lastSeen,
    f.actor?.username ?? '',
    f.fingerprint,
  ];
}

function tableRow(f: Finding): string[] {
  return [f.id, f.status, ...findingCells(f), f.lastSeen];
}

function showFinding(io: CliIo, f: Finding): void {
  // Every value is made visible on its own, so a newline inside a name cannot forge a line.
  const v = (x: unknown) => visible(String(x ?? ''));
  const c = colors(io, io.stdout);
  const actor = (a: Finding['actor']) =>
    a
      ? `${v(a.username)}${a.impersonatedUser ? ` (as ${v(a.impersonatedUser.username)})` : ''}` +
        `${a.groups.length ? `\n    groups: ${a.groups.map(v).join(', ')}` : ''}` +
        `${a.sourceIPs.length ? `\n    source IPs: ${a.sourceIPs.map(v).join(', ')}` : ''}` +
        `${a.userAgent ? `\n    user agent: ${v(a.userAgent)}` : ''}` +
        `${a.auditID ? `\n    audit ID: ${v(a.auditID)}` : ''}`
      : '- (seen by the forwarder: no request to attribute)';
  const lines = [
    `Finding ${v(f.id)}  ${v(f.status)}  ${c.severity(f.severity, v(f.severity.toUpperCase()))}  ${v(f.rule)}`,
    `  ${v(f.message)}`,
    `  cluster/namespace: ${v(f.cluster)}/${v(f.namespace)}`,
    `  workload:          ${v(f.workload.kind)}/${v(f.workload.name)}`,
    `  container:         ${v(f.container)} (${v(f.containerKind)})`,
    `  image:             ${v(f.image)}`,
    `  reference:         ${f.reference ? v(f.reference) : '(invalid)'}`,
    `  digest:            ${f.digest ? v(f.digest) : '(not pinned, not resolved)'}`,
    `  allowlist rule:    ${f.matchedRule ? v(f.matchedRule) : '-'}`,
    `  seen:              ${f.count}× from ${v(f.firstSeen)} to ${v(f.lastSeen)} (source: ${v(f.source)})`,
    `  actor (latest):    ${actor(f.actor)}`,
  ];
  if (f.firstActor && f.firstActor.username !== f.actor?.username) {
    lines.push(`  actor (first):     ${actor(f.firstActor)}`);
  }
  if (f.lastStatusChange) {
    const s = f.lastStatusChange;
    lines.push(
      `  status change:     ${v(s.status)} by ${v(s.by)} at ${v(s.at)}${s.until ? ` until ${v(s.until)}` : ''}: ${v(s.reason)}`,
    );
  }
  for (const note of f.notes ?? []) lines.push(`  note:              ${v(note)}`);
  const sightings = f.sightings ?? [];
  if (sightings.length > 0) {
    lines.push(`  sightings (latest ${sightings.length}):`);
    for (const s of sightings) lines.push(`    ${v(sightingLine(f, s))}`);
  }
  lines.push(`  fingerprint:       ${v(f.fingerprint)}`);
  io.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * One sighting: when, from where, which pod, who. A pod whose name does not start with its
 * workload's name (`web-…` for Deployment `web`) only claims that owner: said on the line.
 */
function sightingLine(f: Finding, s: NonNullable<Finding['sightings']>[number]): string {
  const pod = s.podName ?? '-';
  const claimed =
    s.podName && f.workload.kind !== 'Pod' && !s.podName.startsWith(`${f.workload.name}-`)
      ? ` (pod name is not ${f.workload.name}-…: claimed owner ${f.workload.kind}/${f.workload.name})`
      : '';
  const notes = s.notes?.length ? ` — ${s.notes.join('; ')}` : '';
  return `${s.at}  ${s.source}  pod ${pod}  by ${s.actor ?? '-'}${claimed}${notes}`;
}

const TRANSITIONS = {
  ack: { status: 'ACKNOWLEDGED', help: 'acknowledge: seen and owned, still open for reporting' },
  resolve: { status: 'RESOLVED', help: 'resolve: fixed; a new sighting reopens it' },
  suppress: { status: 'SUPPRESSED', help: 'suppress: accepted risk, optionally --until a date' },
} as const;

export const registerFindings: Register = (program: Command, io, setExit) => {
  const findings = program.command('findings').description('query and triage findings');

  const listCmd = withTargetOptions(
    findings
      .command('list')
      .description('findings, newest first (all statuses unless --status)')
      .option('--status <status>', `one of ${FINDING_STATUSES.join(', ')}`)
      .option('--cluster <name>', 'cluster name', parseClusterOption)
      .option('--namespace <name>')
      .option('--image <repo|digest>', 'a repository (any spelling, e.g. nginx) or a digest')
      .option('--actor <username>')
      .option('--severity <min>', `minimum severity: ${SEVERITIES.join(', ')}`)
      .option('--since <24h|date>', 'last seen within a duration (30m, 24h, 7d) or since a date')
      .option('--limit <n>', 'at most n findings')
      .option('--csv', 'the same as -o csv'),
  );
  withOutputOption(listCmd, LIST_FORMATS).action(async (opts: ListOptions) => {
    if (opts.csv && (opts.json || (opts.output && opts.output.toLowerCase() !== 'csv')))
      throw new UsageError('pass one output format: --csv, --json or -o');
    const format = outputFormat(opts.csv ? { output: 'csv' } : opts, LIST_FORMATS);
    const filter = filterFromOptions(opts, new Date());
    const target = await openTarget(opts, io);
    try {
      const rows: Finding[] = [];
      setExit(EXIT.ok);
      const { stringify } = format === 'yaml' ? await loadYaml() : { stringify: null };
      if (format === 'csv') io.stdout.write(csvLine(CSV_COLUMNS));
      for await (const f of target.tables.findings.query(filter)) {
        if (format === 'json') io.stdout.write(`${JSON.stringify(f)}\n`);
        else if (format === 'yaml' && stringify) io.stdout.write(`---\n${stringify(f)}`);
        else if (format === 'csv') io.stdout.write(csvLine(csvRow(f)));
        else rows.push(f);
      }
      if (format === 'table' || format === 'wide') {
        if (rows.length === 0) io.stdout.write('no findings\n');
        else {
          const c = colors(io, io.stdout);
          const severityColumn = 2;
          io.stdout.write(
            `${formatTable(['ID', 'STATUS', ...FINDING_COLUMNS, 'LAST SEEN'], rows.map(tableRow), {
              maxWidth: format === 'wide' ? Number.POSITIVE_INFINITY : undefined,
              styleHeader: c.bold,
              styleCell: (t, col, row) =>
                col === severityColumn ? c.severity(rows[row]?.severity ?? '', t) : t,
            })}\n`,
          );
        }
      }
      const skipped = target.tables.findings.invalidSkipped;
      if (skipped > 0) io.stderr.write(`regwatch: skipped ${skipped} invalid stored finding(s)\n`);
    } finally {
      target.close();
    }
  });

  const showCmd = withTargetOptions(
    findings
      .command('show')
      .description('one finding in full')
      .argument('<id>', 'finding id (16 hex, or an unambiguous prefix) or fingerprint'),
  );
  withOutputOption(showCmd, SHOW_FORMATS).action(
    async (id: string, opts: TargetOptions & OutputOptions) => {
      const format = outputFormat(opts, SHOW_FORMATS);
      const target = await openTarget(opts, io);
      try {
        const f = await target.tables.findings.get(id);
        if (format === 'json') io.stdout.write(`${JSON.stringify(f)}\n`);
        else if (format === 'yaml') io.stdout.write((await loadYaml()).stringify(f));
        else showFinding(io, f);
        setExit(EXIT.ok);
      } finally {
        target.close();
      }
    },
  );

  for (const [name, { status, help }] of Object.entries(TRANSITIONS)) {
    const cmd = findings
      .command(name)
      .description(help)
      .argument('<id>', 'finding id or fingerprint')
      .requiredOption('--reason <text>', 'why (kept with the finding)')
      .option('--by <name>', 'who (default: your login name)');
    if (status === 'SUPPRESSED') cmd.option('--until <date>', 'the suppression ends then');
    withTargetOptions(cmd).action(
      async (id: string, opts: TargetOptions & { reason: string; by?: string; until?: string }) => {
        if (opts.reason.trim() === '') throw new UsageError('--reason must not be empty');
        let until: string | undefined;
        if (opts.until !== undefined) {
          const ms = Date.parse(opts.until);
          if (Number.isNaN(ms)) throw new UsageError(`--until: not a date: ${opts.until}`);
          if (ms <= Date.now()) throw new UsageError(`--until: ${opts.until} is in the past`);
          until = new Date(ms).toISOString();
        }
        const target = await openTarget(opts, io);
        try {
          const f = await target.tables.findings.setStatus(id, {
            status,
            by: opts.by ?? io.env.USER ?? userInfo().username,
            at: new Date().toISOString(),
            reason: opts.reason,
            ...(until ? { until } : {}),
          });
          io.stdout.write(`${f.id} is now ${f.status}${until ? ` until ${until}` : ''}\n`);
          setExit(EXIT.ok);
        } finally {
          target.close();
        }
      },
    );
  }
};
