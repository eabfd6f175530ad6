/**
 * Reading allowlist text: the schema and zod, and the YAML library only when it is needed.
 * Imported only when the allowlist cache has no entry for the file (`allowlist-file.ts`). The
 * installed package builds it as its own bundle (`dist/validate/`, scripts/build.ts), so it
 * carries only the part of zod the allowlist schema uses; errors therefore cross back as data
 * (`readAllowlistText`), since that bundle's error classes are its own.
 */
import { config } from 'zod/mini';
import {
  type AllowlistDocument,
  type AllowlistIssue,
  validateAllowlist,
} from '../lambdas/core/allowlist/schema.ts';
import { parseYamlSubset } from '../lambdas/core/allowlist/yaml-subset.ts';
import { AllowlistError } from '../lambdas/core/errors.ts';

// A CLI process validates one small document once: compiling zod's fast parsers (generated
// code) costs more than it saves here. Long-running processes (Lambdas, local mode) keep them.
config({ jitless: true });

/**
 * `parseAllowlist`'s answer for `text`. Plain block YAML (what allowlists are written in) is
 * read by `yaml-subset.ts`, which gives the library's value or declines; anything it declines
 * goes to the YAML library, loaded then, which reads it or reports its errors with positions.
 */
export async function parseAllowlistText(text: string, source: string): Promise<AllowlistDocument> {
  const value = parseYamlSubset(text);
  if (value !== undefined) return validateAllowlist(value, source);
  const { parseAllowlist } = await import('../lambdas/core/allowlist/yaml.ts');
  return parseAllowlist(text, source);
}

export type AllowlistRead =
  | { ok: true; document: AllowlistDocument }
  | { ok: false; message: string; issues: readonly AllowlistIssue[] };

/** `parseAllowlistText` with an invalid file as a value (the caller throws its own AllowlistError). */
export async function readAllowlistText(text: string, source: string): Promise<AllowlistRead> {
  try {
    return { ok: true, document: await parseAllowlistText(text, source) };
  } catch (error) {
    if (!(error instanceof AllowlistError)) throw error;
    return { ok: false, message: error.message, issues: error.issues };
  }
}
