import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { AllowlistDiff } from '../../lambdas/adapters/dynamodb/index.ts';
import {
  type AllowlistRule,
  parseAllowlist,
  RULE_KEYS,
  ruleTarget,
  serializeAllowlist,
  validateRule,
} from '../../lambdas/core/allowlist/index.ts';
import { UsageError } from '../../lambdas/core/errors.ts';
import { addImpact, type Impact } from '../../lambdas/core/what-if.ts';
import { type CliIo, EXIT } from '../context.ts';
import type { Register } from '../main.ts';
import {
  type OutputFormat,
  type OutputOptions,
  outputFormat,
  withOutputOption,
} from '../output/format.ts';
import { formatTable } from '../table.ts';

const LIST_FORMATS: readonly OutputFormat[] = ['table', 'wide', 'json', 'yaml'];

import { openTarget, type TargetOptions, withTargetOptions } from '../target.ts';
import { loadYaml } from '../yaml-module.ts';
import { registerAllowlistConvert } from './allowlist-convert.ts';

const list = (value: string, previous: string[] = []) => [
  ...previous,
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

interface AddOptions extends TargetOptions {
  id: string;
  effect?: string;
  registry?: string;
  repository?: string;
  image?: string;
  clusters?: string[];
  namespaces?: string[];
  tags?: string[];
  digests?: string[];
  requireDigest?: boolean;
  denyTags?: string[];
  severity?: string;
  /** No flag: keys and identities are structured; write them in a file and `import` it. */
  requireSignature?: undefined;
  expiresAt?: string;
  reason?: string;
  owner?: string;
  ticket?: string;
}

function ruleFromOptions(opts: AddOptions): AllowlistRule {
  const raw: Record<string, unknown> = { id: opts.id };
  // The flags carry the rule fields' own names, so the schema's key list drives the copy.
  for (const key of RULE_KEYS) if (key !== 'id' && opts[key] !== undefined) raw[key] = opts[key];
  return validateRule(raw, 'rule');
}

function describeTarget(rule: AllowlistRule): string {
  const t = ruleTarget(rule);
  return `${rule.effect === 'deny' ? 'deny ' : ''}${t.registry.source}/${t.repository.source}`;
}

function printDiff(io: CliIo, diff: AllowlistDiff, dryRun: boolean): void {
  const verb = dryRun ? 'would' : 'did';
  const lines = [
    ...diff.added.map((id) => `+ ${id}`),
    ...diff.changed.map((id) => `~ ${id}`),
    ...diff.removed.map((id) => `- ${id}`),
    ...diff.reordered.map((id) => `↕ ${id} (position only)`),
    ...(diff.settingsChanged ? ['~ (severities / pullThroughCache)'] : []),
  ];
  io.stdout.write(lines.length > 0 ? `${lines.join('\n')}\n` : 'no changes\n');
  io.stdout.write(
    `${dryRun ? 'dry run: ' : ''}${verb} add ${diff.added.length}, change ${diff.changed.length}, remove ${diff.removed.length}\n`,
  );
}

interface ImportOptions extends TargetOptions {
  dryRun?: boolean;
  output?: string;
  json?: boolean;
  failOnImpact?: boolean;
}

function printImpact(io: CliIo, impact: Impact): void {
  const line = (i: Impact['newViolations'][number]) =>
    `${i.cluster}/${i.namespace} ${i.workload.kind}/${i.workload.name} ${i.container} ${i.reference ?? ''} ${i.rule}`;
  io.stdout.write(
    `impact: ${impact.newViolations.length} new violation(s), ${impact.resolved.length} resolved\n`,
  );
  for (const i of impact.newViolations) io.stdout.write(`  + ${line(i)}\n`);
  for (const i of impact.resolved) io.stdout.write(`  - ${line(i)}\n`);
}

export const registerAllowlist: Register = (program: Command, io, setExit) => {
  const allowlist = program.command('allowlist').description('manage the stored allowlist');

  const listCmd = withTargetOptions(
    allowlist.command('list').description('the stored rules, in order'),
  );
  withOutputOption(listCmd, LIST_FORMATS).action(async (opts: TargetOptions & OutputOptions) => {
    const format = outputFormat(opts, LIST_FORMATS);
    const target = await openTarget(opts, io);
    try {
      const doc = await target.tables.allowlist.loadAll();
      if (format === 'json') {
        for (const rule of doc.rules) io.stdout.write(`${JSON.stringify(rule)}\n`);
      } else if (format === 'yaml') {
        const { stringify } = await loadYaml();
        for (const rule of doc.rules) io.stdout.write(`---\n${stringify(rule)}`);
      } else if (doc.rules.length === 0) {
        io.stdout.write(
          'no rules: every image is a finding (import one with `regwatch allowlist import FILE`)\n',
        );
      } else {
        const rows = doc.rules.map((r) => [
          r.id,
          describeTarget(r),
          [
            r.clusters?.length ? `clusters=${r.clusters.join(',')}` : '',
            r.namespaces?.length ? `namespaces=${r.namespaces.join(',')}` : '',
          ]
            .filter(Boolean)
            .join(' ') || 'all',
          [
            r.tags?.length ? `tags=${r.tags.join(',')}` : '',
            r.digests?.length ? `digests=${r.digests.length}` : '',
            r.requireDigest ? 'digest' : '',
            r.denyTags?.length ? `deny=${r.denyTags.join(',')}` : '',
            r.severity ? `severity=${r.severity}` : '',
          ]
            .filter(Boolean)
            .join(' ') || '-',
          r.expiresAt ?? '-',
          r.reason ?? '',
        ]);
        io.stdout.write(
          `${formatTable(['ID', 'SOURCE', 'SCOPE', 'CONSTRAINTS', 'EXPIRES', 'REASON'], rows, {
            maxWidth: format === 'wide' ? Number.POSITIVE_INFINITY : undefined,
          })}\n`,
        );
      }
      setExit(EXIT.ok);
    } finally {
      target.close();
    }
  });

  withTargetOptions(
    allowlist
      .command('add')
      .description('add a rule, or replace the rule with the same id')
      .requiredOption('--id <id>', 'unique rule id')
      .option('--effect <effect>', 'allow (default) or deny')
      .option('--registry <host>', 'registry host[:port]; * is one DNS label, ** any host')
      .option('--repository <pattern>', 'path pattern on whole segments (* in one, ** across)')
      .option('--image <pattern>', 'shorthand normalised like an image, e.g. docker.io/library/*')
      .option('--clusters <globs>', 'comma-separated cluster globs', list)
      .option('--namespaces <globs>', 'comma-separated namespace globs', list)
      .option('--tags <globs>', 'comma-separated tags the rule matches (* and ? globs)', list)
      .option('--digests <digests>', 'comma-separated sha256:… digests the rule matches', list)
      .option('--require-digest', 'only digest-pinned references')
      .option(
        '--deny-tags <tags>',
        'comma-separated tags that are not allowed (no tag = latest)',
        list,
      )
      .option('--severity <level>', 'severity of the violations this rule yields')
      .option('--expires-at <time>', 'time-boxed exception: ISO-8601 time')
      .option('--reason <text>')
      .option('--owner <text>')
      .option('--ticket <text>'),
  ).action(async (opts: AddOptions) => {
    const rule = ruleFromOptions(opts);
    const target = await openTarget(opts, io);
    try {
      await target.tables.allowlist.put(rule);
      io.stdout.write(`rule ${rule.id} stored (${describeTarget(rule)})\n`);
      setExit(EXIT.ok);
    } finally {
      target.close();
    }
  });

  withTargetOptions(
    allowlist.command('remove').description('remove a rule').argument('<id>', 'rule id'),
  ).action(async (id: string, opts: TargetOptions) => {
    const target = await openTarget(opts, io);
    try {
      await target.tables.allowlist.remove(id);
      io.stdout.write(`rule ${id} removed\n`);
      setExit(EXIT.ok);
    } finally {
      target.close();
    }
  });

  const readDocument = (file: string) => {
    const full = path.resolve(io.cwd, file);
    let text: string;
    try {
      text = readFileSync(full, 'utf8');
    } catch {
      throw new UsageError(`cannot read ${file}`);
    }
    return parseAllowlist(text, file);
  };

  /** The rule diff and, when asked, its impact on the inventory; sets the exit code. */
  const importAction = async (file: string, opts: ImportOptions, dryRun: boolean) => {
    const output = (opts.output ?? (opts.json ? 'json' : 'text')).toLowerCase();
    if (output !== 'text' && output !== 'json')
      throw new UsageError(`-o: expected text or json, got ${opts.output}`);
    const doc = readDocument(file);
    const target = await openTarget(opts, io);
    try {
      let impact: Impact | undefined;
      if (dryRun) {
        const { compileAllowlist } = await import(
          '../../lambdas/core/allowlist/compile-allowlist.ts'
        );
        const before = compileAllowlist(await target.tables.allowlist.loadAll());
        const after = compileAllowlist(doc);
        const now = new Date();
        impact = { newViolations: [], resolved: [] };
        for await (const { entry } of target.tables.inventory.query({}))
          addImpact(impact, entry, before, after, now);
      }
      const diff = await target.tables.allowlist.applyDiff(doc, { dryRun });
      if (output === 'json') {
        io.stdout.write(
          `${JSON.stringify({
            rules: { added: diff.added, removed: diff.removed, changed: diff.changed },
            ...(impact ? { impact } : {}),
          })}\n`,
        );
      } else {
        printDiff(io, diff, dryRun);
        if (impact) printImpact(io, impact);
      }
      setExit(
        opts.failOnImpact && impact && impact.newViolations.length > 0 ? EXIT.violations : EXIT.ok,
      );
    } finally {
      target.close();
    }
  };

  withTargetOptions(
    allowlist
      .command('import')
      .description(
        'make the stored allowlist equal to FILE: validated whole first, applied as a diff',
      )
      .argument('<file>', 'allowlist YAML')
      .option('--dry-run', 'show what would change and its impact on the inventory; change nothing')
      .option('-o, --output <format>', 'text or json (default text)')
      .option('--json', 'same as -o json')
      .option('--fail-on-impact', 'with --dry-run: exit 1 when the change adds violations'),
  ).action((file: string, opts: ImportOptions) => importAction(file, opts, opts.dryRun === true));

  withTargetOptions(
    allowlist
      .command('what-if')
      .description(
        'the rule diff of FILE against the stored allowlist and its impact; writes nothing',
      )
      .argument('<file>', 'allowlist YAML')
      .option('-o, --output <format>', 'text or json (default text)')
      .option('--json', 'same as -o json')
      .option('--fail-on-impact', 'exit 1 when the change adds violations'),
  ).action((file: string, opts: ImportOptions) => importAction(file, opts, true));

  withTargetOptions(
    allowlist
      .command('export')
      .description('write the stored allowlist in the file format (stdout without FILE)')
      .argument('[file]', 'output file'),
  ).action(async (file: string | undefined, opts: TargetOptions) => {
    const target = await openTarget(opts, io);
    try {
      const yaml = serializeAllowlist(await target.tables.allowlist.loadAll());
      if (file) {
        writeFileSync(path.resolve(io.cwd, file), yaml);
        io.stderr.write(`wrote ${file}\n`);
      } else io.stdout.write(yaml);
      setExit(EXIT.ok);
    } finally {
      target.close();
    }
  });
  registerAllowlistConvert(allowlist, io, setExit);
};
