import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as z from 'zod';
import {
  type AllowlistDocument,
  type CompiledAllowlist,
  compileAllowlist,
  parseAllowlist,
} from '../lambdas/core/allowlist/index.ts';
import { UsageError } from '../lambdas/core/errors.ts';
import type { CliIo } from './context.ts';

// A CLI process validates one small document once: compiling zod's fast parsers (generated
// code) costs more than it saves here. Long-running processes (Lambdas, local mode) keep them.
z.config({ jitless: true });

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

/** The validated document and its compiled matcher (worker threads compile the document again). */
export function loadAllowlistDocument(
  flag: string | undefined,
  io: CliIo,
): { document: AllowlistDocument; allowlist: CompiledAllowlist } {
  const file = resolveAllowlistPath(flag, io);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(
      `cannot read allowlist ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
  const document = parseAllowlist(text, file);
  return { document, allowlist: compileAllowlist(document) };
}

export function loadAllowlistFile(flag: string | undefined, io: CliIo): CompiledAllowlist {
  return loadAllowlistDocument(flag, io).allowlist;
}
