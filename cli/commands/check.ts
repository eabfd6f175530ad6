import type { Command } from 'commander';
import type { CompiledAllowlist } from '../../lambdas/core/allowlist/index.ts';
import { UsageError } from '../../lambdas/core/errors.ts';
import { type Decision, type Scope, SEVERITIES, type Severity } from '../../lambdas/core/types.ts';
import { visible } from '../../lambdas/core/visible.ts';
import { loadAllowlistFile } from '../allowlist-file.ts';
import { parseClusterOption } from '../cluster-option.ts';
import { type CliIo, EXIT } from '../context.ts';
import { readLines } from '../input.ts';
import type { Register } from '../main.ts';
import type { ManifestItem } from '../manifest-input.ts';
import type { CheckProblem, CheckReport, CheckResult } from '../output/check-result.ts';
import { colors } from '../output/color.ts';
import {
  type Column,
  emitRecords,
  OUTPUT_FORMATS,
  type OutputFormat,
  type OutputOptions,
  outputFormat,
  withOutputOption,
} from '../output/format.ts';

interface CheckOptions extends OutputOptions {
  allowlist?: string;
  cluster?: string;
  namespace?: string;
  file: string[];
  failOn?: string;
  manifests?: boolean;
  verifySignatures?: boolean;
}

/** `check` speaks every format. */
const FORMATS: readonly OutputFormat[] = OUTPUT_FORMATS;

function parseFailOn(text: string | undefined): Severity {
  if (text === undefined) return 'low';
  const lower = text.toLowerCase();
  if ((SEVERITIES as readonly string[]).includes(lower)) return lower as Severity;
  throw new UsageError(`--fail-on: expected one of ${SEVERITIES.join(', ')}, got ${text}`);
}

/** An image we cannot judge is `invalid-reference`, at the severity the allowlist gives it. */
function invalidDecision(
  allowlist: CompiledAllowlist,
  item: { image: string; invalid: string },
  scope: Scope,
  now: Date,
): Decision {
  const probe = allowlist.decide('', scope, now);
  const severity = probe.violations.find((v) => v.rule === 'invalid-reference')?.severity ?? 'high';
  return {
    image: item.image,
    allowed: false,
    reference: null,
    judged: null,
    matchedRule: null,
    violations: [
      {
        rule: 'invalid-reference',
        severity,
        message: item.image === '' ? item.invalid : `${item.invalid}: ${item.image}`,
      },
    ],
  };
}

function toResult(
  d: Decision,
  item: Pick<ManifestItem, 'source'> | { source?: undefined },
): CheckResult {
  return {
    image: d.image,
    allowed: d.allowed,
    reference: d.reference?.string ?? null,
    matchedRule: d.matchedRule,
    violations: d.violations.map((v) => ({
      rule: v.rule,
      severity: v.severity,
      message: v.message,
    })),
    ...(item.source ? { source: item.source } : {}),
  };
}

function whereText(r: CheckResult): string {
  const s = r.source;
  if (!s) return '';
  return `${s.kind}/${s.name} ${s.container}${s.judgedBy === 'shape' ? ' (by shape)' : ''}`;
}

function fileText(r: CheckResult): string {
  const s = r.source;
  if (!s) return '';
  return `${s.file}${s.line ? `:${s.line}:${s.column ?? 1}` : ''}`;
}

const SEVERITY_RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };

function columns(io: CliIo): Column<CheckResult>[] {
  const c = colors(io, io.stdout);
  return [
    {
      header: 'RESULT',
      cell: (r) => (r.allowed ? 'ALLOWED' : 'VIOLATION'),
      style: (t, r) => (r.allowed ? c.green(t) : c.red(t)),
      csv: 'result',
    },
    { header: 'IMAGE', cell: (r) => r.image, csv: 'image' },
    { header: 'WHERE', cell: whereText, csv: 'where' },
    { header: 'FILE', cell: fileText, wide: true, csv: 'file' },
    { header: 'PATH', cell: (r) => r.source?.path ?? '', wide: true, csv: 'path' },
    { header: 'RULE', cell: (r) => r.matchedRule ?? '-', csv: 'matchedRule' },
    {
      header: 'VIOLATIONS',
      cell: (r) => r.violations.map((v) => `${v.rule} (${v.severity}): ${v.message}`).join('; '),
      csv: 'violations',
    },
  ];
}

function printProblems(io: CliIo, problems: readonly CheckProblem[]): void {
  for (const p of problems) {
    const at = `${p.file}${p.line ? `:${p.line}${p.column ? `:${p.column}` : ''}` : ''}`;
    io.stderr.write(`regwatch: ${visible(at)}: ${visible(p.message)}\n`);
  }
}

async function emit(
  io: CliIo,
  format: OutputFormat,
  report: CheckReport,
  notes: string[],
): Promise<void> {
  switch (format) {
    case 'sarif': {
      const { toSarif } = await import('../output/sarif.ts');
      io.stdout.write(`${JSON.stringify(toSarif(report), null, 2)}\n`);
      break;
    }
    case 'junit': {
      const { toJunit } = await import('../output/ci.ts');
      io.stdout.write(toJunit(report));
      break;
    }
    case 'github': {
      const { toGithub } = await import('../output/ci.ts');
      io.stdout.write(toGithub(report));
      break;
    }
    default: {
      await emitRecords(io, format, {
        columns: columns(io),
        rows: report.results,
        json: (r) => r,
        empty: '',
      });
      if ((format === 'table' || format === 'wide') && report.results.length > 0) {
        const bad = report.results.filter((r) => !r.allowed).length;
        io.stdout.write(`\n${report.results.length} image(s) checked, ${bad} with violations\n`);
      }
    }
  }
  const human = format === 'table' || format === 'wide';
  for (const note of notes) (human ? io.stdout : io.stderr).write(`note: ${note}\n`);
}

export const registerCheck: Register = (program: Command, io, setExit) => {
  const cmd = program
    .command('check')
    .description(
      'judge images (arguments, stdin lines, or Kubernetes manifests) against an allowlist',
    )
    .argument('[image...]', 'image references')
    .option(
      '--allowlist <file>',
      'allowlist YAML (default: $REGWATCH_ALLOWLIST or ./allowlist.yaml)',
    )
    .option(
      '--cluster <name>',
      'cluster the images run in (rules scoped to clusters need it)',
      parseClusterOption,
    )
    .option('--namespace <name>', 'namespace for images and for manifests that name none')
    .option(
      '-f, --file <path>',
      'Kubernetes manifest file or directory (multi-document YAML or JSON); - for stdin',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option('--manifests', 'the arguments are manifest files or directories (for pre-commit hooks)')
    .option(
      '--verify-signatures',
      'verify the signatures rules require (fetched from the registries; see regwatch verify)',
    )
    .option(
      '--fail-on <severity>',
      `exit 1 only for a violation at or above: ${SEVERITIES.join(', ')} (default: any)`,
    );
  withOutputOption(cmd, FORMATS).action(async (images: string[], opts: CheckOptions) => {
    const format = outputFormat(opts, FORMATS);
    if (opts.manifests) {
      opts.file = [...opts.file, ...images];
      images = [];
      if (opts.file.length === 0) throw new UsageError('--manifests: no files given');
    }
    const failOn = parseFailOn(opts.failOn);
    const allowlist: CompiledAllowlist = await loadAllowlistFile(opts.allowlist, io);
    const now = new Date();
    /** Each image's decision, with what `--verify-signatures` needs to decide it again. */
    const judged: {
      d: Decision;
      item: Pick<ManifestItem, 'source'> | { source?: undefined };
      scope: Scope;
      image: string | null;
    }[] = [];
    const problems: CheckProblem[] = [];
    const notes: string[] = [];
    let files = 0;

    const plain = images.length > 0 || opts.file.length > 0 ? images : await readLines(io.stdin);
    if (opts.file.length === 0 && plain.length === 0) throw new UsageError('no images to check');
    for (const image of plain) {
      const scope = { cluster: opts.cluster, namespace: opts.namespace };
      judged.push({ d: allowlist.decide(image, scope, now), item: {}, scope, image });
    }

    if (opts.file.length > 0) {
      const { readManifests } = await import('../manifest-input.ts');
      const input = await readManifests(opts.file, io, opts.namespace);
      files = input.files;
      for (const p of input.problems) problems.push(p);
      for (const item of input.items) {
        const scope = { cluster: opts.cluster, namespace: item.namespace };
        if (item.invalid !== null) {
          const d = invalidDecision(
            allowlist,
            { image: item.image, invalid: item.invalid },
            scope,
            now,
          );
          judged.push({ d, item, scope, image: null });
        } else {
          judged.push({
            d: allowlist.decide(item.image, scope, now),
            item,
            scope,
            image: item.image,
          });
        }
      }
      for (const n of input.notes) notes.push(visible(n));
      if (input.shapeKinds.size > 0) {
        notes.push(
          `kind(s) ${[...input.shapeKinds].sort().map(visible).join(', ')} not known to regwatch: their containers were found and judged by shape`,
        );
      }
      if (input.items.length === 0 && problems.length === 0) {
        notes.push(`no images found in ${files} manifest file(s)`);
      }
    }

    if (opts.verifySignatures) {
      // Only images a requireSignature rule covers need the registries.
      const again = judged.filter(
        (j): j is typeof j & { image: string } => j.image !== null && !!j.d.signatureChecks,
      );
      if (again.length > 0) {
        const { decideWithSignatures } = await import('../signatures.ts');
        const decided = await decideWithSignatures(io, allowlist, again, now);
        again.forEach((j, i) => {
          j.d = decided[i] ?? j.d;
        });
      }
    }
    const results: CheckResult[] = judged.map((j) => toResult(j.d, j.item));
    const report: CheckReport = { results, problems, files };
    // The exit code is decided before printing: a closed stdout still ends with it.
    const failing = results.some((r) =>
      r.violations.some((v) => SEVERITY_RANK[v.severity] >= SEVERITY_RANK[failOn]),
    );
    setExit(problems.length > 0 ? EXIT.usage : failing ? EXIT.violations : EXIT.ok);
    await emit(io, format, report, notes);
    printProblems(io, problems);
  });
};
