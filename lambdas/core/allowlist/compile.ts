/**
 * Compiles an allowlist document into an index and decides images against it.
 *
 * Decision (see docs/allowlist.md, with its truth table):
 * - an unparseable reference is `invalid-reference` (fail closed);
 * - a live deny rule that matches (name, tags/digests) and whose scope does not exclude the
 *   image is `denied-source`, whatever the allow rules say;
 * - allowed iff some allow rule that applies to the scope, has not expired, and matches the
 *   judged registry + repository and its tags/digests has all of its constraints hold;
 * - otherwise the violations of the most specific applicable live rule that matched, or
 *   `expired-exception` when only expired rules matched, or `untrusted-source`.
 */
import { AllowlistError } from '../errors.ts';
import { canonicalHost, parseNormalizedNamed } from '../reference.ts';
import type { SignatureRequirement } from '../signatures/schema.ts';
import type { SignatureCheck, SignatureVerdict, SignatureVerdicts } from '../signatures/verdict.ts';
import type {
  Decision,
  ImageReference,
  ParseResult,
  Scope,
  Severity,
  Violation,
  ViolationRule,
} from '../types.ts';
import {
  DEFAULT_SEVERITIES,
  orderRule,
  parseInstant,
  parseRegistryPath,
  type RegistryPath,
  type RuleTarget,
  ruleTarget,
} from './document.ts';
import { RuleIndex } from './matcher.ts';
import {
  compileGlob,
  type Glob,
  matchAnyGlob,
  matchScopeSet,
  matchTagPattern,
  parseScopeSet,
  parseTagPattern,
  type ScopeSet,
  type TagPattern,
} from './patterns.ts';
import type { AllowlistDocument, AllowlistRule } from './schema.ts';

export interface CompiledRule {
  readonly rule: AllowlistRule;
  /** `rule.id`, kept here so a decision reads only this object. */
  readonly id: string;
  /** Position in the document: the last tie-breaker of specificity. */
  readonly index: number;
  readonly target: RuleTarget;
  readonly deny: boolean;
  /** `tags:`; null = any tag. Checked only when the reference has no digest. */
  readonly tags: readonly TagPattern[] | null;
  /** `digests:`; null = any digest. */
  readonly digests: ReadonlySet<string> | null;
  readonly clusters: ScopeSet | null;
  readonly namespaces: ScopeSet | null;
  /** `severity:` of the rule, for the violations it yields; null = the file's severities. */
  readonly severity: Severity | null;
  readonly requireDigest: boolean;
  readonly denyTags: readonly Glob[];
  /** `requireSignature`, or null: then no signature is needed. */
  readonly requireSignature: SignatureRequirement | null;
  /** `requireDigest` or any `denyTags`: without either, a live in-scope match allows. */
  readonly constrained: boolean;
  readonly expiresAtMs: number | null;
  /** Compared element by element, larger first: see `specificityOf`. */
  readonly specificity: readonly number[];
}

export interface CompiledAllowlist {
  /** Stable hash of the normalised content: equal for equal meaning, changes on any edit. */
  readonly version: string;
  readonly rules: readonly AllowlistRule[];
  readonly severities: Readonly<Record<ViolationRule, Severity>>;
  /**
   * `signatures` hands in verdicts for rules with `requireSignature`; without one for a rule
   * that needs it, that rule fails closed (`unsigned-image`, not verified).
   */
  decide(image: string, scope: Scope, now: Date, signatures?: SignatureVerdicts): Decision;
  /** For callers that already parsed the image with `parseNormalizedNamed`. */
  decideReference(
    parsed: ParseResult,
    image: string,
    scope: Scope,
    now: Date,
    signatures?: SignatureVerdicts,
  ): Decision;
  /** The reference that is judged: the upstream image for pull-through-cache names. */
  judge(ref: ImageReference): ParseResult;
  /** Compiled rules whose registry + repository match `judged`, most specific first. */
  candidates(judged: ImageReference): readonly CompiledRule[];
}

/**
 * Most specific first: a named host before `**.domain` before `**` (any host), then exact
 * host before wildcard host (fewer `*` labels), then more literal path segments, then fewer
 * `**`, then more literal characters in glob segments, then a rule that names digests before
 * one that names tags before one that names neither (literal tags before tag globs), then a
 * rule restricted to clusters/namespaces before an unrestricted one, then file order.
 */
export function specificityOf(target: RuleTarget, rule: AllowlistRule, index: number): number[] {
  const scoped = (rule.clusters ? 1 : 0) + (rule.namespaces ? 1 : 0);
  const host = target.registry.anyHost ? 0 : target.registry.deep ? 1 : 2;
  const selector = rule.digests
    ? 3
    : rule.tags
      ? rule.tags.some((t) => /[*?]/.test(t))
        ? 1
        : 2
      : 0;
  return [
    host,
    -target.registry.wildcards,
    target.repository.literalSegments,
    -target.repository.deepSegments,
    target.repository.globLiteralChars,
    selector,
    scoped,
    -index,
  ];
}

function bySpecificity(a: CompiledRule, b: CompiledRule): number {
  for (let i = 0; i < a.specificity.length; i++) {
    const d = (b.specificity[i] ?? 0) - (a.specificity[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/* ---------------------------------------------------------------- pull-through cache */

interface CacheEntry {
  prefix: string;
  upstream: RegistryPath;
}

/** Pull-through prefixes by canonical host, then by path prefix (whole segments). */
class PullThroughIndex {
  private readonly byHost = new Map<string, Map<string, CacheEntry>>();
  private maxDepth = 0;

  add(prefix: RegistryPath, upstream: RegistryPath, text: string): void {
    let paths = this.byHost.get(prefix.host);
    if (!paths) {
      paths = new Map();
      this.byHost.set(prefix.host, paths);
    }
    paths.set(prefix.segments.join('/'), { prefix: text, upstream });
    this.maxDepth = Math.max(this.maxDepth, prefix.segments.length);
  }

  /** Longest prefix (in whole segments) that has at least one segment below it. */
  find(
    host: string,
    path: string,
  ): { entry: CacheEntry; depth: number; segments: string[] } | null {
    const paths = this.byHost.get(host);
    if (!paths) return null;
    // Split only here: most hosts have no cache prefix, and then the path is never cut.
    const segments = path.split('/');
    const prefixes = [''];
    const limit = Math.min(this.maxDepth, segments.length - 1);
    for (let i = 0; i < limit; i++) {
      const previous = prefixes[i] ?? '';
      prefixes.push(i === 0 ? (segments[0] ?? '') : `${previous}/${segments[i]}`);
    }
    for (let depth = limit; depth >= 0; depth--) {
      const entry = paths.get(prefixes[depth] ?? '');
      if (entry) return { entry, depth, segments };
    }
    return null;
  }
}

/* ---------------------------------------------------------------- compile */

/**
 * Compiles a document that `validateAllowlist` returned, as it returned it (nothing checks it
 * again here). Anything from outside goes through `compileAllowlist` (compile-allowlist.ts),
 * which validates first; this module stays free of zod so that a process holding an
 * already-validated document (the CLI's allowlist cache) loads neither zod nor the schema.
 */
export function compileValidated(valid: AllowlistDocument): CompiledAllowlist {
  const severities: Record<ViolationRule, Severity> = { ...DEFAULT_SEVERITIES };
  for (const [rule, severity] of Object.entries(valid.severities ?? {})) {
    if (severity !== undefined) severities[rule as ViolationRule] = severity;
  }

  const index = new RuleIndex<CompiledRule>();
  const compiled: CompiledRule[] = valid.rules.map((rule, i) => {
    const target = ruleTarget(rule);
    const entry: CompiledRule = {
      rule,
      id: rule.id,
      index: i,
      target,
      deny: rule.effect === 'deny',
      tags: rule.tags ? rule.tags.map((t) => unwrap(parseTagPattern(t), rule.id)) : null,
      digests: rule.digests ? new Set(rule.digests) : null,
      clusters: rule.clusters ? unwrap(parseScopeSet(rule.clusters), rule.id) : null,
      namespaces: rule.namespaces ? unwrap(parseScopeSet(rule.namespaces), rule.id) : null,
      severity: rule.severity ?? null,
      requireDigest: rule.requireDigest === true,
      denyTags: (rule.denyTags ?? []).map(compileGlob),
      requireSignature: rule.requireSignature ?? null,
      constrained: rule.requireDigest === true || (rule.denyTags ?? []).length > 0,
      expiresAtMs: rule.expiresAt === undefined ? null : parseInstant(rule.expiresAt),
      specificity: specificityOf(target, rule, i),
    };
    index.add(target.registry, target.repository, entry);
    return entry;
  });

  const cache = new PullThroughIndex();
  const cacheNormalised: { prefix: string; upstream: string }[] = [];
  for (const item of valid.pullThroughCache ?? []) {
    const prefix = parseRegistryPath(item.prefix, 'prefix');
    const upstream = parseRegistryPath(item.upstream, 'upstream');
    if (!prefix.ok || !upstream.ok) throw new AllowlistError('invalid pullThroughCache entry');
    cache.add(prefix.value, upstream.value, item.prefix);
    cacheNormalised.push({
      prefix: [prefix.value.host, ...prefix.value.segments].join('/'),
      upstream: [upstream.value.host, ...upstream.value.segments].join('/'),
    });
  }

  // Hashed on first read: `check` and `replay` never ask, and skip loading node:crypto.
  const version = () => hashContent(compiled, cacheNormalised, severities);
  return new Compiled(version, valid.rules, severities, index, cache);
}

function hashContent(
  rules: readonly CompiledRule[],
  cache: readonly { prefix: string; upstream: string }[],
  severities: Readonly<Record<ViolationRule, Severity>>,
): string {
  const normalised = {
    version: 1,
    severities,
    rules: rules.map((r) => {
      const {
        image: _image,
        registry: _registry,
        repository: _repository,
        ...rest
      } = orderRule(r.rule);
      return {
        registry: r.target.registry.source,
        repository: r.target.repository.source,
        ...rest,
        expiresAt: r.expiresAtMs === null ? undefined : new Date(r.expiresAtMs).toISOString(),
      };
    }),
    pullThroughCache: cache,
  };
  const { createHash } = process.getBuiltinModule('node:crypto');
  return createHash('sha256').update(JSON.stringify(normalised)).digest('hex').slice(0, 32);
}

function unwrap<T>(result: { ok: true; value: T } | { ok: false; error: string }, id: string): T {
  if (!result.ok) throw new AllowlistError(`rule "${id}": ${result.error}`);
  return result.value;
}

/* ---------------------------------------------------------------- decide */

/**
 * Whether a rule applies where the image runs. Fail closed both ways: a scoped allow rule
 * needs the caller to say where (no cluster given, no permission borrowed from a cluster),
 * while a scoped deny rule applies unless the scope is known to be outside it (not knowing
 * where an image runs must not let it slip past a deny).
 */
function inScope(rule: CompiledRule, scope: Scope): boolean {
  return (
    dimensionInScope(rule.clusters, scope.cluster, rule.deny) &&
    dimensionInScope(rule.namespaces, scope.namespace, rule.deny)
  );
}

function dimensionInScope(set: ScopeSet | null, name: string | undefined, deny: boolean): boolean {
  if (set === null) return true;
  if (!name) return deny;
  return matchScopeSet(set, name);
}

/**
 * Whether the reference is one the rule's `tags` / `digests` name. A digest decides what
 * runs, so a reference with a digest is judged by it: it matches `digests` when listed
 * there, and never matches by its tag (next to a digest the tag is only a label). A
 * reference without a digest is judged by its tag (`latest` when it has none).
 */
function selects(rule: CompiledRule, ref: ImageReference): boolean {
  if (rule.tags === null && rule.digests === null) return true;
  if (ref.digest !== null) return rule.digests?.has(ref.digest) === true;
  if (rule.tags === null) return false;
  const tag = ref.tag ?? 'latest';
  for (const pattern of rule.tags) if (matchTagPattern(pattern, tag)) return true;
  return false;
}

/** NaN (an invalid `now`) compares false, so every expiring rule then counts as expired. */
function isExpired(rule: CompiledRule, nowMs: number): boolean {
  return rule.expiresAtMs !== null && !(nowMs < rule.expiresAtMs);
}

function describeScope(scope: Scope): string {
  const parts: string[] = [];
  parts.push(scope.cluster ? `cluster ${JSON.stringify(scope.cluster)}` : 'no cluster given');
  parts.push(
    scope.namespace ? `namespace ${JSON.stringify(scope.namespace)}` : 'no namespace given',
  );
  return parts.join(', ');
}

class Compiled implements CompiledAllowlist {
  #version: string | (() => string);
  readonly rules: readonly AllowlistRule[];
  readonly severities: Readonly<Record<ViolationRule, Severity>>;
  private readonly index: RuleIndex<CompiledRule>;
  private readonly cache: PullThroughIndex;

  constructor(
    version: () => string,
    rules: readonly AllowlistRule[],
    severities: Readonly<Record<ViolationRule, Severity>>,
    index: RuleIndex<CompiledRule>,
    cache: PullThroughIndex,
  ) {
    this.#version = version;
    this.rules = rules;
    this.severities = severities;
    this.index = index;
    this.cache = cache;
  }

  get version(): string {
    if (typeof this.#version === 'function') this.#version = this.#version();
    return this.#version;
  }

  decide(image: string, scope: Scope, now: Date, signatures?: SignatureVerdicts): Decision {
    return this.decideReference(parseNormalizedNamed(image), image, scope, now, signatures);
  }

  judge(ref: ImageReference): ParseResult {
    const found = this.cache.find(canonicalHost(ref.domain), ref.path);
    if (!found) return { ok: true, ref };
    const { upstream } = found.entry;
    const rest = found.segments.slice(found.depth);
    let name = [upstream.host, ...upstream.segments, ...rest].join('/');
    if (ref.tag !== null) name += `:${ref.tag}`;
    if (ref.digest !== null) name += `@${ref.digest}`;
    const mapped = parseNormalizedNamed(name);
    if (!mapped.ok) {
      return {
        ok: false,
        error: `pull-through cache ${found.entry.prefix} maps it to ${name}, which is not a valid reference: ${mapped.error}`,
      };
    }
    return mapped;
  }

  candidates(judged: ImageReference): CompiledRule[] {
    const found = this.index.lookup(canonicalHost(judged.domain), judged.path);
    return found.length > 1 ? found.sort(bySpecificity) : found;
  }

  decideReference(
    parsed: ParseResult,
    image: string,
    scope: Scope,
    now: Date,
    signatures?: SignatureVerdicts,
  ): Decision {
    if (!parsed.ok) return this.invalid(image, null, `invalid image reference: ${parsed.error}`);
    const reference = parsed.ref;
    const mapped = this.judge(reference);
    if (!mapped.ok) return this.invalid(image, reference, mapped.error);
    const judged = mapped.ref;
    const shown = judged === reference ? judged.string : `${judged.string} (via ${reference.name})`;

    const nowMs = now.getTime();
    const candidates = this.candidates(judged);
    // Deny first: a matching live deny rule wins over every allow (most specific reported).
    for (const candidate of candidates) {
      if (!candidate.deny || !selects(candidate, judged)) continue;
      if (!inScope(candidate, scope) || isExpired(candidate, nowMs)) continue;
      return {
        image,
        allowed: false,
        reference,
        judged,
        matchedRule: candidate.id,
        violations: [
          this.violation(
            'denied-source',
            `${shown} is denied by rule "${candidate.id}"`,
            candidate.severity,
          ),
        ],
      };
    }
    let outOfScope: CompiledRule | null = null;
    let otherSelector: CompiledRule | null = null;
    let expired: CompiledRule | null = null;
    let failing: { rule: CompiledRule; violations: Violation[] } | null = null;
    const checks: SignatureCheck[] = [];
    const withChecks = (decision: Decision): Decision =>
      checks.length === 0 ? decision : { ...decision, signatureChecks: checks };
    for (const candidate of candidates) {
      if (candidate.deny) continue;
      if (!selects(candidate, judged)) {
        otherSelector ??= candidate;
        continue;
      }
      if (!inScope(candidate, scope)) {
        outOfScope ??= candidate;
        continue;
      }
      if (isExpired(candidate, nowMs)) {
        expired ??= candidate;
        continue;
      }
      const violations = candidate.constrained
        ? this.constraintViolations(candidate, judged, shown)
        : [];
      // The signature is checked last: it is the one constraint that costs a verification.
      let signature: SignatureVerdict | undefined;
      if (violations.length === 0 && candidate.requireSignature) {
        const check = { ruleId: candidate.id, requirement: candidate.requireSignature, judged };
        checks.push(check);
        signature = signatures?.(check);
        const violation = this.signatureViolation(candidate.id, shown, signature);
        if (violation) violations.push(violation);
      }
      if (violations.length === 0) {
        return withChecks({
          image,
          allowed: true,
          reference,
          judged,
          matchedRule: candidate.id,
          violations,
          ...(signature ? { signature } : {}),
        });
      }
      failing ??= { rule: candidate, violations };
    }
    const base = { image, allowed: false, reference, judged };
    if (failing) {
      return withChecks({
        ...base,
        matchedRule: failing.rule.id,
        violations: failing.violations,
      });
    }
    if (expired) {
      const at = new Date(expired.expiresAtMs ?? Number.NaN);
      const when = Number.isNaN(at.getTime()) ? String(expired.rule.expiresAt) : at.toISOString();
      return {
        ...base,
        matchedRule: expired.rule.id,
        violations: [
          this.violation(
            'expired-exception',
            `${shown} is allowed only by rule "${expired.rule.id}", which expired at ${when}`,
            expired.severity,
          ),
        ],
      };
    }
    const hint = outOfScope
      ? `; rule "${outOfScope.rule.id}" matches the name but not this scope (${describeScope(scope)})`
      : otherSelector
        ? `; rule "${otherSelector.id}" matches the name but not this ${judged.digest !== null ? 'digest' : 'tag'}`
        : '';
    return {
      ...base,
      matchedRule: null,
      violations: [
        this.violation(
          'untrusted-source',
          `${shown} is not from a trusted source: no allowlist rule matches registry ${canonicalHost(judged.domain)} and repository ${judged.path}${hint}`,
        ),
      ],
    };
  }

  private constraintViolations(
    rule: CompiledRule,
    ref: ImageReference,
    shown: string,
  ): Violation[] {
    const out: Violation[] = [];
    const id = rule.id;
    if (rule.requireDigest && ref.digest === null) {
      out.push(
        this.violation(
          'unpinned-image',
          `${shown} is not pinned by digest; rule "${id}" requires a digest`,
          rule.severity,
        ),
      );
    }
    // A digest pins the content, so a tag next to it is only a label: denyTags do not apply.
    if (ref.digest === null && rule.denyTags.length > 0) {
      const tag = ref.tag ?? 'latest';
      if (matchAnyGlob(rule.denyTags, tag)) {
        const implicit = ref.tag === null ? ' (no tag means latest)' : '';
        out.push(
          this.violation(
            'mutable-tag',
            `${shown} uses tag "${tag}"${implicit}, which rule "${id}" denies`,
            rule.severity,
          ),
        );
      }
    }
    return out;
  }

  /** Null when the verdict satisfies the rule; fail closed on anything else. */
  private signatureViolation(
    id: string,
    shown: string,
    verdict: SignatureVerdict | undefined,
  ): Violation | null {
    if (verdict === undefined) {
      return this.violation(
        'unsigned-image',
        `${shown}: rule "${id}" requires a signature, and it was not verified (signature verification is not enabled here)`,
      );
    }
    if (verdict.status === 'verified') return null;
    const at = verdict.digest === null ? '' : ` (${verdict.digest})`;
    if (verdict.status === 'unsigned') {
      return this.violation(
        'unsigned-image',
        `${shown}${at} is not signed as rule "${id}" requires: ${verdict.reason}`,
      );
    }
    return this.violation(
      'signature-invalid',
      `${shown}${at} has no valid signature that rule "${id}" accepts: ${verdict.reason}`,
    );
  }

  private invalid(image: string, reference: ImageReference | null, message: string): Decision {
    return {
      image,
      allowed: false,
      reference,
      judged: null,
      matchedRule: null,
      violations: [this.violation('invalid-reference', `${JSON.stringify(image)}: ${message}`)],
    };
  }

  /** `severity` is the matched rule's own `severity:`, which beats the file's `severities:`. */
  private violation(
    rule: ViolationRule,
    message: string,
    severity: Severity | null = null,
  ): Violation {
    return { rule, severity: severity ?? this.severities[rule], message };
  }
}
