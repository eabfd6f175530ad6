/**
 * Quick acceptance of an allowlist document without zod, for the CLI's first run of a file:
 * it returns exactly what `validateAllowlist` (the zod schema, schema.ts) returns for a
 * document it is sure the schema accepts, or `undefined`, and then the caller runs the schema,
 * which decides and words every issue. So it never refuses anything and never words an error:
 * a document it declines costs the schema, as before. It runs the schema's own checks (the
 * pattern parsers, the cross-field checks) and declines whatever it does not check itself:
 * `requireSignature` (keys, certificates, identities), any value of an unexpected type or
 * shape, any unknown key. Held to the schema by test/core/allowlist/quick-validate.test.ts.
 */
import { SEVERITIES, type Severity, VIOLATION_RULES } from '../types.ts';
import { documentCrossIssues, ruleCrossIssues } from './cross-checks.ts';
import {
  expandImageShorthand,
  MAX_NOTE_LENGTH,
  parseInstant,
  parseRegistryPath,
  RULE_ID,
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
import type { AllowlistDocument, AllowlistRule, PullThroughCacheEntry } from './schema.ts';

/** Thrown inside only: "not sure", turned into `undefined`. */
class Unsure extends Error {}
const unsure = (): never => {
  throw new Unsure();
};

/** What `validateAllowlist(value)` returns, when this is sure it accepts `value`; else undefined. */
export function acceptAllowlist(value: unknown): AllowlistDocument | undefined {
  try {
    return acceptDocument(value);
  } catch (error) {
    if (error instanceof Unsure) return undefined;
    throw error;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  return Object.getPrototypeOf(value) === Object.prototype;
}

/** The object's own keys, all of them among `known` (in the schema's order), each defined. */
function fields(value: unknown, known: readonly string[]): Record<string, unknown> {
  if (!isPlainObject(value)) return unsure();
  for (const key of Object.keys(value)) {
    if (!known.includes(key) || value[key] === undefined) unsure();
  }
  if (Object.getOwnPropertySymbols(value).length > 0) unsure();
  return value;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : unsure();
}

function list(value: unknown, min = 0): unknown[] {
  if (!Array.isArray(value) || value.length < min) return unsure();
  // A hole or an extra property is something else than a plain list.
  if (Object.keys(value).length !== value.length) unsure();
  return value;
}

function parsed<T>(value: unknown, parser: (text: string) => PatternResult<T>): string {
  const s = text(value);
  return parser(s).ok ? s : unsure();
}

function oneOf<T extends string>(value: unknown, options: readonly T[]): T {
  return (options as readonly unknown[]).includes(value) ? (value as T) : unsure();
}

function distinct(values: string[]): string[] {
  return new Set(values).size === values.length ? values : unsure();
}

/** The schema's shape order: the order of the keys in what it returns. */
export const DOCUMENT_KEYS = ['version', 'severities', 'rules', 'pullThroughCache'] as const;
/** The rule fields it judges: the schema's, in its order, but `requireSignature`. */
export const RULE_SHAPE = [
  'id',
  'image',
  'effect',
  'registry',
  'repository',
  'clusters',
  'namespaces',
  'tags',
  'digests',
  'requireDigest',
  'denyTags',
  'severity',
  'expiresAt',
  'reason',
  'owner',
  'ticket',
] as const;

function acceptDocument(value: unknown): AllowlistDocument {
  const raw = fields(value, DOCUMENT_KEYS);
  if (raw.version !== 1) unsure();
  // Keys in the schema's order, as it returns them.
  const out: Record<string, unknown> = { version: 1 };
  if (raw.severities !== undefined) {
    const given = fields(raw.severities, VIOLATION_RULES);
    const severities: Partial<Record<(typeof VIOLATION_RULES)[number], Severity>> = {};
    for (const rule of VIOLATION_RULES) {
      if (given[rule] !== undefined) severities[rule] = oneOf(given[rule], SEVERITIES);
    }
    out.severities = severities;
  }
  out.rules = list(raw.rules).map(acceptRule);
  if (raw.pullThroughCache !== undefined) {
    out.pullThroughCache = list(raw.pullThroughCache).map(acceptCacheEntry);
  }
  if (documentCrossIssues(raw).length > 0) unsure();
  return out as AllowlistDocument;
}

function acceptCacheEntry(value: unknown): PullThroughCacheEntry {
  const raw = fields(value, ['prefix', 'upstream']);
  return {
    prefix: parsed(raw.prefix, (t) => parseRegistryPath(t, 'prefix')),
    upstream: parsed(raw.upstream, (t) => parseRegistryPath(t, 'upstream')),
  };
}

function acceptRule(value: unknown): AllowlistRule {
  const raw = fields(value, RULE_SHAPE);
  // `id` is the one required field of a rule.
  if (raw.id === undefined) unsure();
  const rule: Record<string, unknown> = {};
  for (const key of RULE_SHAPE) {
    const v = raw[key];
    if (v === undefined) continue;
    rule[key] = acceptField(key, v);
  }
  const accepted = rule as AllowlistRule;
  if (ruleCrossIssues(accepted).length > 0) unsure();
  return accepted;
}

function acceptField(key: (typeof RULE_SHAPE)[number], v: unknown): unknown {
  switch (key) {
    case 'id':
      return RULE_ID.test(text(v)) ? v : unsure();
    case 'image':
      return expandImageShorthand(text(v)).ok ? v : unsure();
    case 'effect':
      return oneOf(v, ['allow', 'deny'] as const);
    case 'registry':
      return parsed(v, parseRegistryPattern);
    case 'repository':
      return parsed(v, parseRepositoryPattern);
    case 'clusters':
    case 'namespaces': {
      const entries = list(v, 1).map((e) => parsed(e, parseScopeEntry));
      return parseScopeSet(entries).ok ? entries : unsure();
    }
    case 'tags':
      return distinct(list(v, 1).map((e) => parsed(e, parseTagPattern)));
    case 'digests':
      return distinct(list(v, 1).map((e) => parsed(e, parseDigestEntry)));
    case 'requireDigest':
      return typeof v === 'boolean' ? v : unsure();
    case 'denyTags':
      return list(v).map((e) => parsed(e, parseTagGlob));
    case 'severity':
      return oneOf(v, SEVERITIES);
    case 'expiresAt':
      return parseInstant(text(v)) !== null ? v : unsure();
    case 'reason':
    case 'owner':
    case 'ticket':
      return text(v).length <= MAX_NOTE_LENGTH ? v : unsure();
  }
}
