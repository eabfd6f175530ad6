import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AllowlistDocument,
  type AllowlistRule,
  allowlistRuleSchema,
  expandImageShorthand,
  parseAllowlist,
  serializeAllowlist,
  validateAllowlist,
  validateRule,
} from '../../../lambdas/core/allowlist/index.ts';
import { AllowlistError } from '../../../lambdas/core/errors.ts';

/** The issues of a document that must be refused. */
function issuesOf(text: string): { path: string; message: string }[] {
  try {
    parseAllowlist(text, 'test.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(AllowlistError);
    return [...(error as AllowlistError).issues];
  }
  throw new Error('expected the allowlist to be refused');
}

function withRule(rule: string): string {
  return `version: 1\nrules:\n  - id: ok\n    image: nginx\n  - id: gcr-mirror\n${rule
    .trim()
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n')}\n`;
}

describe('parseAllowlist accepts the documented format', () => {
  it('reads every field, YAML or JSON', () => {
    // Prepare
    const yaml = `
version: 1
severities:
  mutable-tag: high
rules:
  - id: company-ecr
    registry: "123456789012.dkr.ecr.*.amazonaws.com"
    repository: "**"
    clusters: ["prod-*"]
    namespaces: ["payments"]
    requireDigest: false
    denyTags: ["latest"]
    expiresAt: "2027-01-01T00:00:00Z"
    reason: "why"
    owner: "team"
    ticket: "SEC-1"
  - id: dockerhub-official
    image: "docker.io/library/*"
pullThroughCache:
  - prefix: "123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub"
    upstream: "docker.io"
`;
    // Act
    const fromYaml = parseAllowlist(yaml);
    const fromJson = parseAllowlist(JSON.stringify(fromYaml));
    // Assess
    expect(fromYaml.rules).toHaveLength(2);
    expect(fromYaml.rules[0]?.clusters).toEqual(['prod-*']);
    expect(fromYaml.severities).toEqual({ 'mutable-tag': 'high' });
    expect(fromJson).toEqual(fromYaml);
  });

  it('accepts an empty rule list (everything is then untrusted)', () => {
    expect(parseAllowlist('version: 1\nrules: []\n').rules).toEqual([]);
  });
});

describe('validation errors name the rule and the field', () => {
  it.each([
    ['registry: "*.amazon*.com"', 'registry', "'*' must be a whole DNS label"],
    // issue 12 made '**.gcr.io' (one or more labels) valid; '**' elsewhere in a host is not.
    ['registry: "gcr.**.io"', 'registry', "'**' is allowed only as the whole host"],
    ['registry: "**.io"', 'registry', 'at least two labels'],
    ['registry: "gcr.*"', 'registry', 'top-level domain'],
    ['registry: "gcr.io:99999"', 'registry', 'port "99999"'],
    ['registry: "gcr.io:0"', 'registry', 'port "0"'],
    ['registry: "gcr.io:*"', 'registry', 'port cannot be a wildcard'],
    ['registry: "gcr.io:"', 'registry', 'must be followed by a port'],
    ['registry: "gcr.io/project"', 'registry', 'without a path'],
    ['registry: "https://gcr.io"', 'registry', 'without a scheme'],
    ['registry: "gcr..io"', 'registry', 'empty DNS label'],
    ['registry: "gcr_x.io"', 'registry', 'not a valid DNS label'],
    ['registry: "index.docker.io"', 'registry', 'write docker.io'],
    ['registry: docker.io\nrepository: nginx', 'repository', 'two or more segments'],
    ['registry: gcr.io\nrepository: "a/**b"', 'repository', "'**' must be a whole path segment"],
    ['registry: gcr.io\nrepository: "Org/x"', 'repository', 'lower case'],
    ['registry: gcr.io\nrepository: "a//b"', 'repository', 'empty path segment'],
    ['registry: gcr.io\nrepository: "a/b?"', 'repository', 'may hold only'],
    ['image: "nginx:1.27"', 'image', 'names a tag or digest'],
    [`image: "nginx@sha256:${'a'.repeat(64)}"`, 'image', 'names a tag or digest'],
    ['image: "**"', 'image', 'ambiguous'],
    ['image: "docker.io/**"', 'image', 'ambiguous'],
    ['image: "Gcr.io/Org/x"', 'image', 'not an image name pattern'],
    ['image: nginx\nregistry: docker.io', 'image', 'either image or registry/repository'],
    ['image: nginx\nrepository: library/nginx', 'image', 'either image or registry/repository'],
    ['repository: library/nginx', 'registry', 'is required with repository'],
    ['image: nginx\nexpiresAt: "2027-02-30T00:00:00Z"', 'expiresAt', 'ISO-8601'],
    ['image: nginx\nexpiresAt: "2027-01-01"', 'expiresAt', 'ISO-8601'],
    ['image: nginx\nexpiresAt: "2027-01-01T00:00:00"', 'expiresAt', 'ISO-8601'],
    ['image: nginx\nexpiresAt: "soon"', 'expiresAt', 'ISO-8601'],
    ['image: nginx\nclusters: []', 'clusters', 'at least one cluster'],
    ['image: nginx\nnamespaces: ["a b"]', 'namespaces[0]', 'printable'],
    ['image: nginx\ndenyTags: [".hidden"]', 'denyTags[0]', 'is not a tag'],
    ['image: nginx\nrequireDigest: "yes"', 'requireDigest', 'boolean'],
    ['image: nginx\nnamspaces: [payments]', 'namspaces', 'did you mean namespaces'],
    ['image: nginx\nrequire_digest: true', 'require_digest', 'unknown field'],
  ])('%s → %s', (rule, field, message) => {
    // Act
    const issues = issuesOf(withRule(rule));
    // Assess
    expect(issues).toContainEqual({
      path: `rules[1] (id "gcr-mirror").${field}`,
      message: expect.stringContaining(message),
    });
  });

  it('names a rule without image or registry', () => {
    expect(issuesOf(withRule('reason: x'))).toEqual([
      { path: 'rules[1] (id "gcr-mirror")', message: 'needs image or registry' },
    ]);
  });

  it('names a rule by index when its id is missing', () => {
    expect(issuesOf('version: 1\nrules:\n  - image: nginx\n')).toEqual([
      { path: 'rules[0].id', message: 'is required' },
    ]);
  });

  it('refuses duplicate ids even when other rules are broken', () => {
    // Act
    const issues = issuesOf(
      'version: 1\nrules:\n  - id: a\n    image: nginx\n  - id: b\n    registry: "*"\n  - id: a\n    image: redis\n',
    );
    // Assess
    expect(issues).toContainEqual({
      path: 'rules[2] (id "a").id',
      message: 'duplicate id (already used by rules[0])',
    });
    expect(issues.map((i) => i.path)).toContain('rules[1] (id "b").registry');
  });

  it('refuses an unknown or missing version', () => {
    expect(issuesOf('version: 2\nrules: []\n')).toEqual([
      {
        path: 'version',
        message: 'unsupported allowlist version 2; this regwatch reads version 1',
      },
    ]);
    expect(issuesOf('rules: []\n')).toEqual([
      { path: 'version', message: 'is required (version: 1)' },
    ]);
    expect(issuesOf('version: "1"\nrules: []\n')[0]?.path).toBe('version');
  });

  it('refuses unknown top-level keys and bad severities', () => {
    const issues = issuesOf(
      'version: 1\nrule: []\nrules: []\nseverities:\n  mutable-tag: urgent\n  typo-rule: low\n',
    );
    expect(issues.map((i) => i.path).sort()).toEqual([
      'rule',
      'severities.mutable-tag',
      'severities.typo-rule',
    ]);
    expect(issues.find((i) => i.path === 'rule')?.message).toContain('did you mean rules');
  });

  it('validates pull-through cache entries', () => {
    const issues = issuesOf(`version: 1
rules: []
pullThroughCache:
  - prefix: "docker-hub"
    upstream: docker.io
  - prefix: "*.dkr.ecr.us-east-1.amazonaws.com/hub"
    upstream: docker.io
  - prefix: "r.example.com/hub"
    upstream: docker.io
    extra: 1
  - prefix: "R.example.com/hub"
    upstream: docker.io
`);
    expect(issues.map((i) => i.path)).toEqual([
      'pullThroughCache[0].prefix',
      'pullThroughCache[1].prefix',
      'pullThroughCache[2].extra',
      'pullThroughCache[3].prefix',
    ]);
  });

  it('reports YAML syntax errors and duplicate keys with their position', () => {
    // Act
    const duplicate = issuesOf(
      'version: 1\nrules:\n  - id: a\n    image: nginx\n    image: redis\n',
    );
    const broken = issuesOf('version: 1\nrules: [\n');
    // Assess
    expect(duplicate[0]?.path).toMatch(/^line 5, column \d+$/);
    expect(duplicate[0]?.message).toMatch(/unique/i);
    expect(broken.length).toBeGreaterThan(0);
  });

  it('refuses a document that is not a mapping', () => {
    expect(issuesOf('')).toEqual([
      { path: '(root)', message: 'must be a mapping with version and rules' },
    ]);
    expect(issuesOf('- a\n- b\n')[0]?.path).toBe('(root)');
  });

  it('puts the source and the first issues in the message', () => {
    try {
      parseAllowlist(withRule('registry: "*.amazon*.com"'), 'allowlist.yaml');
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toContain('allowlist.yaml is invalid (1 issue)');
      expect((error as Error).message).toContain('rules[1] (id "gcr-mirror").registry');
    }
  });
});

describe('single rules (one DynamoDB item each)', () => {
  it('validates a rule on its own', () => {
    expect(validateRule({ id: 'x', image: 'nginx' })).toEqual({ id: 'x', image: 'nginx' });
    expect(
      allowlistRuleSchema.safeParse({ id: 'x', image: 'nginx', registry: 'a.b' }).success,
    ).toBe(false);
  });

  it('names the field of a bad rule', () => {
    try {
      validateRule({ id: 'x', registry: 'a.*' });
      expect.unreachable();
    } catch (error) {
      expect((error as AllowlistError).issues).toEqual([
        { path: 'registry', message: expect.stringContaining('top-level domain') },
      ]);
      expect((error as Error).message).toContain('rule "x"');
    }
  });
});

describe('image shorthand', () => {
  it.each([
    ['nginx', 'docker.io', 'library/nginx'],
    ['library/nginx', 'docker.io', 'library/nginx'],
    ['docker.io/library/*', 'docker.io', 'library/*'],
    ['index.docker.io/*', 'docker.io', 'library/*'],
    ['bitnami/*', 'docker.io', 'bitnami/*'],
    ['ghcr.io/org/**', 'ghcr.io', 'org/**'],
    ['ghcr.io/org/**/**', 'ghcr.io', 'org/**'],
    ['public.ecr.aws/eks*/**', 'public.ecr.aws', 'eks*/**'],
    ['*.dkr.ecr.*.amazonaws.com/team-*', '*.dkr.ecr.*.amazonaws.com', 'team-*'],
    ['Registry.Corp:5000/x', 'registry.corp:5000', 'x'],
    ['localhost/x', 'localhost', 'x'],
  ])('%s → registry %s, repository %s', (text, registry, repository) => {
    // Act
    const result = expandImageShorthand(text);
    // Assess
    expect(result.ok && result.value.registry.source).toBe(registry);
    expect(result.ok && result.value.repository.source).toBe(repository);
  });
});

/* ---------------------------------------------------------------- round trip */

const label = fc.constantFrom('a', 'reg', 'ecr', 'eu-west-1', '123456789012', 'x9');
const host = fc
  .tuple(
    fc.array(fc.oneof(label, fc.constant('*')), { maxLength: 3 }),
    fc.constantFrom('io', 'com', 'example.com'),
  )
  .map(([labels, tld]) => [...labels, tld].join('.'));
const port = fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined });
const segment = fc.constantFrom('a', 'org', 'team-*', '*', '**', 'x.y', 'a_b', '*-api');
const repository = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/'));
const scopeGlob = fc.constantFrom('prod-*', '*', 'payments', 'kube-system', "a'b", 'x: y', '#1');
const note = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('yes', 'null', '1.0', '- a', 'a: b', '"q"', "it's", '*', '&x', '!tag', '%x'),
);

const ruleArb = (id: string): fc.Arbitrary<AllowlistRule> =>
  fc
    .record(
      {
        form: fc.constantFrom('image', 'explicit'),
        image: fc.constantFrom(
          'nginx',
          'docker.io/library/*',
          'ghcr.io/org/**',
          'quay.io/a/team-*',
        ),
        registry: fc.tuple(host, port).map(([h, p]) => (p ? `${h}:${p}` : h)),
        repository: fc.option(repository, { nil: undefined }),
        clusters: fc.option(fc.array(scopeGlob, { minLength: 1, maxLength: 2 }), {
          nil: undefined,
        }),
        namespaces: fc.option(fc.array(scopeGlob, { minLength: 1, maxLength: 2 }), {
          nil: undefined,
        }),
        requireDigest: fc.option(fc.boolean(), { nil: undefined }),
        denyTags: fc.option(fc.array(fc.constantFrom('latest', 'dev-*', '1.0'), { maxLength: 2 }), {
          nil: undefined,
        }),
        expiresAt: fc.option(
          fc.constantFrom('2027-01-01T00:00:00Z', '2026-12-31T23:59:59.5+01:00'),
          { nil: undefined },
        ),
        reason: fc.option(note, { nil: undefined }),
        owner: fc.option(note, { nil: undefined }),
        ticket: fc.option(note, { nil: undefined }),
      },
      { requiredKeys: ['form', 'image', 'registry'] },
    )
    .map(({ form, image, registry, repository: repo, ...rest }) => {
      const rule: Record<string, unknown> = { id };
      if (form === 'image') rule.image = image;
      else {
        rule.registry = registry;
        if (repo !== undefined) rule.repository = repo;
      }
      for (const [key, value] of Object.entries(rest)) if (value !== undefined) rule[key] = value;
      return rule as AllowlistRule;
    });

const documentArb: fc.Arbitrary<AllowlistDocument> = fc
  .record(
    {
      rules: fc
        .integer({ min: 0, max: 6 })
        .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => ruleArb(`rule-${i}`)))),
      severities: fc.option(
        fc.record(
          {
            'mutable-tag': fc.constantFrom('low', 'high'),
            'untrusted-source': fc.constant('critical'),
          },
          { requiredKeys: [] },
        ),
        { nil: undefined },
      ),
      pullThroughCache: fc.option(
        fc.constant([{ prefix: 'r.example.com/docker-hub', upstream: 'docker.io' }]),
        { nil: undefined },
      ),
    },
    { requiredKeys: ['rules'] },
  )
  .map((d) => ({ version: 1 as const, ...d }) as AllowlistDocument);

describe('serializeAllowlist', () => {
  it('round-trips: parse(serialize(doc)) equals doc', () => {
    fc.assert(
      fc.property(documentArb, (generated) => {
        // Prepare: only documents that validate (e.g. docker.io single-segment rules do not).
        let doc: AllowlistDocument;
        try {
          doc = validateAllowlist(generated);
        } catch {
          return;
        }
        // Act
        const text = serializeAllowlist(doc);
        // Assess
        expect(parseAllowlist(text)).toEqual(doc);
        expect(serializeAllowlist(parseAllowlist(text))).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('writes keys in a stable order whatever the input order', () => {
    // Prepare
    const doc = validateAllowlist({
      rules: [{ ticket: 'T-1', denyTags: ['latest'], image: 'nginx', id: 'r' }],
      version: 1,
    });
    // Act
    const text = serializeAllowlist(doc);
    // Assess
    expect(text).toBe(
      'version: 1\nrules:\n  - id: r\n    image: nginx\n    denyTags:\n      - latest\n    ticket: T-1\n',
    );
  });
});
