/**
 * `regwatch inventory list|report`: what runs where, judged by the allowlist in force now.
 * Heavy modules (the AWS SDK behind the target, the allowlist compiler, the reconciler) load
 * inside the actions, so the CLI starts fast.
 */
import type { Command } from 'commander';
import type { InventoryFilter } from '../../lambdas/adapters/dynamodb/inventory.ts';
import { UsageError } from '../../lambdas/core/errors.ts';
import type { InventoryEntry } from '../../lambdas/core/inventory.ts';
import { parseNormalizedNamed } from '../../lambdas/core/reference.ts';
import { SEVERITIES, type Severity, type Violation } from '../../lambdas/core/types.ts';
import { type CliIo, EXIT } from '../context.ts';
import { csvLine } from '../format.ts';
import type { Register } from '../main.ts';
import { formatTable } from '../table.ts';
import type { Target, TargetOptions } from '../target.ts';

const OUTPUTS = ['table', 'json', 'csv'] as const;
type Output = (typeof OUTPUTS)[number];

interface ListOptions extends TargetOptions {
  cluster?: string;
  namespace?: string;
  image?: string;
  violating?: boolean;
  output?: string;
  json?: boolean;
  vulnerableThreshold?: string;
}

const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

/** `--image`: a digest, a reference with a digest, or a repository in any spelling. */
export function inventoryImageFilter(text: string): Pick<InventoryFilter, 'digest' | 'repository'> {
  if (DIGEST.test(text)) return { digest: text };
  const parsed = parseNormalizedNamed(text);
  if (!parsed.ok) throw new UsageError(`--image: ${text}: ${parsed.error}`);
  if (parsed.ref.digest) return { digest: parsed.ref.digest };
  return { repository: parsed.ref.name };
}

function outputOf(opts: { output?: string; json?: boolean }, allowed: readonly Output[]): Output {
  if (opts.json) {
    if (opts.output && opts.output !== 'json') throw new UsageError('pass --json or -o, not both');
    return 'json';
  }
  const o = (opts.output ?? 'table').toLowerCase();
  if (!(allowed as readonly string[]).includes(o))
    throw new UsageError(`-o: expected one of ${allowed.join(', ')}, got ${opts.output}`);
  return o as Output;
}

function thresholdOf(text: string | undefined): Severity {
  const t = (text ?? 'high').toLowerCase();
  if (!(SEVERITIES as readonly string[]).includes(t))
    throw new UsageError(`--vulnerable-threshold: expected one of ${SEVERITIES.join(', ')}`);
  return t as Severity;
}

/** The contract's JSON line for one entry and its verdict now. */
export function inventoryLine(entry: InventoryEntry, violations: readonly Violation[]) {
  return {
    cluster: entry.cluster,
    namespace: entry.namespace,
    workload: { kind: entry.workload.kind, name: entry.workload.name },
    container: entry.container,
    containerKind: entry.containerKind,
    image: entry.image,
    reference: entry.reference,
    digests: [...entry.digests],
    sources: [...entry.sources],
    firstSeen: entry.firstSeen,
    lastSeen: entry.lastSeen,
    actor: entry.actor,
    allowed: violations.length === 0,
    violations: violations.map((v) => ({ rule: v.rule, severity: v.severity })),
  };
}

const CSV_COLUMNS = [
  'cluster',
  'namespace',
  'workloadKind',
  'workloadName',
  'container',
  'containerKind',
  'image',
  'reference',
  'digests',
  'sources',
  'firstSeen',
  'lastSeen',
  'actor',
  'allowed',
  'violations',
] as const;

async function judgeAll(
  target: Target,
  filter: InventoryFilter,
  threshold: Severity,
  each: (entry: InventoryEntry, violations: Violation[]) => void,
): Promise<void> {
  const [{ compileAllowlist }, { judgeEntry }] = await Promise.all([
    import('../../lambdas/core/allowlist/compile-allowlist.ts'),
    import('../../lambdas/services/reconcile.ts'),
  ]);
  const decider = compileAllowlist(await target.tables.allowlist.loadAll());
  const now = new Date();
  const cache = new Map();
  const deps = { images: target.tables.images, vulnerableThreshold: threshold };
  const query = { ...filter };
  if (query.repository !== undefined) {
    // Entries are stored under the host they were judged as: a pull-through cache's upstream.
    const decision = decider.decide(query.repository, {}, now);
    const host = (decision.judged ?? decision.reference)?.domain;
    if (host !== undefined) query.registries = [host];
  }
  for await (const { entry } of target.tables.inventory.query(query)) {
    const verdict = await judgeEntry(entry, decider, deps, now, cache);
    each(entry, verdict.violations);
  }
}

async function open(opts: TargetOptions, io: CliIo): Promise<Target> {
  const { openTarget } = await import('../target.ts');
  return openTarget(opts, io);
}

/** Rules that say the image's source is not trusted (as opposed to pinning or scans). */
const SOURCE_RULES = new Set([
  'untrusted-source',
  'invalid-reference',
  'expired-exception',
  'denied-source',
]);

interface ClusterReport {
  cluster: string;
  containers: number;
  trusted: { count: number; share: number };
  pinned: { count: number; share: number };
  scanned: { count: number; share: number };
  vulnerable: { count: number; share: number };
}

export const registerInventory: Register = (program: Command, io, setExit) => {
  const inventory = program
    .command('inventory')
    .description('what runs where, judged by the allowlist in force now');
  // The same flags as `withTargetOptions`, declared here so target.ts (the AWS SDK) loads lazily.
  const target = (cmd: Command) =>
    cmd
      .option(
        '--dynamodb-endpoint <url>',
        'local mode: DynamoDB endpoint of `regwatch local` (or $REGWATCH_DYNAMODB_ENDPOINT)',
      )
      .option(
        '--stack <name>',
        'deployed stack: read table names from its outputs (or $REGWATCH_STACK)',
      )
      .option('--region <region>', 'AWS region of the stack (default: the AWS SDK chain)');

  target(
    inventory
      .command('list')
      .description('inventory entries: one per cluster, namespace, workload, container and image')
      .option('--cluster <name>')
      .option('--namespace <name>', 'with --cluster')
      .option('--image <repo|digest>', 'a repository (any spelling, e.g. nginx) or a digest')
      .option('--violating', 'only entries the allowlist in force now does not allow')
      .option('-o, --output <format>', `${OUTPUTS.join(', ')} (default table)`)
      .option('--json', 'same as -o json')
      .option(
        '--vulnerable-threshold <severity>',
        'scan severity that makes an image vulnerable',
        'high',
      ),
  ).action(async (opts: ListOptions) => {
    const output = outputOf(opts, OUTPUTS);
    if (opts.namespace && !opts.cluster) throw new UsageError('--namespace needs --cluster');
    const filter: InventoryFilter = {};
    if (opts.cluster) filter.cluster = opts.cluster;
    if (opts.namespace) filter.namespace = opts.namespace;
    if (opts.image) Object.assign(filter, inventoryImageFilter(opts.image));
    const threshold = thresholdOf(opts.vulnerableThreshold);
    const t = await open(opts, io);
    try {
      const rows: string[][] = [];
      if (output === 'csv') io.stdout.write(csvLine(CSV_COLUMNS));
      await judgeAll(t, filter, threshold, (entry, violations) => {
        if (opts.violating && violations.length === 0) return;
        const line = inventoryLine(entry, violations);
        if (output === 'json') io.stdout.write(`${JSON.stringify(line)}\n`);
        else if (output === 'csv')
          io.stdout.write(
            csvLine([
              line.cluster,
              line.namespace,
              line.workload.kind,
              line.workload.name,
              line.container,
              line.containerKind,
              line.image,
              line.reference,
              line.digests.join(' '),
              line.sources.join(' '),
              line.firstSeen,
              line.lastSeen,
              line.actor,
              line.allowed,
              line.violations.map((v) => `${v.rule}:${v.severity}`).join(' '),
            ]),
          );
        else
          rows.push([
            `${line.cluster}/${line.namespace}`,
            `${line.workload.kind}/${line.workload.name}`,
            line.container,
            line.image,
            line.digests.at(-1)?.slice(0, 19) ?? '-',
            line.sources.join(','),
            line.allowed ? 'allowed' : line.violations.map((v) => v.rule).join(','),
            line.lastSeen,
          ]);
      });
      if (output === 'table') {
        io.stdout.write(
          rows.length === 0
            ? 'no inventory entries\n'
            : `${formatTable(['WHERE', 'WORKLOAD', 'CONTAINER', 'IMAGE', 'DIGEST', 'SOURCES', 'VERDICT', 'LAST SEEN'], rows)}\n`,
        );
      }
      setExit(EXIT.ok);
    } finally {
      t.close();
    }
  });

  target(
    inventory
      .command('report')
      .description(
        'per cluster: running containers and the share trusted, pinned, scanned, vulnerable',
      )
      .option('-o, --output <format>', 'table or json (default table)')
      .option('--json', 'same as -o json')
      .option(
        '--vulnerable-threshold <severity>',
        'scan severity that makes an image vulnerable',
        'high',
      ),
  ).action(async (opts: ListOptions) => {
    const output = outputOf(opts, ['table', 'json']);
    const threshold = thresholdOf(opts.vulnerableThreshold);
    const t = await open(opts, io);
    try {
      const byCluster = new Map<
        string,
        { n: number; trusted: number; pinned: number; scanned: number; vulnerable: number }
      >();
      const scannedDigests = new Map<string, boolean>();
      const entries: InventoryEntry[] = [];
      await judgeAll(t, {}, threshold, (entry, violations) => {
        entries.push(entry);
        const c = byCluster.get(entry.cluster) ?? {
          n: 0,
          trusted: 0,
          pinned: 0,
          scanned: 0,
          vulnerable: 0,
        };
        c.n++;
        if (!violations.some((v) => SOURCE_RULES.has(v.rule))) c.trusted++;
        if (entry.reference?.includes('@')) c.pinned++;
        if (violations.some((v) => v.rule === 'vulnerable-image')) c.vulnerable++;
        byCluster.set(entry.cluster, c);
      });
      for (const entry of entries) {
        const digest = entry.digests.at(-1);
        if (!digest) continue;
        const key = `${digest}#${entry.repository ?? ''}`;
        if (!scannedDigests.has(key)) {
          const record = await t.tables.images.lookup(digest, entry.repository);
          scannedDigests.set(key, record?.scanStatus === 'COMPLETE');
        }
        if (scannedDigests.get(key)) {
          const c = byCluster.get(entry.cluster);
          if (c) c.scanned++;
        }
      }
      const share = (k: number, n: number) => ({
        count: k,
        share: n === 0 ? 0 : Math.round((k / n) * 1000) / 1000,
      });
      const reports: ClusterReport[] = [...byCluster.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([cluster, c]) => ({
          cluster,
          containers: c.n,
          trusted: share(c.trusted, c.n),
          pinned: share(c.pinned, c.n),
          scanned: share(c.scanned, c.n),
          vulnerable: share(c.vulnerable, c.n),
        }));
      if (output === 'json') for (const r of reports) io.stdout.write(`${JSON.stringify(r)}\n`);
      else {
        const pct = (s: { count: number; share: number }) =>
          `${s.count} (${(s.share * 100).toFixed(1)}%)`;
        io.stdout.write(
          reports.length === 0
            ? 'no inventory entries\n'
            : `${formatTable(
                ['CLUSTER', 'CONTAINERS', 'TRUSTED', 'PINNED', 'SCANNED', 'VULNERABLE'],
                reports.map((r) => [
                  r.cluster,
                  String(r.containers),
                  pct(r.trusted),
                  pct(r.pinned),
                  pct(r.scanned),
                  pct(r.vulnerable),
                ]),
              )}\n`,
        );
      }
      setExit(EXIT.ok);
    } finally {
      t.close();
    }
  });
};
