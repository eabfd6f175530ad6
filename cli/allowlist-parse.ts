/**
 * Reading allowlist text: the YAML library, the schema and zod. Imported only when the
 * allowlist cache has no entry for the file (`allowlist-file.ts`).
 */
import { config } from 'zod/mini';

// A CLI process validates one small document once: compiling zod's fast parsers (generated
// code) costs more than it saves here. Long-running processes (Lambdas, local mode) keep them.
config({ jitless: true });

export { parseAllowlist } from '../lambdas/core/allowlist/yaml.ts';
