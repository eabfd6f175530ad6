/**
 * The importers: each peer string becomes the exact regwatch rule, the bypasses a raw
 * string comparison allowed are reported, and what cannot be converted is listed by policy
 * and field, never dropped.
 */
import { describe, expect, it } from 'vitest';
import { convertPolicies } from '../../../lambdas/core/allowlist/convert/index.ts';
import { convertPrefix, convertWildcard } from '../../../lambdas/core/allowlist/convert/strings.ts';
import { compileAllowlist } from '../../../lambdas/core/allowlist/index.ts';

const NOW = new Date('2026-06-01T00:00:00Z');
const NS = { cluster: 'c', namespace: 'default' };

const gatekeeperV1 = (repos: string[], match: Record<string, unknown> = {}) => ({
  apiVersion: 'constraints.gatekeeper.sh/v1beta1',
  kind: 'K8sAllowedRepos',
  metadata: { name: 'repos' },
  spec: { match, parameters: { repos } },
});

describe('raw prefixes', () => {
  it.each([
    ['gcr.io/myproject/', 'gcr.io', 'myproject/**', []],
    ['gcr.io/myproject', 'gcr.io', 'myproject/**', ['myproject-evil']],
    ['docker.io', 'docker.io', '**', ['docker.io.evil.com']],
    ['docker.io/', 'docker.io', '**', []],
    ['openpolicyagent/', 'docker.io', 'openpolicyagent/**', []],
    ['nginx', 'docker.io', 'library/nginx', ['nginx-evil', 'nginx.evil.com']],
    ['localhost:5000/', 'localhost:5000', '**', []],
    ['Registry.Corp:5000/app', 'registry.corp:5000', 'app/**', ['app-evil']],
  ])('%s → %s %s', (prefix, registry, repository, bypasses) => {
    // Act
    const c = convertPrefix(prefix);
    // Assess
    expect(c.ok).toBe(true);
    if (!c.ok) return;
    expect(c.target).toEqual({ registry, repository });
    for (const b of bypasses) expect(c.peerAlsoMatched.join('\n')).toContain(b);
    if (bypasses.length === 0) expect(c.peerAlsoMatched).toEqual([]);
  });

  it('says that "myregistry/" is a Docker Hub account, not a registry', () => {
    const c = convertPrefix('myregistry/');
    expect(c.ok && c.target).toEqual({ registry: 'docker.io', repository: 'myregistry/**' });
    expect(c.ok && c.notes.join()).toContain('Docker Hub account docker.io/myregistry');
  });

  it('keeps a tag as a tag, and refuses prefixes with no exact meaning', () => {
    const tagged = convertPrefix('ubuntu:20.04');
    expect(tagged.ok && tagged.target).toEqual({
      registry: 'docker.io',
      repository: 'library/ubuntu',
      tags: ['20.04'],
    });
    for (const bad of ['gcr.io/*/x', 'gcr.io/Org/', 'x@sha256:']) {
      expect(convertPrefix(bad).ok, bad).toBe(false);
    }
  });

  it('reads K8sAllowedReposv2 entries: exact strings and trailing-* prefixes', () => {
    expect(convertWildcard('gcr.io/team-*')).toMatchObject({
      ok: true,
      target: { registry: 'gcr.io', repository: 'team-*/**' },
    });
    expect(convertWildcard('quay.io/a/b')).toMatchObject({
      ok: true,
      target: { registry: 'quay.io', repository: 'a/b', tags: ['latest'] },
    });
    expect(convertWildcard('*/nginx').ok).toBe(false);
  });
});

describe('gatekeeper', () => {
  it('closes the docker.io.evil.com bypass and keeps the constraint scope', () => {
    // Act
    const r = convertPolicies('gatekeeper', [
      [gatekeeperV1(['docker.io'], { namespaces: ['default'], excludedNamespaces: ['x'] })],
    ]);
    const al = compileAllowlist(r.document);
    // Assess
    expect(r.closed.map((n) => n.message).join('\n')).toContain('docker.io.evil.com');
    expect(r.closed[0]?.policy).toBe('K8sAllowedRepos/repos');
    expect(r.closed[0]?.field).toBe('spec.parameters.repos[0]');
    expect(al.decide('nginx', NS, NOW).allowed).toBe(true);
    expect(al.decide('docker.io.evil.com/x', NS, NOW).allowed).toBe(false);
    // Outside the constraint's match the constraint says nothing: anything goes there.
    expect(al.decide('quay.io/x', { cluster: 'c', namespace: 'other' }, NOW).allowed).toBe(true);
    expect(al.decide('quay.io/x', { cluster: 'c', namespace: 'x' }, NOW).allowed).toBe(true);
    expect(al.decide('quay.io/x', NS, NOW).allowed).toBe(false);
    expect(r.unconvertible).toEqual([]);
  });

  it('keeps ids valid and unique and reasons bounded for hostile names and values', () => {
    // Prepare
    const c = gatekeeperV1(['gcr.io/a/', 'gcr.io/b/']);
    c.metadata.name = `${'y'.repeat(300)}<!channel>`;
    const huge = gatekeeperV1([`gcr.io/${'a'.repeat(200)}/${'b'.repeat(2000)}/`]);
    // Act
    const r = convertPolicies('gatekeeper', [[c], [c], [huge]]);
    // Assess: validated by the schema on the way out, so every id is valid.
    const ids = r.rules.map((x) => x.id);
    expect(new Set(ids).size).toBe(4);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/);
    for (const rule of r.rules) expect((rule.reason ?? '').length).toBeLessThanOrEqual(2000);
    expect(r.unconvertible.map((n) => n.field)).toEqual(['spec.parameters.repos[0]']);
  });

  it('turns K8sDisallowedRepos into deny rules; admits the rest only when nothing restricts', () => {
    // Prepare
    const deny = {
      kind: 'K8sDisallowedRepos',
      metadata: { name: 'no-gcr' },
      spec: { parameters: { repos: ['k8s.gcr.io'] } },
    };
    // Act
    const alone = compileAllowlist(convertPolicies('gatekeeper', [[deny]]).document);
    const withAllow = convertPolicies('gatekeeper', [[gatekeeperV1(['quay.io/'])], [deny]]);
    const both = compileAllowlist(withAllow.document);
    // Assess
    expect(alone.decide('k8s.gcr.io/pause:3', NS, NOW).violations[0]?.rule).toBe('denied-source');
    expect(alone.decide('ghcr.io/x/y:1', NS, NOW).allowed).toBe(true);
    // Another file's allow list still restricts: no allow-all from the deny-only file.
    expect(withAllow.rules.map((r) => r.id)).not.toContain('gatekeeper-allow-rest');
    expect(both.decide('ghcr.io/x/y:1', NS, NOW).allowed).toBe(false);
    expect(both.decide('quay.io/x/y:1', NS, NOW).allowed).toBe(true);
  });

  it('lists selectors and unknown kinds as not converted', () => {
    const r = convertPolicies('gatekeeper', [
      [
        gatekeeperV1(['gcr.io/'], { labelSelector: { matchLabels: { a: 'b' } } }),
        { kind: 'K8sDisallowedTags', metadata: { name: 't' }, spec: {} },
        'not an object',
      ],
    ]);
    expect(r.unconvertible.map((n) => `${n.policy} ${n.field}`)).toEqual([
      'K8sAllowedRepos/repos spec.match.labelSelector',
      'K8sDisallowedTags/t kind',
      'document 3 kind',
    ]);
  });
});

describe('kyverno', () => {
  it('converts pattern alternatives, !*:tag negations and deny conditions', () => {
    // Prepare
    const policy = {
      kind: 'ClusterPolicy',
      metadata: { name: 'p' },
      spec: {
        rules: [
          {
            name: 'registries',
            match: { any: [{ resources: { kinds: ['Pod'], namespaces: ['apps'] } }] },
            validate: { pattern: { spec: { containers: [{ image: 'eu.foo.io/* | bar.io/*' }] } } },
          },
          {
            name: 'no-latest',
            validate: { pattern: { spec: { containers: [{ image: '!*:latest' }] } } },
          },
          {
            name: 'no-bad-registry',
            validate: {
              deny: {
                conditions: {
                  any: [
                    {
                      key: '{{ images.containers.*.registry }}',
                      operator: 'AnyIn',
                      value: ['k8s.gcr.io', '*.evil.io'],
                    },
                  ],
                },
              },
            },
          },
        ],
      },
    };
    // Act
    const r = convertPolicies('kyverno', [[policy]]);
    const al = compileAllowlist(r.document);
    const apps = { cluster: 'c', namespace: 'apps' };
    // Assess
    expect(r.unconvertible).toEqual([]);
    expect(al.decide('eu.foo.io/x:1', apps, NOW).allowed).toBe(true);
    expect(al.decide('eu.foo.io/x:latest', apps, NOW).violations[0]?.rule).toBe('denied-source');
    // Outside the rule's match the rule says nothing: anything goes there.
    const web = { cluster: 'c', namespace: 'web' };
    expect(al.decide('quay.io/x:1', web, NOW).allowed).toBe(true);
    expect(al.decide('quay.io/x:1', apps, NOW).allowed).toBe(false);
    expect(al.decide('k8s.gcr.io/pause:3', apps, NOW).violations[0]?.rule).toBe('denied-source');
    expect(al.decide('a.b.evil.io/x:1', apps, NOW).violations[0]?.rule).toBe('denied-source');
  });

  it('adds an allow rule for everything else when the policies only refuse', () => {
    const r = convertPolicies('kyverno', [
      [
        {
          kind: 'ClusterPolicy',
          metadata: { name: 'latest' },
          spec: {
            rules: [
              {
                name: 'no-latest',
                validate: { pattern: { spec: { containers: [{ image: '!*:latest' }] } } },
              },
            ],
          },
        },
      ],
    ]);
    const al = compileAllowlist(r.document);
    expect(al.decide('quay.io/x:1', NS, NOW).allowed).toBe(true);
    expect(al.decide('quay.io/x', NS, NOW).violations[0]?.rule).toBe('denied-source');
  });

  it('reads foreach patterns, and adds no allow-all to a partial result', () => {
    const policy = {
      kind: 'ClusterPolicy',
      metadata: { name: 'disallow-latest-tag' },
      spec: {
        rules: [
          {
            name: 'require-image-tag',
            validate: {
              foreach: [{ list: 'request.object.spec.containers', pattern: { image: '*:*' } }],
            },
          },
          {
            name: 'validate-image-tag',
            validate: {
              foreach: [
                { list: 'request.object.spec.containers', pattern: { image: '!*:latest' } },
              ],
            },
          },
        ],
      },
    };
    const r = convertPolicies('kyverno', [[policy]]);
    expect(r.unconvertible.map((n) => n.field)).toEqual([
      'spec.rules[0].validate.pattern image "*:*"',
    ]);
    expect(r.rules.map((x) => x.id)).toEqual(['disallow-latest-tag-validate-image-tag-0']);
  });

  it('scopes a namespaced Policy to its namespace, and keeps anything-goes elsewhere', () => {
    const r = convertPolicies('kyverno', [
      [
        {
          kind: 'Policy',
          metadata: { name: 'team', namespace: 'team-a' },
          spec: {
            rules: [
              {
                name: 'registries',
                validate: { pattern: { spec: { containers: [{ image: 'ghcr.io/team-a/*' }] } } },
              },
            ],
          },
        },
      ],
    ]);
    const al = compileAllowlist(r.document);
    const teamA = { cluster: 'c', namespace: 'team-a' };
    expect(al.decide('ghcr.io/team-a/api:1', teamA, NOW).allowed).toBe(true);
    expect(al.decide('quay.io/x/y:1', teamA, NOW).allowed).toBe(false);
    expect(al.decide('quay.io/x/y:1', { cluster: 'c', namespace: 'team-b' }, NOW).allowed).toBe(
      true,
    );
    expect(r.unconvertible).toEqual([]);
  });

  it('reports an unanchored CEL matches() and CEL it cannot read', () => {
    const vpol = (expression: string) => ({
      kind: 'ValidatingPolicy',
      metadata: { name: 'v' },
      spec: { validations: [{ expression }] },
    });
    const r = convertPolicies('kyverno', [
      [
        vpol("object.spec.containers.all(c, c.image.matches('ghcr.io/org/'))"),
        vpol("object.spec.containers.all(c, !c.image.startsWith('x.io/'))"),
        // CEL source as a policy file holds it: the regex's \. is written \\. in CEL.
        vpol(
          String.raw`object.spec.containers.all(c, c.image.startsWith('ghcr.io/org/') || c.image.matches('^quay\\.io/org/.*'))`,
        ),
      ],
    ]);
    expect(r.unconvertible.map((n) => n.message).join('\n')).toContain('not anchored');
    expect(r.unconvertible).toHaveLength(2);
    expect(r.rules.map((x) => `${x.registry} ${x.repository}`)).toEqual([
      'ghcr.io org/**',
      'quay.io org/**',
    ]);
  });
});

describe('kubewarden', () => {
  it('intersects registries.allow with images.allow and turns rejections into deny rules', () => {
    // Act
    const r = convertPolicies('kubewarden', [
      [
        {
          registries: { allow: ['ghcr.io'] },
          tags: { reject: ['latest'] },
          images: { allow: ['ghcr.io/a/b', 'quay.io/c/d:1'] },
        },
      ],
    ]);
    const al = compileAllowlist(r.document);
    // Assess
    expect(al.decide('ghcr.io/a/b:1', NS, NOW).allowed).toBe(true);
    expect(al.decide('ghcr.io/a/b', NS, NOW).violations[0]?.rule).toBe('denied-source');
    expect(al.decide('quay.io/c/d:1', NS, NOW).allowed).toBe(false);
    expect(r.notes.map((n) => n.field)).toContain('images.allow[1]');
  });

  it('reports the path-only match of a Docker Hub allow entry as closed', () => {
    const r = convertPolicies('kubewarden', [[{ images: { allow: ['coreos/etcd'] } }]]);
    expect(r.closed[0]?.message).toContain('evil.io/coreos/etcd');
    const al = compileAllowlist(r.document);
    expect(al.decide('evil.io/coreos/etcd', NS, NOW).allowed).toBe(false);
  });

  it('refuses settings the policy itself refuses, naming the field', () => {
    // e2e.bats "Job: settings not valid because of tag"
    const r = convertPolicies('kubewarden', [
      [{ images: { allow: ['not-a-valid-image-tag:1.0.0+rc1'] } }],
    ]);
    expect(r.unconvertible).toEqual([
      expect.objectContaining({ policy: 'settings-1', field: 'images.allow[0]' }),
    ]);
  });
});
