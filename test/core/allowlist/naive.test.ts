/**
 * The compiled index must decide exactly like the obvious implementation: a linear scan
 * over every rule with regular-expression host matching and recursive segment matching.
 * The naive decider below is written from the documented semantics, not from the index.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AllowlistDocument,
  type AllowlistRule,
  compileAllowlist,
  expandImageShorthand,
  validateAllowlist,
} from '../../../lambdas/core/allowlist/index.ts';
import { canonicalHost, parseNormalizedNamed } from '../../../lambdas/core/reference.ts';
import type { ImageReference, Scope } from '../../../lambdas/core/types.ts';

interface Outcome {
  allowed: boolean;
  matchedRule: string | null;
  violations: string[];
  judged: string | null;
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const globRegex = (glob: string, any: string) =>
  new RegExp(`^${glob.split('*').map(escapeRegex).join(any)}$`);

function hostMatches(pattern: string, host: string): boolean {
  const lower = pattern.toLowerCase();
  const colon = lower.lastIndexOf(':');
  const name = colon < 0 ? lower : lower.slice(0, colon);
  const port = colon < 0 ? '' : lower.slice(colon);
  const labels = name.split('.').map((l) => (l === '*' ? '[^.:/]+' : escapeRegex(l)));
  return new RegExp(`^${labels.join('\\.')}${escapeRegex(port)}$`).test(host);
}

function repoMatches(pattern: string[], path: string[], i = 0, j = 0): boolean {
  if (i === pattern.length) return j === path.length;
  const p = pattern[i] ?? '';
  if (p === '**') {
    return (
      repoMatches(pattern, path, i + 1, j) ||
      (j < path.length && repoMatches(pattern, path, i, j + 1))
    );
  }
  if (j === path.length) return false;
  return globRegex(p, '[^/]*').test(path[j] ?? '') && repoMatches(pattern, path, i + 1, j + 1);
}

function target(rule: AllowlistRule): { registry: string; repository: string } {
  if (rule.image !== undefined) {
    const expanded = expandImageShorthand(rule.image);
    if (!expanded.ok) throw new Error(expanded.error);
    return {
      registry: expanded.value.registry.source,
      repository: expanded.value.repository.source,
    };
  }
  return { registry: rule.registry ?? '', repository: rule.repository ?? '**' };
}

function specificity(rule: AllowlistRule, index: number): number[] {
  const { registry, repository } = target(rule);
  const host = registry.split(':')[0] ?? '';
  const segments = repository
    .split('/')
    .filter((s, i, all) => !(s === '**' && all[i - 1] === '**'));
  const globs = segments.filter((s) => s !== '**' && s.includes('*'));
  return [
    -host.split('.').filter((l) => l === '*').length,
    segments.filter((s) => !s.includes('*')).length,
    -segments.filter((s) => s === '**').length,
    globs.reduce((n, s) => n + s.replaceAll('*', '').length, 0),
    (rule.clusters ? 1 : 0) + (rule.namespaces ? 1 : 0),
    -index,
  ];
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++)
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (b[i] ?? 0) - (a[i] ?? 0);
  return 0;
}

function judge(doc: AllowlistDocument, ref: ImageReference): ImageReference | null {
  const host = canonicalHost(ref.domain);
  const path = ref.path.split('/');
  let best: { depth: number; upstream: string } | null = null;
  for (const entry of doc.pullThroughCache ?? []) {
    const [prefixHost = '', ...prefixPath] = entry.prefix.toLowerCase().split('/');
    if (prefixHost !== host || path.length <= prefixPath.length) continue;
    if (!prefixPath.every((s, i) => path[i] === s)) continue;
    if (!best || prefixPath.length > best.depth)
      best = { depth: prefixPath.length, upstream: entry.upstream };
  }
  if (!best) return ref;
  let name = [best.upstream, ...path.slice(best.depth)].join('/');
  if (ref.tag !== null) name += `:${ref.tag}`;
  if (ref.digest !== null) name += `@${ref.digest}`;
  const mapped = parseNormalizedNamed(name);
  return mapped.ok ? mapped.ref : null;
}

function naiveDecide(doc: AllowlistDocument, image: string, scope: Scope, now: Date): Outcome {
  const invalid: Outcome = {
    allowed: false,
    matchedRule: null,
    violations: ['invalid-reference'],
    judged: null,
  };
  const parsed = parseNormalizedNamed(image);
  if (!parsed.ok) return invalid;
  const judged = judge(doc, parsed.ref);
  if (!judged) return invalid;
  const host = canonicalHost(judged.domain);
  const path = judged.path.split('/');
  const inScope = (globs: string[] | undefined, value: string | undefined) =>
    globs === undefined || (!!value && globs.some((g) => globRegex(g, '.*').test(value)));

  const matching = doc.rules
    .map((rule, index) => ({ rule, spec: specificity(rule, index) }))
    .filter(({ rule }) => {
      const t = target(rule);
      return hostMatches(t.registry, host) && repoMatches(t.repository.split('/'), path);
    })
    .filter(
      ({ rule }) =>
        inScope(rule.clusters, scope.cluster) && inScope(rule.namespaces, scope.namespace),
    )
    .sort((a, b) => compare(a.spec, b.spec));

  const live = matching.filter(
    ({ rule }) => rule.expiresAt === undefined || now.getTime() < Date.parse(rule.expiresAt),
  );
  const base = { judged: judged.string };
  const failures = live.map(({ rule }) => {
    const violations: string[] = [];
    if (rule.requireDigest && judged.digest === null) violations.push('unpinned-image');
    const tag = judged.tag ?? 'latest';
    if (judged.digest === null && (rule.denyTags ?? []).some((g) => globRegex(g, '.*').test(tag))) {
      violations.push('mutable-tag');
    }
    return { id: rule.id, violations };
  });
  const passing = failures.find((f) => f.violations.length === 0);
  if (passing) return { ...base, allowed: true, matchedRule: passing.id, violations: [] };
  const first = failures[0];
  if (first)
    return { ...base, allowed: false, matchedRule: first.id, violations: first.violations };
  const expired = matching[0];
  if (expired)
    return {
      ...base,
      allowed: false,
      matchedRule: expired.rule.id,
      violations: ['expired-exception'],
    };
  return { ...base, allowed: false, matchedRule: null, violations: ['untrusted-source'] };
}

/* ---------------------------------------------------------------- generators */

// A small vocabulary, so that several rules match one image and specificity decides which
// one is reported; a few look-alike hosts and malformed names on the image side.
const HOSTS = [
  'reg.example.com',
  'reg.example.com:5000',
  'docker.io',
  '111.dkr.ecr.eu-west-1.amazonaws.com',
  '222.dkr.ecr.us-east-1.amazonaws.com',
];
const SEGMENTS = ['a', 'team-x', 'tx', 'library', 'cache'];
const PATTERN_SEGMENTS = ['a', 'team-x', 'library', '*', '**', 'team-*', '*-x', 't*x', 't*-*'];
const NOW = new Date('2026-06-01T00:00:00Z');

const hostPattern = (hosts: string[]) =>
  fc
    .tuple(
      fc.constantFrom(...hosts),
      fc.array(fc.constantFrom(false, false, false, true), { minLength: 8, maxLength: 8 }),
    )
    .map(([host, stars]) => {
      const [name = '', port] = host.split(':');
      const labels = name.split('.');
      const out = labels.map((l, i) => (i < labels.length - 1 && stars[i] ? '*' : l)).join('.');
      return port ? `${out}:${port}` : out;
    });

const repoPattern = fc.array(fc.constantFrom(...PATTERN_SEGMENTS), { minLength: 1, maxLength: 3 });

const ruleArb = (id: string, hosts: string[]): fc.Arbitrary<AllowlistRule> =>
  fc
    .record(
      {
        shorthand: fc.boolean(),
        registry: hostPattern(hosts),
        repository: repoPattern,
        clusters: fc.option(
          fc.array(fc.constantFrom('prod-*', '*-1', 'dev-1', '*'), { minLength: 1, maxLength: 2 }),
          { nil: undefined },
        ),
        namespaces: fc.option(
          fc.array(fc.constantFrom('pay*', 'web', '*'), { minLength: 1, maxLength: 2 }),
          { nil: undefined },
        ),
        requireDigest: fc.option(fc.boolean(), { nil: undefined }),
        denyTags: fc.option(fc.array(fc.constantFrom('latest', 'dev-*', '1.0'), { maxLength: 2 }), {
          nil: undefined,
        }),
        expiresAt: fc.option(
          fc.constantFrom(
            '2026-05-31T23:59:59Z',
            '2026-06-01T00:00:00Z',
            '2026-06-01T00:00:01Z',
            '2027-01-01T00:00:00+02:00',
          ),
          { nil: undefined },
        ),
      },
      { requiredKeys: ['shorthand', 'registry', 'repository'] },
    )
    .map(({ shorthand, registry, repository, ...rest }) => {
      let segments = repository;
      // Docker Hub names have two or more segments; the schema refuses one-segment patterns.
      if (registry === 'docker.io' && segments.length === 1 && segments[0] !== '**') {
        segments = ['library', ...segments];
      }
      const repo = segments.join('/');
      const rule: Record<string, unknown> = { id };
      const hubAmbiguous = registry === 'docker.io' && repo === '**';
      if (shorthand && !hubAmbiguous) rule.image = `${registry}/${repo}`;
      else Object.assign(rule, { registry, repository: repo });
      for (const [key, value] of Object.entries(rest)) if (value !== undefined) rule[key] = value;
      return rule as AllowlistRule;
    });

const documentArb = fc
  .record({
    // Each document draws its rules from one or two hosts, so that rules overlap.
    rules: fc
      .tuple(
        fc.integer({ min: 0, max: 12 }),
        fc.shuffledSubarray(HOSTS, { minLength: 1, maxLength: 2 }),
      )
      .chain(([n, hosts]) =>
        fc.tuple(...Array.from({ length: n }, (_, i) => ruleArb(`r${i}`, hosts))),
      ),
    cache: fc.boolean(),
  })
  .map(({ rules, cache }) => ({
    version: 1 as const,
    rules,
    ...(cache
      ? {
          pullThroughCache: [
            { prefix: 'reg.example.com/cache', upstream: 'docker.io' },
            { prefix: '111.dkr.ecr.eu-west-1.amazonaws.com/cache/a', upstream: 'docker.io' },
            {
              prefix: '222.dkr.ecr.us-east-1.amazonaws.com/cache',
              upstream: 'reg.example.com:5000/a',
            },
          ],
        }
      : {}),
  }));

const imageArb = fc
  .record({
    host: fc.constantFrom(
      ...HOSTS,
      'REG.Example.com',
      'docker.io.evil.com',
      'reg.example.com.evil.io',
      '',
    ),
    path: fc.array(fc.constantFrom(...SEGMENTS, 'Upper', 'team-xx'), {
      minLength: 1,
      maxLength: 4,
    }),
    tag: fc.option(fc.constantFrom('latest', '1.0', 'dev-3'), { nil: undefined }),
    digest: fc.boolean(),
  })
  .map(({ host, path, tag, digest }) => {
    let image = host === '' ? path.join('/') : `${host}/${path.join('/')}`;
    if (tag) image += `:${tag}`;
    if (digest) image += `@sha256:${'b'.repeat(64)}`;
    return image;
  });

/** An image made to match (or nearly match) one of the document's rules. */
function derivedImageArb(doc: AllowlistDocument): fc.Arbitrary<string> {
  if (doc.rules.length === 0) return imageArb;
  return fc
    .record({
      rule: fc.constantFrom(...doc.rules),
      fill: fc.array(fc.constantFrom('', 'x', 'team', 'eu-west-1', '-', 'a'), {
        minLength: 24,
        maxLength: 24,
      }),
      deep: fc.array(fc.constantFrom(...SEGMENTS), { maxLength: 2 }),
      tag: fc.option(fc.constantFrom('latest', '1.0', 'dev-3'), { nil: undefined }),
      digest: fc.boolean(),
    })
    .map(({ rule, fill, deep, tag, digest }) => {
      let k = 0;
      const next = () => fill[k++ % fill.length] ?? '';
      const { registry, repository } = target(rule);
      const host = registry.replace(/\*/g, () => next() || 'x');
      const path = repository
        .split('/')
        .flatMap((segment) => (segment === '**' ? deep : [segment.replace(/\*/g, next)]));
      let image = `${host}/${path.join('/')}`;
      if (tag) image += `:${tag}`;
      if (digest) image += `@sha256:${'b'.repeat(64)}`;
      return image;
    });
}

const scopeArb = fc.record(
  {
    cluster: fc.constantFrom('prod-1', 'dev-1', 'staging-2'),
    namespace: fc.constantFrom('payments', 'web'),
  },
  { requiredKeys: [] },
);

describe('compiled index equals a naive linear scan', () => {
  it('decides like the naive implementation on random rules and images', () => {
    fc.assert(
      fc.property(
        documentArb,
        fc.array(fc.tuple(imageArb, scopeArb), { minLength: 1, maxLength: 10 }),
        (generated, cases) => {
          // Prepare
          const doc = validateAllowlist(generated);
          const compiled = compileAllowlist(doc);
          for (const [image, scope] of cases) {
            // Act
            const d = compiled.decide(image, scope, NOW);
            // Assess
            expect({
              allowed: d.allowed,
              matchedRule: d.matchedRule,
              violations: d.violations.map((v) => v.rule),
              judged: d.judged?.string ?? null,
            }).toEqual(naiveDecide(doc, image, scope, NOW));
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('the generators reach every outcome (so the comparison is not vacuous)', () => {
    // Prepare
    const seen = new Set<string>();
    // Act
    fc.assert(
      fc.property(
        documentArb.chain((doc) =>
          fc.tuple(fc.constant(doc), fc.oneof(imageArb, derivedImageArb(doc))),
        ),
        scopeArb,
        ([generated, image], scope) => {
          const d = compileAllowlist(validateAllowlist(generated)).decide(image, scope, NOW);
          if (d.allowed) seen.add('allowed');
          for (const v of d.violations) seen.add(v.rule);
        },
      ),
      { numRuns: 2000, seed: 42 },
    );
    // Assess
    expect([...seen].sort()).toEqual([
      'allowed',
      'expired-exception',
      'invalid-reference',
      'mutable-tag',
      'unpinned-image',
      'untrusted-source',
    ]);
  });
});
