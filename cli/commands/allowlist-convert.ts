/**
 * `regwatch allowlist convert --from gatekeeper|kyverno|kubewarden FILE… [-o yaml|json]`:
 * the allowlist on stdout; on stderr what the migration closes on purpose (what the peer's
 * string matching let through), notes, and what could not be converted (then exit 1).
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { UsageError, ValidationError } from '../../lambdas/core/errors.ts';
import { type CliIo, EXIT } from '../context.ts';
import { loadYaml } from '../yaml-module.ts';

interface ConvertOptions {
  from: string;
  output: string;
}

export const MAX_POLICY_FILE_BYTES = 32 * 1024 * 1024;

/** Every document of a YAML or JSON file; a syntax error names file, line and column. */
export async function readPolicyFile(file: string, io: CliIo): Promise<unknown[]> {
  const { LineCounter, parseAllDocuments } = await loadYaml();
  const full = path.resolve(io.cwd, file);
  let text: string;
  try {
    // Policies, tests and manifests are small; a huge file is a mistake, not work to do.
    const size = statSync(full).size;
    if (size > MAX_POLICY_FILE_BYTES) {
      throw new ValidationError(
        `${file} is ${size} bytes; policy, test and manifest files are read up to ${MAX_POLICY_FILE_BYTES} bytes`,
      );
    }
    text = readFileSync(full, 'utf8');
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const lines = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true });
  const docs = Array.isArray(parsed) ? parsed : [];
  const out: unknown[] = [];
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) {
      const at = lines.linePos(error.pos[0]);
      throw new ValidationError(
        `${file}:${at.line}:${at.col}: ${error.message.split('\n')[0] ?? error.message}`,
      );
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) continue;
    // A `kind: List` (kubectl get -o yaml) holds the objects in `items`.
    const list = value as { kind?: unknown; items?: unknown };
    if (list.kind === 'List' && Array.isArray(list.items)) for (const x of list.items) out.push(x);
    else out.push(value);
  }
  return out;
}

export function registerAllowlistConvert(
  allowlist: Command,
  io: CliIo,
  setExit: (code: number) => void,
): void {
  allowlist
    .command('convert')
    .description(
      'convert Gatekeeper, Kyverno or Kubewarden image policies into an allowlist (stdout)',
    )
    .argument('<files...>', 'policy files (YAML or JSON, multi-document)')
    .requiredOption('--from <peer>', 'gatekeeper, kyverno or kubewarden')
    .option('-o, --output <format>', 'yaml or json', 'yaml')
    .action(async (files: string[], opts: ConvertOptions) => {
      const { PEERS, convertPolicies } = await import(
        '../../lambdas/core/allowlist/convert/index.ts'
      );
      const peer = PEERS.find((p) => p === opts.from);
      if (!peer) throw new UsageError(`--from must be one of ${PEERS.join(', ')}`);
      if (opts.output !== 'yaml' && opts.output !== 'json') {
        throw new UsageError('-o must be yaml or json');
      }
      const parsed = [];
      for (const file of files) parsed.push(await readPolicyFile(file, io));
      const result = convertPolicies(peer, parsed);
      if (opts.output === 'json') {
        io.stdout.write(`${JSON.stringify(result.document, null, 2)}\n`);
      } else {
        const { serializeAllowlist } = await import('../../lambdas/core/allowlist/yaml.ts');
        io.stdout.write(serializeAllowlist(result.document));
      }
      const line = (n: { policy: string; field: string; message: string }) =>
        `  ${n.policy} ${n.field}: ${n.message}\n`;
      if (result.closed.length > 0) {
        io.stderr.write('closed on purpose (the peer matched raw strings):\n');
        for (const n of result.closed) io.stderr.write(line(n));
      }
      if (result.notes.length > 0) {
        io.stderr.write('notes:\n');
        for (const n of result.notes) io.stderr.write(line(n));
      }
      if (result.unconvertible.length > 0) {
        io.stderr.write('not converted:\n');
        for (const n of result.unconvertible) io.stderr.write(line(n));
      }
      io.stderr.write(
        `${result.rules.length} rule(s), ${result.closed.length} bypass(es) closed, ${result.unconvertible.length} not converted\n`,
      );
      setExit(result.unconvertible.length > 0 ? EXIT.violations : EXIT.ok);
    });
}
