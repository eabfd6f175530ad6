/**
 * Issue 12's matcher features against a brute-force reference: deny rules (deny beats
 * allow, scoped deny fails closed), `**` and `**.` hosts, `tags` globs (`*`, `?`) and
 * `digests` (a digest is judged first), scope exclusions, per-rule severity. The reference
 * is a linear scan with regular expressions, written from docs/allowlist.md, not from the
 * index.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AllowlistDocument,
  type AllowlistRule,
  compileAllowlist,
  validateAllowlist,
} from '../../../lambdas/core/allowlist/index.ts';
import { canonicalHost, parseNormalizedNamed } from '../../../lambdas/core/reference.ts';
import type { Scope } from '../../../lambdas/core/types.ts';

const NOW = new Date('2026-06-01T00:00:00Z');
const DA = `sha256:${'a'.repeat(64)}`;
const DB = `sha256:${'b'.repeat(64)}`;

const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function hostRegex(pattern: string): RegExp {
  if (pattern === '**') return /^.+$/;
  const colon = pattern.lastIndexOf(':');
  const name = colon < 0 ? pattern : pattern.slice(0, colon);
  const port = colon < 0 ? '' : pattern.slice(colon);
  const labels = name.split('.').map((l) => {
    if (l === '**') return '[^.:/]+(?:\\.[^.:/]+)*';
    if (l === '*') return '[^.:/]+';
    return esc(l);
  });
  return new RegExp(`^${labels.join('\\.')}${esc(port)}$`);
}

/** Matched against `/` + path: `**` is zero or more `/segment`, `*` stays in a segment. */
function repoRegex(pattern: string): RegExp {
  const re = pattern
    .split('/')
    .map((p) => (p === '**' ? '(?:/[^/]+)*' : `/${p.split('*').map(esc).join('[^/]*')}`))
    .join('');
  return new RegExp(`^${re}$`);
}

const tagRegex = (glob: string) =>
  new RegExp(`^${[...glob].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : esc(c))).join('')}$`);
const scopeRegex = (glob: string) => new RegExp(`^${glob.split('*').map(esc).join('.*')}$`);

function scopeHolds(globs: string[] | undefined, name: string | undefined, deny: boolean): boolean {
  if (globs === undefined) return true;
  if (!name) return deny;
  const inc = globs.filter((g) => !g.startsWith('!'));
  const exc = globs.filter((g) => g.startsWith('!')).map((g) => g.slice(1));
  return inc.some((g) => scopeRegex(g).test(name)) && !exc.some((g) => scopeRegex(g).test(name));
}

function selects(rule: AllowlistRule, tag: string | null, digest: string | null): boolean {
  if (!rule.tags && !rule.digests) return true;
  if (digest !== null) return (rule.digests ?? []).includes(digest);
  if (!rule.tags) return false;
  return rule.tags.some((t) => tagRegex(t).test(tag ?? 'latest'));
}

function specificity(rule: AllowlistRule, index: number): number[] {
  const registry = rule.registry ?? '';
  const repository = rule.repository ?? '**';
  const host = registry.split(':')[0] ?? '';
  const segments = repository.split('/').filter((s, i, a) => !(s === '**' && a[i - 1] === '**'));
  return [
    registry === '**' ? 0 : host.startsWith('**.') ? 1 : 2,
    -host.split('.').filter((l) => l === '*').length,
    segments.filter((s) => !s.includes('*')).length,
    -segments.filter((s) => s === '**').length,
    segments
      .filter((s) => s !== '**' && s.includes('*'))
      .reduce((n, s) => n + s.replaceAll('*', '').length, 0),
    rule.digests ? 3 : rule.tags ? (rule.tags.some((t) => /[*?]/.test(t)) ? 1 : 2) : 0,
    (rule.clusters ? 1 : 0) + (rule.namespaces ? 1 : 0),
    -index,
  ];
}

const cmp = (a: number[], b: number[]) => {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return (b[i] ?? 0) - (a[i] ?? 0);
  return 0;
};

interface Outcome {
  allowed: boolean;
  matchedRule: string | null;
  violations: string[];
  severities: string[];
}

function naive(doc: AllowlistDocument, image: string, scope: Scope): Outcome {
  const parsed = parseNormalizedNamed(image);
  if (!parsed.ok) {
    return {
      allowed: false,
      matchedRule: null,
      violations: ['invalid-reference'],
      severities: ['high'],
    };
  }
  const { ref } = parsed;
  const host = canonicalHost(ref.domain);
  const live = (r: AllowlistRule) =>
    r.expiresAt === undefined || NOW.getTime() < Date.parse(r.expiresAt);
  const named = doc.rules
    .map((rule, i) => ({ rule, spec: specificity(rule, i) }))
    .filter(
      ({ rule }) =>
        hostRegex(rule.registry ?? '').test(host) &&
        repoRegex(rule.repository ?? '**').test(`/${ref.path}`),
    )
    .filter(({ rule }) => selects(rule, ref.tag, ref.digest))
    .sort((a, b) => cmp(a.spec, b.spec));
  const applies = (r: AllowlistRule) =>
    scopeHolds(r.clusters, scope.cluster, r.effect === 'deny') &&
    scopeHolds(r.namespaces, scope.namespace, r.effect === 'deny');
  const deny = named.find(({ rule }) => rule.effect === 'deny' && applies(rule) && live(rule));
  if (deny) {
    return {
      allowed: false,
      matchedRule: deny.rule.id,
      violations: ['denied-source'],
      severities: [deny.rule.severity ?? 'critical'],
    };
  }
  const allows = named.filter(({ rule }) => rule.effect !== 'deny' && applies(rule));
  const results = allows
    .filter(({ rule }) => live(rule))
    .map(({ rule }) => {
      const v: string[] = [];
      if (rule.requireDigest && ref.digest === null) v.push('unpinned-image');
      if (
        ref.digest === null &&
        (rule.denyTags ?? []).some((g) => scopeRegex(g).test(ref.tag ?? 'latest'))
      ) {
        v.push('mutable-tag');
      }
      return { rule, v };
    });
  const pass = results.find((r) => r.v.length === 0);
  if (pass) return { allowed: true, matchedRule: pass.rule.id, violations: [], severities: [] };
  const first = results[0];
  if (first) {
    const sev = (k: string) =>
      first.rule.severity ?? (k === 'unpinned-image' ? 'medium' : 'medium');
    return {
      allowed: false,
      matchedRule: first.rule.id,
      violations: first.v,
      severities: first.v.map(sev),
    };
  }
  const expired = allows[0];
  if (expired) {
    return {
      allowed: false,
      matchedRule: expired.rule.id,
      violations: ['expired-exception'],
      severities: [expired.rule.severity ?? 'high'],
    };
  }
  return {
    allowed: false,
    matchedRule: null,
    violations: ['untrusted-source'],
    severities: ['high'],
  };
}

/* ---------------------------------------------------------------- generators */

const HOST_PATTERNS = [
  '**',
  '**.example.com',
  'reg.example.com',
  '*.example.com',
  'docker.io',
  '**.example.com:5000',
];
const IMAGE_HOSTS = [
  'reg.example.com',
  'a.b.example.com',
  'example.com',
  'reg.example.com:5000',
  'docker.io',
  'evil.io',
  'reg.example.com.evil.io',
];
const REPOS = ['**', 'a/**', '**/b', 'a/b', 'a/*', 'library/*', 'team-*/**'];
const TAGS = ['latest', '1.27.*', 'v1.?', '1.27.1', '*-rc', '?'];

const ruleArb = (id: string): fc.Arbitrary<AllowlistRule> =>
  fc
    .record(
      {
        effect: fc.option(fc.constantFrom('allow' as const, 'deny' as const, 'deny' as const), {
          nil: undefined,
        }),
        registry: fc.constantFrom(...HOST_PATTERNS),
        repository: fc.constantFrom(...REPOS),
        tags: fc.option(fc.uniqueArray(fc.constantFrom(...TAGS), { minLength: 1, maxLength: 2 }), {
          nil: undefined,
        }),
        digests: fc.option(
          fc.uniqueArray(fc.constantFrom(DA, DB), { minLength: 1, maxLength: 2 }),
          { nil: undefined },
        ),
        namespaces: fc.option(
          fc.constantFrom(['*', '!kube-system'], ['pay*'], ['*', '!pay*', '!web'], ['web']),
          { nil: undefined },
        ),
        clusters: fc.option(fc.constantFrom(['prod-*'], ['*', '!prod-2']), { nil: undefined }),
        requireDigest: fc.option(fc.constantFrom(true, true, false), { nil: undefined }),
        denyTags: fc.option(fc.constantFrom(['latest'], ['1.*'], ['*']), { nil: undefined }),
        severity: fc.option(fc.constantFrom('low' as const, 'high' as const), { nil: undefined }),
        expiresAt: fc.option(fc.constantFrom('2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z'), {
          nil: undefined,
        }),
      },
      { requiredKeys: ['registry', 'repository'] },
    )
    .map((r) => {
      const rule: Record<string, unknown> = { id };
      for (const [k, v] of Object.entries(r)) if (v !== undefined) rule[k] = v;
      // A deny rule has no constraints.
      if (rule.effect === 'deny') {
        delete rule.requireDigest;
        delete rule.denyTags;
      }
      return rule as unknown as AllowlistRule;
    });

const docArb = fc
  .integer({ min: 0, max: 6 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => ruleArb(`r${i}`))))
  .map((rules) => ({ version: 1 as const, rules }));

const imageArb = fc
  .record({
    host: fc.constantFrom(...IMAGE_HOSTS, ''),
    path: fc.constantFrom('a/b', 'a/b/c', 'x/b', 'a', 'library/nginx', 'team-x/y', 'nginx'),
    tag: fc.option(fc.constantFrom('latest', '1.27.1', '1.27.10', 'v1.2', 'v1.22', 'x-rc', '7'), {
      nil: undefined,
    }),
    digest: fc.option(fc.constantFrom(DA, DB), { nil: undefined }),
  })
  .map(({ host, path, tag, digest }) => {
    let image = host === '' ? path : `${host}/${path}`;
    if (tag) image += `:${tag}`;
    if (digest) image += `@${digest}`;
    return image;
  });

const scopeArb = fc.record(
  {
    cluster: fc.constantFrom('prod-1', 'prod-2', 'dev-1'),
    namespace: fc.constantFrom('payments', 'web', 'kube-system'),
  },
  { requiredKeys: [] },
);

describe('issue 12 features: compiled index equals a brute-force scan', () => {
  it('decides like the reference on random rules, images and scopes', () => {
    fc.assert(
      fc.property(
        docArb,
        fc.array(fc.tuple(imageArb, scopeArb), { minLength: 1, maxLength: 8 }),
        (generated, cases) => {
          const doc = validateAllowlist(generated);
          const compiled = compileAllowlist(doc);
          for (const [image, scope] of cases) {
            const d = compiled.decide(image, scope, NOW);
            expect(
              {
                allowed: d.allowed,
                matchedRule: d.matchedRule,
                violations: d.violations.map((v) => v.rule),
                severities: d.violations.map((v) => v.severity),
              },
              `${image} ${JSON.stringify(scope)}`,
            ).toEqual(naive(doc, image, scope));
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a deny that matches always wins, whatever allow rules are added', () => {
    fc.assert(
      fc.property(docArb, imageArb, scopeArb, (generated, image, scope) => {
        const doc = validateAllowlist(generated);
        const before = compileAllowlist(doc).decide(image, scope, NOW);
        if (before.violations[0]?.rule !== 'denied-source') return;
        const widened = compileAllowlist({
          ...doc,
          rules: [...doc.rules, { id: 'allow-everything', registry: '**' }],
        });
        expect(widened.decide(image, scope, NOW).violations[0]?.rule).toBe('denied-source');
      }),
      { numRuns: 500 },
    );
  });

  it('an exclusion always wins over an inclusion', () => {
    fc.assert(
      fc.property(
        imageArb,
        fc.constantFrom('payments', 'web', 'kube-system'),
        (image, namespace) => {
          const al = compileAllowlist({
            version: 1,
            rules: [{ id: 'x', registry: '**', namespaces: ['*', namespace, `!${namespace}`] }],
          });
          const d = al.decide(image, { cluster: 'c', namespace }, NOW);
          expect(d.allowed).toBe(false);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('the generators reach every outcome (so the comparison is not vacuous)', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(docArb, imageArb, scopeArb, (generated, image, scope) => {
        const d = compileAllowlist(validateAllowlist(generated)).decide(image, scope, NOW);
        if (d.allowed) seen.add(`allowed by ${d.matchedRule === null ? '?' : 'rule'}`);
        for (const v of d.violations) seen.add(v.rule);
      }),
      { numRuns: 3000, seed: 7 },
    );
    expect([...seen].sort()).toEqual([
      'allowed by rule',
      'denied-source',
      'expired-exception',
      'mutable-tag',
      'unpinned-image',
      'untrusted-source',
    ]);
  });
});
