/**
 * Reading allowlist text, loading zod and the YAML library only when they are needed.
 * Imported only when the allowlist cache has no entry for the file (`allowlist-file.ts`). The
 * installed package builds it as its own bundle (`dist/validate/`, scripts/build.ts), so it
 * carries only the part of zod the allowlist schema uses; errors therefore cross back as data
 * (`readAllowlistText`), since that bundle's error classes are its own.
 */
import { acceptAllowlist } from '../lambdas/core/allowlist/quick-validate.ts';
import type { AllowlistDocument, AllowlistIssue } from '../lambdas/core/allowlist/schema.ts';
import { parseYamlSubset } from '../lambdas/core/allowlist/yaml-subset.ts';
import { AllowlistError } from '../lambdas/core/errors.ts';

/**
 * `parseAllowlist`'s answer for `text`. Plain block YAML (what allowlists are written in) is
 * read by `yaml-subset.ts`, which gives the library's value or declines, and a value is judged
 * by `quick-validate.ts`, which gives the schema's document or declines. Whatever either
 * declines goes to the schema (zod) or the YAML library, loaded then, which decide it and word
 * every error (YAML errors with their positions), as without these shortcuts.
 */
export async function parseAllowlistText(text: string, source: string): Promise<AllowlistDocument> {
  const value = parseYamlSubset(text);
  if (value !== undefined) {
    const accepted = acceptAllowlist(value);
    if (accepted !== undefined) return accepted;
    const { validateAllowlist } = await import('./allowlist-zod.ts');
    return validateAllowlist(value, source);
  }
  await import('./allowlist-zod.ts');
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
