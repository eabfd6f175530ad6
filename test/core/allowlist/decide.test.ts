import { describe, expect, it } from 'vitest';
import {
  type AllowlistRule,
  type CompiledAllowlist,
  compileAllowlist,
  parseAllowlist,
} from '../../../lambdas/core/allowlist/index.ts';
import { parseNormalizedNamed } from '../../../lambdas/core/reference.ts';
import type { Decision, Scope } from '../../../lambdas/core/types.ts';

const NOW = new Date('2026-06-01T12:00:00Z');
const PROD: Scope = { cluster: 'prod-euc1', namespace: 'payments' };
const DIGEST = `sha256:${'a'.repeat(64)}`;

function allowlist(
  rules: AllowlistRule[],
  pullThroughCache?: { prefix: string; upstream: string }[],
): CompiledAllowlist {
  return compileAllowlist({
    version: 1,
    rules,
    ...(pullThroughCache ? { pullThroughCache } : {}),
  });
}

function verdict(d: Decision): { allowed: boolean; rule: string | null; violations: string[] } {
  return { allowed: d.allowed, rule: d.matchedRule, violations: d.violations.map((v) => v.rule) };
}

const allowedBy = (rule: string) => ({ allowed: true, rule, violations: [] });
const untrusted = { allowed: false, rule: null, violations: ['untrusted-source'] };
const invalid = { allowed: false, rule: null, violations: ['invalid-reference'] };

describe('prefix without a segment boundary', () => {
  const al = allowlist([{ id: 'ng', registry: 'docker.io', repository: 'library/ng' }]);

  it('does not let library/ng match library/nginx', () => {
    // Act
    const d = al.decide('nginx:1.27', PROD, NOW);
    // Assess
    expect(verdict(d)).toEqual(untrusted);
  });

  it('matches the exact repository', () => {
    expect(verdict(al.decide('docker.io/library/ng:1', PROD, NOW))).toEqual(allowedBy('ng'));
  });

  it('does not let org/* match org/a/b, but org/** does', () => {
    // Prepare
    const single = allowlist([{ id: 'one', registry: 'ghcr.io', repository: 'org/*' }]);
    const deep = allowlist([{ id: 'deep', registry: 'ghcr.io', repository: 'org/**' }]);
    // Act / Assess
    expect(verdict(single.decide('ghcr.io/org/a/b:1', PROD, NOW))).toEqual(untrusted);
    expect(verdict(single.decide('ghcr.io/org/a:1', PROD, NOW))).toEqual(allowedBy('one'));
    expect(verdict(deep.decide('ghcr.io/org/a/b:1', PROD, NOW))).toEqual(allowedBy('deep'));
  });

  it('does not let org/** match an org whose name merely starts the same', () => {
    const al2 = allowlist([{ id: 'deep', registry: 'ghcr.io', repository: 'org/**' }]);
    expect(verdict(al2.decide('ghcr.io/organisation/x:1', PROD, NOW))).toEqual(untrusted);
    expect(verdict(al2.decide('ghcr.io/org-evil/x:1', PROD, NOW))).toEqual(untrusted);
  });

  it('matches a partial glob inside one segment only', () => {
    const al2 = allowlist([{ id: 'teams', registry: 'quay.io', repository: 'acme/team-*' }]);
    expect(verdict(al2.decide('quay.io/acme/team-a:1', PROD, NOW))).toEqual(allowedBy('teams'));
    expect(verdict(al2.decide('quay.io/acme/team-a/x:1', PROD, NOW))).toEqual(untrusted);
    expect(verdict(al2.decide('quay.io/acme/other:1', PROD, NOW))).toEqual(untrusted);
  });
});

describe('host wildcards', () => {
  const al = allowlist([{ id: 'ecr', registry: '123456789012.dkr.ecr.*.amazonaws.com' }]);

  it('matches one whole label', () => {
    const d = al.decide('123456789012.dkr.ecr.eu-central-1.amazonaws.com/app:1', PROD, NOW);
    expect(verdict(d)).toEqual(allowedBy('ecr'));
  });

  it('does not span two labels', () => {
    const d = al.decide('123456789012.dkr.ecr.us-east-1.evil.amazonaws.com/app:1', PROD, NOW);
    expect(verdict(d)).toEqual(untrusted);
  });

  it('does not cross into the path', () => {
    // 'evil.com/x.amazonaws.com' cannot be read as a host that ends in amazonaws.com.
    const d = al.decide('123456789012.dkr.ecr.evil.com/x.amazonaws.com/app:1', PROD, NOW);
    expect(verdict(d)).toEqual(untrusted);
  });

  it('does not match an empty label or another account', () => {
    expect(
      verdict(al.decide('999999999999.dkr.ecr.eu-west-1.amazonaws.com/a:1', PROD, NOW)),
    ).toEqual(untrusted);
  });

  it('does not match a host with a port', () => {
    const d = al.decide('123456789012.dkr.ecr.eu-west-1.amazonaws.com:443/app:1', PROD, NOW);
    expect(verdict(d)).toEqual(untrusted);
  });
});

describe('look-alike hosts', () => {
  const al = allowlist([
    { id: 'hub', registry: 'docker.io', repository: '**' },
    { id: 'gcr', registry: 'gcr.io', repository: '**' },
  ]);

  it.each([
    'docker.io.evil.com/library/nginx:1',
    'gcr.io.evil.com/x:1',
    'evilgcr.io/x:1',
    'registry-1.docker.io/library/nginx:1',
  ])('%s is untrusted', (image) => {
    expect(verdict(al.decide(image, PROD, NOW))).toEqual(untrusted);
  });
});

describe('Docker Hub spellings', () => {
  const al = allowlist([{ id: 'official', image: 'nginx' }]);

  it.each([
    'nginx:1.27',
    'library/nginx:1.27',
    'docker.io/nginx:1.27',
    'docker.io/library/nginx:1.27',
    'index.docker.io/library/nginx:1.27',
    'index.docker.io/nginx:1.27',
  ])('%s is docker.io/library/nginx', (image) => {
    // Act
    const d = al.decide(image, PROD, NOW);
    // Assess
    expect(verdict(d)).toEqual(allowedBy('official'));
    expect(d.judged?.name).toBe('docker.io/library/nginx');
  });

  it('does not treat another user called nginx as the official image', () => {
    expect(verdict(al.decide('nginxinc/nginx-unprivileged:1', PROD, NOW))).toEqual(untrusted);
    expect(verdict(al.decide('someone/nginx:1', PROD, NOW))).toEqual(untrusted);
  });
});

describe('ports', () => {
  const al = allowlist([
    { id: 'reg5000', registry: 'reg.example.com:5000' },
    { id: 'reg', registry: 'reg.example.com' },
    { id: 'official-nginx', image: 'nginx' },
  ]);

  it('treats the port as part of the host', () => {
    expect(verdict(al.decide('reg.example.com:5000/x:1', PROD, NOW))).toEqual(allowedBy('reg5000'));
    expect(verdict(al.decide('reg.example.com/x:1', PROD, NOW))).toEqual(allowedBy('reg'));
    expect(verdict(al.decide('reg.example.com:5001/x:1', PROD, NOW))).toEqual(untrusted);
  });

  it('does not let a port-less rule match a host with a port', () => {
    const only = allowlist([{ id: 'reg', registry: 'reg' }]);
    expect(verdict(only.decide('reg:5000/x:1', PROD, NOW))).toEqual(untrusted);
  });

  it('reads nginx:5000/evil/x as registry nginx:5000, not Docker Hub nginx', () => {
    // Act
    const d = al.decide('nginx:5000/evil/x', PROD, NOW);
    // Assess
    expect(d.judged?.domain).toBe('nginx:5000');
    expect(verdict(d)).toEqual(untrusted);
  });

  it('reads nginx:5000 (no slash) as the official nginx with tag 5000', () => {
    const d = al.decide('nginx:5000', PROD, NOW);
    expect(d.judged?.tag).toBe('5000');
    expect(verdict(d)).toEqual(allowedBy('official-nginx'));
  });
});

describe('case', () => {
  const al = allowlist([{ id: 'ghcr', registry: 'GHCR.io', repository: 'org/**' }]);

  it('compares hosts case-insensitively', () => {
    expect(verdict(al.decide('GHCR.IO/org/app:1', PROD, NOW))).toEqual(allowedBy('ghcr'));
    expect(verdict(al.decide('ghcr.io/org/app:1', PROD, NOW))).toEqual(allowedBy('ghcr'));
  });

  it('refuses upper case in the path as an invalid reference', () => {
    expect(verdict(al.decide('ghcr.io/Org/app:1', PROD, NOW))).toEqual(invalid);
  });
});

describe('tags and digests', () => {
  const al = allowlist([
    { id: 'hub', image: 'docker.io/library/*', denyTags: ['latest', '*-rc*'] },
    { id: 'pinned', registry: 'ghcr.io', repository: 'org/**', requireDigest: true },
  ]);

  it('treats an untagged reference as latest', () => {
    // Act
    const d = al.decide('nginx', PROD, NOW);
    // Assess
    expect(verdict(d)).toEqual({ allowed: false, rule: 'hub', violations: ['mutable-tag'] });
    expect(d.violations[0]?.message).toContain('no tag means latest');
  });

  it('denies an explicit latest and tag globs', () => {
    expect(verdict(al.decide('nginx:latest', PROD, NOW)).violations).toEqual(['mutable-tag']);
    expect(verdict(al.decide('nginx:1.28-rc1', PROD, NOW)).violations).toEqual(['mutable-tag']);
    expect(verdict(al.decide('nginx:1.27', PROD, NOW))).toEqual(allowedBy('hub'));
  });

  it('compares tags case-sensitively, as registries do', () => {
    expect(verdict(al.decide('nginx:Latest', PROD, NOW))).toEqual(allowedBy('hub'));
  });

  it('does not apply denyTags when a digest pins the image, even with the tag written', () => {
    expect(verdict(al.decide(`nginx:latest@${DIGEST}`, PROD, NOW))).toEqual(allowedBy('hub'));
    expect(verdict(al.decide(`nginx@${DIGEST}`, PROD, NOW))).toEqual(allowedBy('hub'));
  });

  it('requires a digest when the rule says so; tag + digest satisfies it', () => {
    expect(verdict(al.decide('ghcr.io/org/app:1', PROD, NOW))).toEqual({
      allowed: false,
      rule: 'pinned',
      violations: ['unpinned-image'],
    });
    expect(verdict(al.decide(`ghcr.io/org/app:1@${DIGEST}`, PROD, NOW))).toEqual(
      allowedBy('pinned'),
    );
  });

  it('reports every failed constraint of the rule', () => {
    const both = allowlist([
      { id: 'r', image: 'nginx', requireDigest: true, denyTags: ['latest'] },
    ]);
    expect(verdict(both.decide('nginx', PROD, NOW)).violations).toEqual([
      'unpinned-image',
      'mutable-tag',
    ]);
  });
});

describe('scopes', () => {
  const al = allowlist([
    { id: 'prod-payments', image: 'ghcr.io/pay/*', clusters: ['prod-*'], namespaces: ['payments'] },
    { id: 'any-ns', image: 'ghcr.io/shared/*', clusters: ['*-euc1'] },
  ]);

  it('applies a scoped rule when cluster and namespace match the globs', () => {
    expect(verdict(al.decide('ghcr.io/pay/api:1', PROD, NOW))).toEqual(allowedBy('prod-payments'));
    expect(verdict(al.decide('ghcr.io/shared/x:1', PROD, NOW))).toEqual(allowedBy('any-ns'));
  });

  it('does not apply it in another cluster or namespace', () => {
    // Act
    const d = al.decide(
      'ghcr.io/pay/api:1',
      { cluster: 'staging-euc1', namespace: 'payments' },
      NOW,
    );
    // Assess
    expect(verdict(d)).toEqual(untrusted);
    expect(d.violations[0]?.message).toContain(
      'rule "prod-payments" matches the name but not this scope',
    );
    expect(
      verdict(al.decide('ghcr.io/pay/api:1', { cluster: 'prod-euc1', namespace: 'web' }, NOW)),
    ).toEqual(untrusted);
  });

  it('fails closed when no scope is given', () => {
    expect(verdict(al.decide('ghcr.io/pay/api:1', {}, NOW))).toEqual(untrusted);
    expect(verdict(al.decide('ghcr.io/shared/x:1', { namespace: 'payments' }, NOW))).toEqual(
      untrusted,
    );
    expect(verdict(al.decide('ghcr.io/pay/api:1', { cluster: '', namespace: '' }, NOW))).toEqual(
      untrusted,
    );
  });

  it('applies unscoped rules with no scope given', () => {
    const open = allowlist([{ id: 'open', image: 'ghcr.io/pay/*' }]);
    expect(verdict(open.decide('ghcr.io/pay/api:1', {}, NOW))).toEqual(allowedBy('open'));
  });
});

describe('expiry', () => {
  const exception: AllowlistRule = {
    id: 'tmp',
    image: 'docker.io/nicolaka/netshoot',
    expiresAt: '2026-06-01T12:00:00Z',
    reason: 'incident debugging',
    ticket: 'SEC-1',
  };

  it('allows before expiresAt', () => {
    const al = allowlist([exception]);
    expect(
      verdict(al.decide('nicolaka/netshoot:v0.13', PROD, new Date(NOW.getTime() - 1))),
    ).toEqual(allowedBy('tmp'));
  });

  it('reports expired-exception at and after expiresAt when only expired rules match', () => {
    // Prepare
    const al = allowlist([exception]);
    // Act
    const at = al.decide('nicolaka/netshoot:v0.13', PROD, NOW);
    // Assess
    expect(verdict(at)).toEqual({ allowed: false, rule: 'tmp', violations: ['expired-exception'] });
    expect(at.violations[0]?.message).toContain('2026-06-01T12:00:00.000Z');
  });

  it('allows when an expired and a valid rule both match', () => {
    const al = allowlist([
      exception,
      { id: 'all-hub', registry: 'docker.io', repository: 'nicolaka/*' },
    ]);
    expect(verdict(al.decide('nicolaka/netshoot:v0.13', PROD, NOW))).toEqual(allowedBy('all-hub'));
  });

  it('honours time zone offsets', () => {
    const al = allowlist([{ ...exception, expiresAt: '2026-06-01T14:00:00+02:00' }]);
    expect(verdict(al.decide('nicolaka/netshoot:v0.13', PROD, NOW)).violations).toEqual([
      'expired-exception',
    ]);
  });

  it('treats an invalid clock as expired (fail closed)', () => {
    const al = allowlist([exception]);
    expect(
      verdict(al.decide('nicolaka/netshoot:v0.13', PROD, new Date(Number.NaN))).violations,
    ).toEqual(['expired-exception']);
  });
});

describe('pull-through cache', () => {
  const cache = [
    { prefix: '123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub', upstream: 'docker.io' },
    { prefix: '123456789012.dkr.ecr.us-east-1.amazonaws.com/quay', upstream: 'quay.io' },
  ];
  const al = allowlist(
    [
      { id: 'hub-official', image: 'docker.io/library/*' },
      { id: 'quay-acme', image: 'quay.io/acme/**' },
      { id: 'own-ecr', registry: '123456789012.dkr.ecr.*.amazonaws.com' },
    ],
    cache,
  );
  const ECR = '123456789012.dkr.ecr.us-east-1.amazonaws.com';

  it('judges a cached image as its upstream image, keeping tag and digest', () => {
    // Act
    const d = al.decide(`${ECR}/docker-hub/library/nginx:1.27@${DIGEST}`, PROD, NOW);
    // Assess
    expect(verdict(d)).toEqual(allowedBy('hub-official'));
    expect(d.judged?.string).toBe(`docker.io/library/nginx:1.27@${DIGEST}`);
    expect(d.reference?.name).toBe(`${ECR}/docker-hub/library/nginx`);
  });

  it('does not also allow it through the rule that trusts the cache host', () => {
    const d = al.decide(`${ECR}/docker-hub/nicolaka/netshoot:v0.13`, PROD, NOW);
    expect(verdict(d)).toEqual(untrusted);
    expect(d.violations[0]?.message).toContain('docker.io/nicolaka/netshoot:v0.13 (via');
  });

  it('matches the prefix on whole segments and the host case-insensitively', () => {
    expect(al.decide(`${ECR}/docker-hubx/library/nginx:1`, PROD, NOW).judged?.domain).toBe(ECR);
    expect(verdict(al.decide(`${ECR}/docker-hubx/library/nginx:1`, PROD, NOW))).toEqual(
      allowedBy('own-ecr'),
    );
    const upper = al.decide(`${ECR.toUpperCase()}/quay/acme/app:2`, PROD, NOW);
    expect(upper.judged?.name).toBe('quay.io/acme/app');
    expect(verdict(upper)).toEqual(allowedBy('quay-acme'));
  });

  it('normalises the mapped name like an image (one segment gets library/)', () => {
    const d = al.decide(`${ECR}/docker-hub/nginx:1`, PROD, NOW);
    expect(d.judged?.name).toBe('docker.io/library/nginx');
  });

  it('leaves the prefix itself (nothing below it) to the normal rules', () => {
    const d = al.decide(`${ECR}/docker-hub:1`, PROD, NOW);
    expect(d.judged?.name).toBe(`${ECR}/docker-hub`);
    expect(verdict(d)).toEqual(allowedBy('own-ecr'));
  });

  it('uses the longest prefix and supports host-only mirrors', () => {
    // Prepare
    const mirrors = allowlist(
      [
        { id: 'hub', image: 'docker.io/library/*' },
        { id: 'ghcr', image: 'ghcr.io/org/*' },
      ],
      [
        { prefix: 'mirror.corp:5000', upstream: 'docker.io' },
        { prefix: 'mirror.corp:5000/ghcr', upstream: 'ghcr.io' },
      ],
    );
    // Act / Assess
    expect(verdict(mirrors.decide('mirror.corp:5000/library/redis:7', PROD, NOW))).toEqual(
      allowedBy('hub'),
    );
    expect(verdict(mirrors.decide('mirror.corp:5000/ghcr/org/app:7', PROD, NOW))).toEqual(
      allowedBy('ghcr'),
    );
  });

  it('reports a mapped name that is too long as an invalid reference', () => {
    // Prepare: fits below the cache host, exceeds 255 characters under docker.io/library.
    const al2 = allowlist(
      [{ id: 'hub', registry: 'docker.io' }],
      [{ prefix: 'm.corp/a', upstream: 'docker.io/library/deep' }],
    );
    const path = `${'x'.repeat(120)}/${'y'.repeat(125)}`;
    // Act
    const d = al2.decide(`m.corp/a/${path}:1`, PROD, NOW);
    // Assess
    expect(verdict(d)).toEqual(invalid);
    expect(d.reference?.name).toBe(`m.corp/a/${path}`);
  });
});

describe('malformed references fail closed', () => {
  const al = allowlist([{ id: 'all-hub', registry: 'docker.io', repository: '**' }]);

  it.each([
    '',
    ' ',
    'nginx:',
    'nginx@sha256:short',
    'docker.io/UPPER/case',
    'upper/Case',
    'a//b',
    'http://docker.io/library/nginx',
    `${'a'.repeat(64)}`,
    `docker.io/${'a/'.repeat(127)}aa`,
    'nginx:1\nevil',
  ])('%j is an invalid reference', (image) => {
    // Act
    const d = al.decide(image, PROD, NOW);
    // Assess
    expect(verdict(d)).toEqual(invalid);
    expect(d.reference).toBeNull();
    expect(d.violations[0]?.severity).toBe('high');
  });

  it('decideReference reuses a parse result', () => {
    const parsed = parseNormalizedNamed('nginx:1');
    expect(verdict(al.decideReference(parsed, 'nginx:1', PROD, NOW))).toEqual(allowedBy('all-hub'));
    expect(verdict(al.decideReference({ ok: false, error: 'x' }, '??', PROD, NOW))).toEqual(
      invalid,
    );
  });
});

describe('most specific rule', () => {
  it('prefers an exact host to a wildcard host', () => {
    // Prepare
    const al = allowlist([
      { id: 'wild', registry: '*.example.com', requireDigest: true },
      { id: 'exact', registry: 'reg.example.com', denyTags: ['latest'] },
    ]);
    // Act
    const d = al.decide('reg.example.com/app', PROD, NOW);
    // Assess: both fail; the exact host's failure is the one reported.
    expect(verdict(d)).toEqual({ allowed: false, rule: 'exact', violations: ['mutable-tag'] });
  });

  it('prefers more literal segments, then fewer **, then longer glob literals', () => {
    const al = allowlist([
      { id: 'any', registry: 'ghcr.io', repository: '**', requireDigest: true },
      { id: 'org-deep', registry: 'ghcr.io', repository: 'org/**', requireDigest: true },
      { id: 'org-star', registry: 'ghcr.io', repository: 'org/*', requireDigest: true },
      { id: 'org-team', registry: 'ghcr.io', repository: 'org/team-*', requireDigest: true },
      { id: 'org-exact', registry: 'ghcr.io', repository: 'org/team-a', requireDigest: true },
    ]);
    expect(al.decide('ghcr.io/org/team-a:1', PROD, NOW).matchedRule).toBe('org-exact');
    expect(al.decide('ghcr.io/org/team-b:1', PROD, NOW).matchedRule).toBe('org-team');
    expect(al.decide('ghcr.io/org/other:1', PROD, NOW).matchedRule).toBe('org-star');
    expect(al.decide('ghcr.io/org/x/y:1', PROD, NOW).matchedRule).toBe('org-deep');
    expect(al.decide('ghcr.io/else/y:1', PROD, NOW).matchedRule).toBe('any');
  });

  it('prefers a scoped rule, then the earlier rule', () => {
    const al = allowlist([
      { id: 'first', image: 'ghcr.io/org/*', requireDigest: true },
      { id: 'second', image: 'ghcr.io/org/*', requireDigest: true },
      { id: 'scoped', image: 'ghcr.io/org/*', requireDigest: true, namespaces: ['pay*'] },
    ]);
    expect(al.decide('ghcr.io/org/a:1', PROD, NOW).matchedRule).toBe('scoped');
    expect(al.decide('ghcr.io/org/a:1', { cluster: 'c', namespace: 'web' }, NOW).matchedRule).toBe(
      'first',
    );
  });

  it('allows when a less specific rule passes although the most specific one fails', () => {
    const al = allowlist([
      { id: 'strict', image: 'ghcr.io/org/app', requireDigest: true },
      { id: 'loose', image: 'ghcr.io/org/*' },
    ]);
    expect(verdict(al.decide('ghcr.io/org/app:1', PROD, NOW))).toEqual(allowedBy('loose'));
  });
});

describe('severities', () => {
  it('uses defaults and the file override', () => {
    // Prepare
    const al = compileAllowlist(
      parseAllowlist(`
version: 1
severities:
  mutable-tag: low
  untrusted-source: critical
rules:
  - id: hub
    image: docker.io/library/*
    denyTags: [latest]
`),
    );
    // Act / Assess
    expect(al.decide('nginx', PROD, NOW).violations[0]?.severity).toBe('low');
    expect(al.decide('evil/x:1', PROD, NOW).violations[0]?.severity).toBe('critical');
    expect(al.decide('upper/X', PROD, NOW).violations[0]?.severity).toBe('high');
    expect(al.severities['unpinned-image']).toBe('medium');
  });
});

describe('version', () => {
  it('is equal for documents with the same meaning and changes with content', () => {
    // Prepare
    const a = allowlist([{ id: 'r', image: 'nginx' }]);
    const b = allowlist([{ id: 'r', registry: 'DOCKER.IO', repository: 'library/nginx' }]);
    const c = allowlist([{ id: 'r', image: 'nginx', denyTags: ['latest'] }]);
    // Assess
    expect(a.version).toBe(b.version);
    expect(a.version).not.toBe(c.version);
    expect(a.version).toMatch(/^[0-9a-f]{32}$/);
  });
});
