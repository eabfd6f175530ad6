/**
 * The plain parts of the allowlist format that compiling a validated document needs: default
 * severities, the rule key order, rule targets (the `image:` shorthand), pull-through-cache
 * paths and instants. No zod here: a process that compiles a document it validated before
 * (the CLI's allowlist cache) loads neither zod nor the schema. `schema.ts` re-exports these.
 */
import { AllowlistError } from '../errors.ts';
import { canonicalHost, parseNormalizedNamed } from '../reference.ts';
import type { Severity, ViolationRule } from '../types.ts';
import {
  type PatternResult,
  parseRegistryPattern,
  parseRepositoryPattern,
  type RegistryPattern,
  type RepositoryPattern,
} from './patterns.ts';
import type { AllowlistRule } from './schema.ts';

/** Severity of each violation class unless the file's `severities:` overrides it. */
export const DEFAULT_SEVERITIES: Readonly<Record<ViolationRule, Severity>> = {
  'untrusted-source': 'high',
  'denied-source': 'critical',
  'invalid-reference': 'high',
  'expired-exception': 'high',
  'unpinned-image': 'medium',
  'mutable-tag': 'medium',
  'vulnerable-image': 'high',
  'scan-missing': 'low',
  'unsigned-image': 'high',
  'signature-invalid': 'high',
};

/** A rule id: 1–128 characters, not starting with a symbol (the schema's and quick-validate's). */
export const RULE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/** Longest `reason`, `owner` or `ticket`. */
export const MAX_NOTE_LENGTH = 2000;

/** Field order of a rule in serialized output (and in the normalised form that is hashed). */
export const RULE_KEYS = [
  'id',
  'effect',
  'image',
  'registry',
  'repository',
  'tags',
  'digests',
  'clusters',
  'namespaces',
  'requireDigest',
  'denyTags',
  'severity',
  'requireSignature',
  'expiresAt',
  'reason',
  'owner',
  'ticket',
] as const satisfies readonly (keyof AllowlistRule)[];

/* ---------------------------------------------------------------- rule targets */

/** What a rule matches once the `image:` shorthand is expanded. */
export interface RuleTarget {
  registry: RegistryPattern;
  repository: RepositoryPattern;
}

// Stands in for '*' while the reference parser normalises a shorthand: it is a valid DNS
// label and a valid path component, so the parser's domain rules apply unchanged.
const STAR = 'zz0star0zz';

/**
 * `image:` shorthand: normalised exactly like an image reference (the same parser decides
 * what is a registry and adds `library/` to one-segment Docker Hub names), with `*` kept as
 * a pattern character. `nginx` → docker.io + `library/nginx`; `ghcr.io/org/**` → ghcr.io +
 * `org/**`. A tag or digest is an error: constraints are separate fields.
 */
export function expandImageShorthand(text: string): PatternResult<RuleTarget> {
  const fail = (error: string): PatternResult<RuleTarget> => ({ ok: false, error });
  if (text === '') return fail('must not be empty');
  if (text.startsWith('!')) return fail(`"${text}": '!' excludes only in clusters and namespaces`);
  if (text.startsWith('**.')) {
    return fail(
      `"${text}": for any host write registry: "**" (or "**.example.com") and repository`,
    );
  }
  if (text.toLowerCase().includes(STAR)) return fail(`"${text}" contains a reserved word`);
  if (/\*\*\*/.test(text)) return fail(`"${text}": '***' is not a pattern; use '*' or '**'`);
  const parsed = parseNormalizedNamed(text.replaceAll('*', STAR));
  if (!parsed.ok) return fail(`"${text}" is not an image name pattern: ${parsed.error}`);
  const { ref } = parsed;
  if (ref.tag !== null || ref.digest !== null) {
    return fail(
      `"${text}" names a tag or digest; an image pattern names repositories only (use denyTags / requireDigest)`,
    );
  }
  const domain = ref.domain.replaceAll(STAR, '*');
  const path = ref.path.replaceAll(STAR, '*');
  if (canonicalHost(domain) === 'docker.io' && path === 'library/**' && !text.includes('library')) {
    return fail(
      `"${text}" is ambiguous: Docker Hub names of one segment get "library/"; write "docker.io/library/**" for official images or registry: docker.io with repository: "**" for all of Docker Hub`,
    );
  }
  const registry = parseRegistryPattern(domain);
  if (!registry.ok) return fail(registry.error);
  const repository = parseRepositoryPattern(path);
  if (!repository.ok) return fail(repository.error);
  return { ok: true, value: { registry: registry.value, repository: repository.value } };
}

/**
 * The registry and repository patterns a valid rule matches. Throws AllowlistError for a
 * rule that did not pass the schema (callers validate first).
 */
export function ruleTarget(rule: AllowlistRule): RuleTarget {
  if (rule.image !== undefined) {
    const expanded = expandImageShorthand(rule.image);
    if (!expanded.ok) throw new AllowlistError(`rule "${rule.id}": ${expanded.error}`);
    return expanded.value;
  }
  const registry = parseRegistryPattern(rule.registry ?? '');
  const repository = parseRepositoryPattern(rule.repository ?? '**');
  if (!registry.ok || !repository.ok) {
    throw new AllowlistError(`rule "${rule.id}" is not valid; validate it first`);
  }
  return { registry: registry.value, repository: repository.value };
}

/* ---------------------------------------------------------------- pull-through cache */

export interface RegistryPath {
  /** Canonical `host[:port]`. */
  host: string;
  /** Lower-case path segments (possibly none). */
  segments: string[];
}

/** `host[:port][/path]` with an exact host; the first component must look like a registry. */
export function parseRegistryPath(text: string, what: string): PatternResult<RegistryPath> {
  const fail = (error: string): PatternResult<RegistryPath> => ({ ok: false, error });
  const slash = text.indexOf('/');
  const hostText = slash < 0 ? text : text.slice(0, slash);
  const pathText = slash < 0 ? '' : text.slice(slash + 1);
  if (!/[.:]/.test(hostText) && hostText !== 'localhost') {
    return fail(
      `"${text}": a ${what} starts with a registry host (with a '.' or ':', or localhost)`,
    );
  }
  const host = parseRegistryPattern(hostText);
  if (!host.ok) return fail(host.error);
  if (host.value.wildcards > 0 || hostText.includes('*') || pathText.includes('*')) {
    return fail(`"${text}": a ${what} is exact; '*' is not allowed`);
  }
  if (slash >= 0) {
    const path = parseRepositoryPattern(pathText);
    if (!path.ok) return fail(path.error);
  }
  return {
    ok: true,
    value: { host: host.value.source, segments: pathText === '' ? [] : pathText.split('/') },
  };
}

/* ---------------------------------------------------------------- time */

const INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))$/i;

/** Epoch milliseconds of an ISO-8601 date-time with a zone, or null when it is not one. */
export function parseInstant(text: string): number | null {
  const m = INSTANT.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (
    calendar.getUTCFullYear() !== year ||
    calendar.getUTCMonth() !== month - 1 ||
    calendar.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59 ||
    Number(m[7] ?? 0) > 23 ||
    Number(m[8] ?? 0) > 59
  ) {
    return null;
  }
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}

/* ---------------------------------------------------------------- serialization */

/** A rule with its fields in the canonical order; absent fields are left out. */
export function orderRule(rule: AllowlistRule): AllowlistRule {
  const out: Record<string, unknown> = {};
  for (const key of RULE_KEYS) if (rule[key] !== undefined) out[key] = rule[key];
  return out as AllowlistRule;
}
