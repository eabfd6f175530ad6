/**
 * Issue 12's format growth: deny rules, `**` hosts, tags and digests, scope exclusions,
 * per-rule severity, and the validation of each (errors name rule and field).
 */
import { describe, expect, it } from 'vitest';
import {
  type AllowlistRule,
  type CompiledAllowlist,
  compileAllowlist,
  parseAllowlist,
  serializeAllowlist,
} from '../../../lambdas/core/allowlist/index.ts';
import { AllowlistError } from '../../../lambdas/core/errors.ts';
import type { Decision, Scope } from '../../../lambdas/core/types.ts';

const NOW = new Date('2026-06-01T12:00:00Z');
const PROD: Scope = { cluster: 'prod-euc1', namespace: 'payments' };
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

const allowlist = (rules: AllowlistRule[]): CompiledAllowlist =>
  compileAllowlist({ version: 1, rules });

function verdict(d: Decision): { allowed: boolean; rule: string | null; violations: string[] } {
  return { allowed: d.allowed, rule: d.matchedRule, violations: d.violations.map((v) => v.rule) };
}
const allowedBy = (rule: string) => ({ allowed: true, rule, violations: [] });
const deniedBy = (rule: string) => ({ allowed: false, rule, violations: ['denied-source'] });
const untrusted = { allowed: false, rule: null, violations: ['untrusted-source'] };

function issuesOf(text: string): { path: string; message: string }[] {
  try {
    parseAllowlist(text, 'test.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(AllowlistError);
    return [...(error as AllowlistError).issues];
  }
  throw new Error('expected the allowlist to be refused');
}

const withRule = (rule: string) =>
  `version: 1\nrules:\n  - id: r1\n${rule
    .trim()
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n')}\n`;

describe('effect: deny', () => {
  const al = allowlist([
    { id: 'hub', registry: 'docker.io', repository: '**' },
    { id: 'no-k8s-gcr', effect: 'deny', registry: 'k8s.gcr.io' },
    { id: 'all', registry: '**' },
    { id: 'bad-digest', effect: 'deny', registry: '**', digests: [D1] },
    { id: 'no-netshoot', effect: 'deny', image: 'nicolaka/netshoot', severity: 'high' },
  ]);

  it('beats every allow rule, with the rule id in the message and severity critical', () => {
    // Act
    const d = al.decide('k8s.gcr.io/pause:3.9', PROD, NOW);
    // Assess
    expect(verdict(d)).toEqual(deniedBy('no-k8s-gcr'));
    expect(d.violations[0]?.severity).toBe('critical');
    expect(d.violations[0]?.message).toContain('"no-k8s-gcr"');
  });

  it('denies one digest anywhere, and takes its severity from the rule', () => {
    expect(verdict(al.decide(`ghcr.io/x/y@${D1}`, PROD, NOW))).toEqual(deniedBy('bad-digest'));
    expect(verdict(al.decide(`ghcr.io/x/y@${D2}`, PROD, NOW))).toEqual(allowedBy('all'));
    const d = al.decide('nicolaka/netshoot:v0.13', PROD, NOW);
    expect(verdict(d)).toEqual(deniedBy('no-netshoot'));
    expect(d.violations[0]?.severity).toBe('high');
  });

  it('does not deny once expired, nor outside its known scope', () => {
    // Prepare
    const timed = allowlist([
      { id: 'all', registry: '**' },
      { id: 'tmp', effect: 'deny', registry: 'quay.io', expiresAt: '2026-01-01T00:00:00Z' },
      { id: 'scoped', effect: 'deny', registry: 'ghcr.io', namespaces: ['payments'] },
    ]);
    // Act / Assess
    expect(verdict(timed.decide('quay.io/a/b:1', PROD, NOW))).toEqual(allowedBy('all'));
    expect(verdict(timed.decide('ghcr.io/a/b:1', PROD, NOW))).toEqual(deniedBy('scoped'));
    const dev = { cluster: 'dev', namespace: 'web' };
    expect(verdict(timed.decide('ghcr.io/a/b:1', dev, NOW))).toEqual(allowedBy('all'));
  });

  it('applies a scoped deny when the scope is not known (fail closed)', () => {
    const al2 = allowlist([
      { id: 'all', registry: '**' },
      { id: 'scoped', effect: 'deny', registry: 'ghcr.io', namespaces: ['*', '!kube-system'] },
    ]);
    expect(verdict(al2.decide('ghcr.io/a/b:1', {}, NOW))).toEqual(deniedBy('scoped'));
    const kube = { cluster: 'c', namespace: 'kube-system' };
    expect(verdict(al2.decide('ghcr.io/a/b:1', kube, NOW))).toEqual(allowedBy('all'));
  });

  it('applies to the upstream image of a pull-through cache', () => {
    const al2 = compileAllowlist({
      version: 1,
      rules: [
        { id: 'ecr', registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com' },
        { id: 'hub', registry: 'docker.io', repository: '**' },
        { id: 'no-busybox', effect: 'deny', image: 'busybox' },
      ],
      pullThroughCache: [
        { prefix: '123456789012.dkr.ecr.us-east-1.amazonaws.com/hub', upstream: 'docker.io' },
      ],
    });
    const image = '123456789012.dkr.ecr.us-east-1.amazonaws.com/hub/library/busybox:1.36';
    expect(verdict(al2.decide(image, PROD, NOW))).toEqual(deniedBy('no-busybox'));
  });

  it('refuses constraints on a deny rule', () => {
    expect(issuesOf(withRule('effect: deny\nregistry: quay.io\nrequireDigest: true'))).toEqual([
      { path: 'rules[0] (id "r1").requireDigest', message: expect.stringContaining('deny rule') },
    ]);
    expect(issuesOf(withRule('effect: block\nregistry: quay.io'))[0]).toEqual({
      path: 'rules[0] (id "r1").effect',
      message: '"block" is not an effect (allow or deny)',
    });
  });
});

describe('registry "**" and "**.domain"', () => {
  const al = allowlist([
    { id: 'any-kyverno', registry: '**', repository: '**/kyverno' },
    { id: 'corp', registry: '**.corp.example.com' },
    { id: 'corp-port', registry: '**.corp.example.com:5000' },
  ]);

  it('"**" matches any host, any labels, any port, IPv6 too', () => {
    for (const image of [
      'kyverno',
      'ghcr.io/kyverno/kyverno:v1',
      'reg:5000/kyverno',
      '[::1]:5000/a/kyverno',
      'localhost/kyverno',
    ]) {
      expect(verdict(al.decide(image, PROD, NOW)), image).toEqual(allowedBy('any-kyverno'));
    }
    expect(verdict(al.decide('ghcr.io/kyverno/kyverno-evil', PROD, NOW))).toEqual(untrusted);
  });

  it('"**." takes one or more whole labels and keeps the port rule', () => {
    expect(verdict(al.decide('a.corp.example.com/x', PROD, NOW))).toEqual(allowedBy('corp'));
    expect(verdict(al.decide('a.b.c.corp.example.com/x', PROD, NOW))).toEqual(allowedBy('corp'));
    expect(verdict(al.decide('a.corp.example.com:5000/x', PROD, NOW))).toEqual(
      allowedBy('corp-port'),
    );
    expect(verdict(al.decide('corp.example.com/x', PROD, NOW))).toEqual(untrusted);
    expect(verdict(al.decide('evilcorp.example.com/x', PROD, NOW))).toEqual(untrusted);
    expect(verdict(al.decide('a.corp.example.com.evil.io/x', PROD, NOW))).toEqual(untrusted);
    expect(verdict(al.decide('a.corp.example.com:5001/x', PROD, NOW))).toEqual(untrusted);
  });

  it('a named host is more specific than "**." which is more specific than "**"', () => {
    const al2 = allowlist([
      { id: 'any', registry: '**', requireDigest: true },
      { id: 'deep', registry: '**.example.com', requireDigest: true },
      { id: 'named', registry: 'a.example.com', requireDigest: true },
    ]);
    expect(al2.decide('a.example.com/x:1', PROD, NOW).matchedRule).toBe('named');
    expect(al2.decide('b.example.com/x:1', PROD, NOW).matchedRule).toBe('deep');
    expect(al2.decide('quay.io/x:1', PROD, NOW).matchedRule).toBe('any');
  });
});

describe('tags and digests', () => {
  const al = allowlist([
    { id: 'nginx-127', image: 'nginx', tags: ['1.27.*', 'v1.?'] },
    { id: 'redis-pinned', image: 'redis', digests: [D1] },
    { id: 'both', image: 'quay.io/a/b', tags: ['stable'], digests: [D2] },
  ]);

  it('matches only the listed tag globs (* a run, ? one character)', () => {
    expect(verdict(al.decide('nginx:1.27.3', PROD, NOW))).toEqual(allowedBy('nginx-127'));
    expect(verdict(al.decide('nginx:v1.2', PROD, NOW))).toEqual(allowedBy('nginx-127'));
    expect(verdict(al.decide('nginx:v1.22', PROD, NOW))).toEqual(untrusted);
    expect(verdict(al.decide('nginx:1.28.0', PROD, NOW))).toEqual(untrusted);
    // No tag means latest.
    expect(verdict(al.decide('nginx', PROD, NOW))).toEqual(untrusted);
    expect(al.decide('nginx:1.28.0', PROD, NOW).violations[0]?.message).toContain(
      'matches the name but not this tag',
    );
  });

  it('judges a reference with a digest by its digest first', () => {
    // The tag next to a digest is only a label: it cannot select a tags rule.
    expect(verdict(al.decide(`nginx:1.27.3@${D1}`, PROD, NOW))).toEqual(untrusted);
    expect(verdict(al.decide(`redis:7@${D1}`, PROD, NOW))).toEqual(allowedBy('redis-pinned'));
    expect(verdict(al.decide(`redis@${D1}`, PROD, NOW))).toEqual(allowedBy('redis-pinned'));
    expect(verdict(al.decide(`redis@${D2}`, PROD, NOW))).toEqual(untrusted);
    expect(verdict(al.decide('redis:7', PROD, NOW))).toEqual(untrusted);
    // With both lists: the digest when there is one, else the tag.
    expect(verdict(al.decide(`quay.io/a/b:stable@${D2}`, PROD, NOW))).toEqual(allowedBy('both'));
    expect(verdict(al.decide(`quay.io/a/b:stable@${D1}`, PROD, NOW))).toEqual(untrusted);
    expect(verdict(al.decide('quay.io/a/b:stable', PROD, NOW))).toEqual(allowedBy('both'));
  });

  it('allows one tag of an otherwise untrusted image next to a deny of the rest', () => {
    const al2 = allowlist([
      { id: 'hub', registry: 'docker.io', repository: '**' },
      { id: 'no-latest', effect: 'deny', registry: '**', tags: ['latest'] },
    ]);
    expect(verdict(al2.decide('nginx', PROD, NOW))).toEqual(deniedBy('no-latest'));
    expect(verdict(al2.decide('nginx:latest', PROD, NOW))).toEqual(deniedBy('no-latest'));
    expect(verdict(al2.decide(`nginx:latest@${D1}`, PROD, NOW))).toEqual(allowedBy('hub'));
    expect(verdict(al2.decide('nginx:1', PROD, NOW))).toEqual(allowedBy('hub'));
  });

  it('refuses tag globs that can match nothing and digests that are not digests', () => {
    const cases: [string, string, string][] = [
      ['tags: [".x*"]', 'tags[0]', "never starts with '.'"],
      ['tags: ["-rc"]', 'tags[0]', "never starts with '-'"],
      [`tags: ["${'a'.repeat(129)}*"]`, 'tags[0]', 'at most 128'],
      ['tags: ["v1/2"]', 'tags[0]', 'may hold only'],
      ['tags: ["!latest"]', 'tags[0]', "'!' excludes only in clusters and namespaces"],
      ['tags: []', 'tags', 'at least one tag'],
      ['tags: [a, a]', 'tags[1]', 'duplicate tag'],
      ['digests: ["sha256:abc"]', 'digests[0]', 'needs 64 lower-case hex'],
      [`digests: ["sha256:${'A'.repeat(64)}"]`, 'digests[0]', 'needs 64 lower-case hex'],
      ['digests: ["sha256:*"]', 'digests[0]', 'needs 64'],
      [`digests: ["md5:${'a'.repeat(32)}"]`, 'digests[0]', 'is not a digest'],
      ['digests: ["latest"]', 'digests[0]', 'is not a digest'],
    ];
    for (const [field, path, message] of cases) {
      expect(issuesOf(withRule(`registry: quay.io\n${field}`)), field).toContainEqual({
        path: `rules[0] (id "r1").${path}`,
        message: expect.stringContaining(message),
      });
    }
  });
});

describe('unknown keys', () => {
  it('refuses a misspelt new field and suggests the right one', () => {
    expect(issuesOf(withRule('registry: quay.io\ntag: ["1.*"]\neffekt: deny'))).toEqual([
      {
        path: 'rules[0] (id "r1").tag',
        message: expect.stringContaining('unknown field (did you mean tags?)'),
      },
      {
        path: 'rules[0] (id "r1").effekt',
        message: expect.stringContaining('unknown field (did you mean effect?)'),
      },
    ]);
  });
});

describe('scope exclusions', () => {
  const al = allowlist([
    { id: 'ns', registry: 'quay.io', namespaces: ['*', '!kube-system', '!team-*-secret'] },
  ]);

  it('an exclusion wins over an inclusion', () => {
    const at = (namespace: string) => al.decide('quay.io/a/b:1', { cluster: 'c', namespace }, NOW);
    expect(verdict(at('payments'))).toEqual(allowedBy('ns'));
    expect(verdict(at('kube-system')).allowed).toBe(false);
    expect(verdict(at('team-a-secret')).allowed).toBe(false);
    expect(verdict(at('team-a-secrets')).allowed).toBe(true);
    // An unknown namespace never borrows an allow rule's scope.
    expect(verdict(al.decide('quay.io/a/b:1', { cluster: 'c' }, NOW)).allowed).toBe(false);
  });

  it("refuses '!' outside scopes, a bare '!', and a list of exclusions only", () => {
    const cases: [string, string, string][] = [
      ['registry: "!quay.io"', 'registry', "'!' excludes only"],
      ['registry: quay.io\nrepository: "!a/**"', 'repository', "'!' excludes only"],
      ['image: "!nginx"', 'image', "'!' excludes only"],
      ['registry: quay.io\ndenyTags: ["!x"]', 'denyTags[0]', "'!' excludes only"],
      ['registry: quay.io\nnamespaces: ["!"]', 'namespaces[0]', 'must be followed by a glob'],
      ['registry: quay.io\nnamespaces: ["!!a"]', 'namespaces[0]', "one '!'"],
      ['registry: quay.io\nclusters: ["!prod"]', 'clusters', 'only exclusions'],
    ];
    for (const [field, path, message] of cases) {
      expect(issuesOf(withRule(field)), field).toContainEqual({
        path: `rules[0] (id "r1").${path}`,
        message: expect.stringContaining(message),
      });
    }
  });
});

describe('severity per rule', () => {
  it('sets the severity of the violations the rule yields', () => {
    const al = compileAllowlist({
      version: 1,
      severities: { 'unpinned-image': 'low' },
      rules: [
        { id: 'pin', image: 'redis', requireDigest: true, severity: 'critical' },
        { id: 'old', image: 'nginx', expiresAt: '2026-01-01T00:00:00Z', severity: 'low' },
        { id: 'plain', image: 'busybox', requireDigest: true },
      ],
    });
    expect(al.decide('redis:7', PROD, NOW).violations[0]?.severity).toBe('critical');
    expect(al.decide('nginx:1', PROD, NOW).violations[0]).toMatchObject({
      rule: 'expired-exception',
      severity: 'low',
    });
    expect(al.decide('busybox:1', PROD, NOW).violations[0]?.severity).toBe('low');
    expect(issuesOf(withRule('registry: quay.io\nseverity: urgent'))[0]?.path).toBe(
      'rules[0] (id "r1").severity',
    );
  });
});

describe('serialization and version', () => {
  it('round-trips every new field and hashes a change of meaning', () => {
    // Prepare
    const text = `version: 1
rules:
  - id: d
    effect: deny
    registry: "**"
    tags: ["latest"]
    namespaces: ["*", "!kube-system"]
    severity: high
  - id: a
    registry: "**.corp.example.com"
    digests: ["${D1}"]
`;
    // Act
    const doc = parseAllowlist(text);
    const again = parseAllowlist(serializeAllowlist(doc));
    // Assess
    expect(again).toEqual(doc);
    const flipped = parseAllowlist(text.replace('effect: deny', 'effect: allow'));
    expect(compileAllowlist(flipped).version).not.toBe(compileAllowlist(doc).version);
  });
});
