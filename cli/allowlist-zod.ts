/**
 * The allowlist schema (zod), loaded by `allowlist-parse.ts` only for a document that quick
 * acceptance declines (a signature requirement, or anything it is not sure of, invalid files
 * included) and before the YAML library for text outside the plain subset.
 */
import { config } from 'zod/mini';

// A CLI process validates one small document once: compiling zod's fast parsers (generated
// code) costs more than it saves here. Long-running processes (Lambdas, local mode) keep them.
config({ jitless: true });

export { validateAllowlist } from '../lambdas/core/allowlist/schema.ts';
