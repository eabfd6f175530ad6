import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { LineCounter, parseAllDocuments } from 'yaml';
import type { CompiledAllowlist } from '../../lambdas/core/allowlist/index.ts';
import { UsageError } from '../../lambdas/core/errors.ts';
import { extractFromManifest } from '../../lambdas/core/kube/manifest.ts';
import type { Decision } from '../../lambdas/core/types.ts';
import { loadAllowlistFile } from '../allowlist-file.ts';
import { type CliIo, EXIT } from '../context.ts';
import { readAll, readLines } from '../input.ts';
import type { Register } from '../main.ts';
import { formatTable } from '../table.ts';

interface ManifestSource {
  file: string;
  kind: string;
  name: string;
  namespace: string | null;
  container: string;
  containerKind: string;
}

interface Item {
  image: string;
  namespace: string | undefined;
  source?: ManifestSource;
}

interface CheckOptions {
  allowlist?: string;
  cluster?: string;
  namespace?: string;
  file: string[];
  json?: boolean;
  verifySignatures?: boolean;
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

function manifestFiles(target: string, io: CliIo): string[] {
  const full = path.resolve(io.cwd, target);
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(full);
  } catch {
    throw new UsageError(`cannot read manifest ${target}: no such file or directory`);
  }
  if (!stat.isDirectory()) return [full];
  return readdirSync(full, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && MANIFEST_EXTENSIONS.has(path.extname(e.name).toLowerCase()))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/** Objects of a multi-document YAML (or JSON) text; a syntax error names file and line. */
function parseManifestText(text: string, file: string): unknown[] {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter });
  const list = Array.isArray(docs) ? docs : [];
  const objects: unknown[] = [];
  for (const doc of list) {
    const error = doc.errors[0];
    if (error) {
      const at = lineCounter.linePos(error.pos[0]);
      throw new UsageError(
        `${file}:${at.line}:${at.col}: not valid YAML: ${error.message.split('\n')[0]}`,
      );
    }
    objects.push(doc.toJS({ maxAliasCount: 1000 }));
  }
  return objects;
}

function itemsOfManifests(objects: unknown[], file: string, defaultNs: string | undefined): Item[] {
  const items: Item[] = [];
  for (const entry of objects.flatMap((o) => extractFromManifest(o))) {
    for (const c of entry.containers) {
      items.push({
        image: c.image,
        namespace: entry.namespace ?? defaultNs,
        source: {
          file,
          kind: entry.kind,
          name: entry.name,
          namespace: entry.namespace ?? defaultNs ?? null,
          container: c.name,
          containerKind: c.kind,
        },
      });
    }
  }
  return items;
}

function violationsText(d: Decision): string {
  if (d.allowed) return '';
  return d.violations.map((v) => `${v.rule} (${v.severity}): ${v.message}`).join('; ');
}

function printHuman(io: CliIo, items: readonly Item[], decisions: readonly Decision[]): void {
  const rows = decisions.map((d, i) => {
    const src = items[i]?.source;
    return [
      d.allowed ? 'ALLOWED' : 'VIOLATION',
      d.image,
      src ? `${src.kind}/${src.name} ${src.container}` : '',
      d.matchedRule ?? '-',
      violationsText(d),
    ];
  });
  io.stdout.write(`${formatTable(['RESULT', 'IMAGE', 'WHERE', 'RULE', 'VIOLATIONS'], rows)}\n`);
  const bad = decisions.filter((d) => !d.allowed).length;
  io.stdout.write(`\n${decisions.length} image(s) checked, ${bad} with violations\n`);
}

export const registerCheck: Register = (program: Command, io, setExit) => {
  program
    .command('check')
    .description(
      'judge images (arguments, stdin lines, or Kubernetes manifests) against an allowlist',
    )
    .argument('[image...]', 'image references')
    .option(
      '--allowlist <file>',
      'allowlist YAML (default: $REGWATCH_ALLOWLIST or ./allowlist.yaml)',
    )
    .option('--cluster <name>', 'cluster the images run in (rules scoped to clusters need it)')
    .option('--namespace <name>', 'namespace for images and for manifests that name none')
    .option(
      '-f, --file <path>',
      'Kubernetes manifest file or directory (multi-document YAML or JSON); - for stdin',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option('--json', 'one JSON object per image')
    .option(
      '--verify-signatures',
      'verify the signatures rules require (fetched from the registries; see regwatch verify)',
    )
    .action(async (images: string[], opts: CheckOptions) => {
      const allowlist: CompiledAllowlist = loadAllowlistFile(opts.allowlist, io);
      const items: Item[] = images.map((image) => ({ image, namespace: opts.namespace }));
      for (const target of opts.file) {
        if (target === '-') {
          items.push(
            ...itemsOfManifests(
              parseManifestText(await readAll(io.stdin), '<stdin>'),
              '-',
              opts.namespace,
            ),
          );
          continue;
        }
        for (const file of manifestFiles(target, io)) {
          const rel = path.relative(io.cwd, file) || file;
          const objects = parseManifestText(readFileSync(file, 'utf8'), rel);
          items.push(...itemsOfManifests(objects, rel, opts.namespace));
        }
      }
      if (images.length === 0 && opts.file.length === 0) {
        for (const image of await readLines(io.stdin))
          items.push({ image, namespace: opts.namespace });
      }
      if (items.length === 0) throw new UsageError('no images to check');

      const now = new Date();
      const decisions = items.map((item) =>
        allowlist.decide(item.image, { cluster: opts.cluster, namespace: item.namespace }, now),
      );
      if (opts.verifySignatures && decisions.some((d) => d.signatureChecks)) {
        const { decideWithSignatures } = await import('../signatures.ts');
        const scoped = items.map((item) => ({
          image: item.image,
          scope: { cluster: opts.cluster, namespace: item.namespace },
        }));
        decisions.splice(
          0,
          decisions.length,
          ...(await decideWithSignatures(io, allowlist, scoped, now)),
        );
      }
      if (opts.json) {
        decisions.forEach((d, i) => {
          const source = items[i]?.source;
          const obj = {
            image: d.image,
            allowed: d.allowed,
            reference: d.reference?.string ?? null,
            matchedRule: d.matchedRule,
            violations: d.violations.map((v) => ({
              rule: v.rule,
              severity: v.severity,
              message: v.message,
            })),
            ...(source ? { source } : {}),
          };
          io.stdout.write(`${JSON.stringify(obj)}\n`);
        });
      } else {
        printHuman(io, items, decisions);
      }
      setExit(decisions.every((d) => d.allowed) ? EXIT.ok : EXIT.violations);
    });
};
