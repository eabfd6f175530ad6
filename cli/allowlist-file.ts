import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type CompiledAllowlist, compileValidated } from '../lambdas/core/allowlist/compile.ts';
import type { AllowlistDocument } from '../lambdas/core/allowlist/schema.ts';
import { AllowlistError, UsageError } from '../lambdas/core/errors.ts';
import { allowlistCache, readCachedAllowlist, writeCachedAllowlist } from './allowlist-cache.ts';
import { VALIDATOR_ID } from './build-id.ts';
import type { CliIo } from './context.ts';

/**
 * The allowlist file a command uses: `--allowlist FILE`, else `$REGWATCH_ALLOWLIST`, else
 * `./allowlist.yaml`. A bad file throws `AllowlistError` (exit 2); nothing is half-loaded.
 */
export function resolveAllowlistPath(flag: string | undefined, io: CliIo): string {
  const chosen = flag ?? io.env.REGWATCH_ALLOWLIST;
  if (chosen) return path.resolve(io.cwd, chosen);
  const fallback = path.resolve(io.cwd, 'allowlist.yaml');
  if (existsSync(fallback)) return fallback;
  throw new UsageError(
    'no allowlist: pass --allowlist FILE, set REGWATCH_ALLOWLIST, or create ./allowlist.yaml',
  );
}

/**
 * The validated document and its compiled matcher (worker threads compile the document again).
 * An unchanged file validated before by this build comes from the allowlist cache
 * (`allowlist-cache.ts`) without loading the YAML library or zod; anything else is parsed and
 * validated in full, and only a valid document is cached.
 */
export async function loadAllowlistDocument(
  flag: string | undefined,
  io: CliIo,
  validatorId: string | null = VALIDATOR_ID,
): Promise<{ document: AllowlistDocument; allowlist: CompiledAllowlist }> {
  const file = resolveAllowlistPath(flag, io);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(
      `cannot read allowlist ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
  const cache = allowlistCache(io.env, validatorId);
  const cached = cache === null ? null : readCachedAllowlist(cache, text);
  if (cached !== null) {
    try {
      return { document: cached, allowlist: compileValidated(cached) };
    } catch {
      // An entry that does not compile is damaged: validate the file instead.
    }
  }
  const { readAllowlistText } = await import('./allowlist-parse.ts');
  const read = await readAllowlistText(text, file);
  if (!read.ok) throw new AllowlistError(read.message, read.issues);
  const { document } = read;
  const allowlist = compileValidated(document);
  if (cache !== null) writeCachedAllowlist(cache, text, document);
  return { document, allowlist };
}

export async function loadAllowlistFile(
  flag: string | undefined,
  io: CliIo,
): Promise<CompiledAllowlist> {
  return (await loadAllowlistDocument(flag, io)).allowlist;
}
