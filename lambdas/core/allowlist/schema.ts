/**
 * The allowlist file format (version 1): zod schemas and validation with issues that name the
 * rule and field. The format is a contract: other tools write it, the CLI imports and exports
 * it, DynamoDB stores one rule per item. Reading and writing the YAML text lives in `yaml.ts`,
 * so that the Lambdas, which only validate parsed values, do not bundle the YAML library.
 */
import '../zod-defaults.ts';
import * as z from 'zod/mini';
import { AllowlistError } from '../errors.ts';
import { requireSignatureSchema } from '../signatures/schema.ts';
import { SEVERITIES, VIOLATION_RULES, type ViolationRule } from '../types.ts';
import { documentCrossIssues, ruleCrossIssues } from './cross-checks.ts';
import {
  expandImageShorthand,
  MAX_NOTE_LENGTH,
  parseInstant,
  parseRegistryPath,
  RULE_ID,
  RULE_KEYS,
} from './document.ts';
import {
  type PatternResult,
  parseDigestEntry,
  parseRegistryPattern,
  parseRepositoryPattern,
  parseScopeEntry,
  parseScopeSet,
  parseTagGlob,
  parseTagPattern,
} from './patterns.ts';

// The zod-free parts live in document.ts (compiling a validated document needs only them).
export {
  DEFAULT_SEVERITIES,
  expandImageShorthand,
  orderRule,
  parseInstant,
  parseRegistryPath,
  type RegistryPath,
  RULE_KEYS,
  type RuleTarget,
  ruleTarget,
} from './document.ts';

export const ALLOWLIST_VERSION = 1;

export interface AllowlistIssue {
  path: string;
  message: string;
}

/* ---------------------------------------------------------------- field schemas */

/** Attaches a pattern parser's message to the field being validated. */
function pattern<T>(parser: (text: string) => PatternResult<T>) {
  return z.string().check(
    z.superRefine((text, ctx) => {
      const result = parser(text);
      if (!result.ok) ctx.addIssue({ code: 'custom', message: result.error });
    }),
  );
}

const scopeList = (what: string) =>
  z.array(pattern(parseScopeEntry)).check(
    z.minLength(1, `must list at least one ${what} glob; omit the field to apply to all ${what}s`),
    z.superRefine((entries, ctx) => {
      // Entries are checked one by one above; here only what the list says as a whole.
      if (!entries.every((entry) => parseScopeEntry(entry).ok)) return;
      const set = parseScopeSet(entries);
      if (!set.ok) ctx.addIssue({ code: 'custom', message: set.error });
    }),
  );

/** A list whose entries must be distinct: a repeated entry is a copy-paste slip. */
const distinctList = <T extends z.ZodMiniType<string>>(item: T, what: string) =>
  z.array(item).check(
    z.minLength(1, `must list at least one ${what}; omit the field to allow any`),
    z.superRefine((entries, ctx) => {
      const seen = new Set<string>();
      entries.forEach((entry, index) => {
        if (seen.has(entry)) {
          ctx.addIssue({ code: 'custom', path: [index], message: `duplicate ${what} "${entry}"` });
        }
        seen.add(entry);
      });
    }),
  );

const expiresAtSchema = z.string().check(
  z.superRefine((text, ctx) => {
    if (parseInstant(text) === null) {
      ctx.addIssue({
        code: 'custom',
        message: `"${text}" must be an ISO-8601 date-time with a time zone, e.g. 2027-01-01T00:00:00Z`,
      });
    }
  }),
);

const note = z
  .string()
  .check(z.maxLength(MAX_NOTE_LENGTH, `must be at most ${MAX_NOTE_LENGTH} characters`));

export const RULE_EFFECTS = ['allow', 'deny'] as const;
export type RuleEffect = (typeof RULE_EFFECTS)[number];

/**
 * The fields of one rule. To add a rule key (e.g. `requireSignature`): add it here, to
 * `RULE_KEYS` below (serialization order and hashing), and, if it constrains an image, to
 * `CompiledRule` and `constraintViolations` in compile.ts. A new key is declined by the CLI's
 * quick acceptance (quick-validate.ts) until it is added there; a new check on an existing
 * field must be added there too, in the same change.
 */
const ruleFieldsSchema = z.strictObject({
  id: z
    .string()
    .check(
      z.regex(
        RULE_ID,
        'must be 1–128 characters of A-Z a-z 0-9 . _ : - (not starting with a symbol)',
      ),
    ),
  image: z.optional(
    z.string().check(
      z.superRefine((text, ctx) => {
        const result = expandImageShorthand(text);
        if (!result.ok) ctx.addIssue({ code: 'custom', message: result.error });
      }),
    ),
  ),
  effect: z.optional(
    z.enum(RULE_EFFECTS, {
      error: (issue) => `${JSON.stringify(issue.input)} is not an effect (allow or deny)`,
    }),
  ),
  registry: z.optional(pattern(parseRegistryPattern)),
  repository: z.optional(pattern(parseRepositoryPattern)),
  clusters: z.optional(scopeList('cluster')),
  namespaces: z.optional(scopeList('namespace')),
  tags: z.optional(distinctList(pattern(parseTagPattern), 'tag')),
  digests: z.optional(distinctList(pattern(parseDigestEntry), 'digest')),
  requireDigest: z.optional(z.boolean()),
  denyTags: z.optional(z.array(pattern(parseTagGlob))),
  severity: z.optional(
    z.enum(SEVERITIES, {
      error: (issue) =>
        `${JSON.stringify(issue.input)} is not a severity (${SEVERITIES.join(', ')})`,
    }),
  ),
  requireSignature: z.optional(requireSignatureSchema),
  expiresAt: z.optional(expiresAtSchema),
  reason: z.optional(note),
  owner: z.optional(note),
  ticket: z.optional(note),
});

/** One allowlist rule as written (the `image:` shorthand stays a shorthand). */
export const allowlistRuleSchema = ruleFieldsSchema.check(
  z.superRefine((rule, ctx) => {
    for (const issue of ruleCrossIssues(rule)) {
      ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    }
  }),
);
export type AllowlistRule = z.infer<typeof allowlistRuleSchema>;

const pullThroughCacheSchema = z.strictObject({
  prefix: pattern((text) => parseRegistryPath(text, 'prefix')),
  upstream: pattern((text) => parseRegistryPath(text, 'upstream')),
});
export type PullThroughCacheEntry = z.infer<typeof pullThroughCacheSchema>;

const severityEnum = z.enum(SEVERITIES, {
  error: (issue) => `${JSON.stringify(issue.input)} is not a severity (${SEVERITIES.join(', ')})`,
});
const severitiesSchema = z.strictObject(
  Object.fromEntries(VIOLATION_RULES.map((rule) => [rule, z.optional(severityEnum)])) as Record<
    ViolationRule,
    z.ZodMiniOptional<typeof severityEnum>
  >,
);

export const allowlistDocumentSchema = z.strictObject({
  version: z.literal(ALLOWLIST_VERSION, {
    error: (issue) =>
      issue.input === undefined
        ? `is required (version: ${ALLOWLIST_VERSION})`
        : `unsupported allowlist version ${JSON.stringify(issue.input)}; this regwatch reads version ${ALLOWLIST_VERSION}`,
  }),
  severities: z.optional(severitiesSchema),
  rules: z.array(allowlistRuleSchema, { error: 'must be a list of rules' }),
  pullThroughCache: z.optional(z.array(pullThroughCacheSchema)),
});
export type AllowlistDocument = z.infer<typeof allowlistDocumentSchema>;

/* ---------------------------------------------------------------- validation */

const TOP_LEVEL_KEYS = ['version', 'severities', 'rules', 'pullThroughCache'];

/** Validates a parsed value (from YAML, JSON or an API) as a whole allowlist document. */
export function validateAllowlist(value: unknown, source = 'allowlist'): AllowlistDocument {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new AllowlistError(`${source}: must be a mapping with version and rules`, [
      { path: '(root)', message: 'must be a mapping with version and rules' },
    ]);
  }
  const result = allowlistDocumentSchema.safeParse(value);
  const issues: AllowlistIssue[] = result.success
    ? []
    : result.error.issues.flatMap((issue) => formatZodIssue(issue, value, TOP_LEVEL_KEYS));
  for (const issue of documentCrossIssues(value)) issues.push(issue);
  if (!result.success || issues.length > 0) {
    throw new AllowlistError(summariseIssues(source, issues), issues);
  }
  return result.data;
}

/** Validates one rule (e.g. a DynamoDB item or an `allowlist add`). */
export function validateRule(value: unknown, source = 'rule'): AllowlistRule {
  const result = allowlistRuleSchema.safeParse(value);
  if (result.success) return result.data;
  const id = (value as { id?: unknown } | null)?.id;
  const name = typeof id === 'string' ? `${source} ${JSON.stringify(id)}` : source;
  const issues = result.error.issues.flatMap((issue) => formatZodIssue(issue, value, RULE_KEYS));
  throw new AllowlistError(summariseIssues(name, issues), issues);
}

/** An AllowlistError message: the source, what is wrong with it, and the first issues. */
export function summariseIssues(
  source: string,
  issues: readonly AllowlistIssue[],
  what = 'is invalid',
): string {
  const shown = issues.slice(0, 5).map((issue) => `  ${issue.path}: ${issue.message}`);
  const more = issues.length > 5 ? [`  … and ${issues.length - 5} more`] : [];
  return [
    `${source} ${what} (${issues.length} issue${issues.length === 1 ? '' : 's'}):`,
    ...shown,
    ...more,
  ].join('\n');
}

/** `['rules', 3, 'registry']` → `rules[3] (id "gcr-mirror").registry`. */
function formatPath(path: readonly PropertyKey[], root: unknown): string {
  let out = '';
  let node: unknown = root;
  for (let i = 0; i < path.length; i++) {
    const key = path[i];
    if (typeof key === 'number') {
      node = Array.isArray(node) ? node[key] : undefined;
      out += `[${key}]`;
      if (path[i - 1] === 'rules' && i === 1) {
        const id = (node as { id?: unknown } | undefined)?.id;
        if (typeof id === 'string') out += ` (id ${JSON.stringify(id)})`;
      }
    } else {
      const name = String(key);
      node =
        node !== null && typeof node === 'object'
          ? (node as Record<string, unknown>)[name]
          : undefined;
      out += out === '' ? name : `.${name}`;
    }
  }
  return out === '' ? '(root)' : out;
}

function formatZodIssue(
  issue: z.core.$ZodIssue,
  root: unknown,
  rootKeys: readonly string[],
): AllowlistIssue[] {
  const base = formatPath(issue.path, root);
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(issue.path, rootKeys);
    return issue.keys.map((key) => {
      const hint = closest(key, known);
      return {
        path: base === '(root)' ? key : `${base}.${key}`,
        message: `unknown field${hint ? ` (did you mean ${hint}?)` : ''}; unknown fields are refused so a typo cannot silently widen a rule`,
      };
    });
  }
  if (issue.code === 'invalid_type' && valueAt(issue.path, root) === undefined) {
    return [{ path: base, message: 'is required' }];
  }
  return [{ path: base, message: issue.message }];
}

function valueAt(path: readonly PropertyKey[], root: unknown): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function knownKeysAt(path: readonly PropertyKey[], rootKeys: readonly string[]): readonly string[] {
  if (path.length === 0) return rootKeys;
  if (path[0] === 'rules') return RULE_KEYS;
  if (path[0] === 'pullThroughCache') return ['prefix', 'upstream'];
  if (path[0] === 'severities') return VIOLATION_RULES;
  return [];
}

/** The known key within edit distance 2 (case-insensitive), for "did you mean". */
function closest(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + cost,
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
