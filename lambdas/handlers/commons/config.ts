/**
 * Handler configuration: environment variables read once, at module load, and validated with
 * zod. A handler that is missing configuration fails its cold start with one `ConfigError`
 * naming every bad variable, instead of failing later on the first record that needs it.
 *
 * ```ts
 * const config = loadConfig(z.object({ FINDINGS_TABLE: z.string(), MIN_ALERT_SEVERITY: z.enum(SEVERITIES) }));
 * ```
 */
import type * as z from 'zod';
import { ConfigError } from '../../core/errors.ts';

/**
 * Parses `env` (default `process.env`) with `schema`. Empty values count as missing, so
 * `z.string()` never accepts a variable that was set to `""` by a template gone wrong.
 * Unknown variables are ignored; the result holds only what the schema names.
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const present: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') present[key] = value;
  }
  const result = schema.safeParse(present);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.map(String).join('.') || '(environment)';
    return present[name] === undefined && issue.path.length === 1
      ? `${name} is not set`
      : `${name}: ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
}
