/**
 * zod's functional API (`zod/mini`) with the defaults classic zod installs on first use: the
 * English messages and the memoizer (shared input objects, e.g. YAML aliases, parse as
 * classic zod parses them). Schemas on the CLI's start-up path (the allowlist) use this instead
 * of `zod`: the same core, checks and messages, without classic's method-laden wrappers, so a
 * bundle carries only the parts used (≈ 5× less code to load). Import it before building a
 * schema (`import '../zod-defaults.ts'` first): the memoizer is read when arrays and objects are
 * constructed.
 */
import { config, memoizer } from 'zod/mini';
import { globalConfig } from 'zod/v4/core';
import en from 'zod/v4/locales/en.js';

// Named imports, not `z.core.…`: reaching core through the namespace keeps all of it (every
// locale) in the bundle.
if (!globalConfig.localeError) config(en());
if (!globalConfig.memoizer) config({ memoizer: memoizer() });
