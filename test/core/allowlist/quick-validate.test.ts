/**
 * Quick acceptance against the zod schema it stands in for: whenever it returns a document,
 * `validateAllowlist` accepts the same value and returns an equal document (same keys in the
 * same order); for the allowlists people write it does return one.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  acceptAllowlist,
  DOCUMENT_KEYS,
  RULE_SHAPE,
} from '../../../lambdas/core/allowlist/quick-validate.ts';
import {
  allowlistDocumentSchema,
  allowlistRuleSchema,
  validateAllowlist,
} from '../../../lambdas/core/allowlist/schema.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');

/** The schema's answer as text (the document, or that it refused), for comparing. */
function schema(value: unknown): string | null {
  try {
    return JSON.stringify(validateAllowlist(value, 'test'));
  } catch {
    return null;
  }
}

/** The property: a document from quick acceptance is the schema's document. */
function agrees(value: unknown): boolean {
  const quick = acceptAllowlist(structuredClone(value));
  if (quick === undefined) return true;
  return schema(structuredClone(value)) === JSON.stringify(quick);
}

const PEM = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWBtVtaRUdt/kRu2p0YwKyoDNdsGu
3UeqAD9YCNfWQGUrThAG59WNNtIfB9hspyuIUEnPUfZiIM3rq7FMn2BZ+A==
-----END PUBLIC KEY-----`;
const DIGEST = `sha256:${'a'.repeat(64)}`;
const BAD = [null, 7, true, {}, [], ''];

const FIELDS: Record<string, readonly unknown[]> = {
  id: ['a', 'company-ecr', 'x:y.z_1', '-a', 'a'.repeat(128), 'a'.repeat(129), 'a b', ...BAD],
  image: [
    'nginx',
    'docker.io/library/*',
    'public.ecr.aws/eks*/**',
    'quay.io/prometheus/*',
    'Upper/Case',
    '**',
    'index.docker.io/x',
    'docker.io/nginx',
    ...BAD,
  ],
  effect: ['allow', 'deny', 'Deny', ...BAD],
  registry: [
    'docker.io',
    'index.docker.io',
    'gcr.io',
    '**.gcr.io',
    '*.amazon*.com',
    '444455556666.dkr.ecr.*.amazonaws.com',
    'registry.k8s.io',
    ...BAD,
  ],
  repository: ['**', 'library/*', 'x', 'a/b', 'UP', 'a//b', ...BAD],
  clusters: [
    [],
    ['!prod-*'],
    ['*', '!prod-*'],
    ['*'],
    ['prod-*'],
    ['*-dev-*', '*-staging-*'],
    ['a', 'a'],
    ['*', 'x'],
    ['**'],
    [1],
    'x',
    ...BAD,
  ],
  namespaces: [[], ['!kube-*'], ['payments'], ['kube-*'], ['a', 'a'], ['A'], ...BAD],
  tags: [[], ['!x'], ['latest'], ['1.*'], ['a', 'a'], ['x y'], [2], ...BAD],
  digests: [[], [DIGEST], ['sha256:abc'], [DIGEST, DIGEST], ...BAD],
  requireDigest: [true, false, 'true', 1, null],
  denyTags: [[], ['latest'], ['latest', 'master'], ['*'], ['a b'], [null], 'latest'],
  severity: ['high', 'low', 'critical', 'medium', 'HIGH', ...BAD],
  expiresAt: ['2027-01-01T00:00:00Z', '2026-03-31T23:59:59+02:00', '2027-01-01', 'x', ...BAD],
  reason: ['x', 'a'.repeat(2000), 'a'.repeat(2001), ...BAD],
  owner: ['platform-team', 5],
  ticket: ['SEC-1', null],
  requireSignature: [[{ cosign: { publicKeys: [PEM] } }]],
  imag: ['x'],
};

const rule = fc.record(
  Object.fromEntries(Object.entries(FIELDS).map(([k, v]) => [k, fc.constantFrom(...v)])),
  { requiredKeys: [], noNullPrototype: true },
);
const quietRule = fc.record(
  {
    id: fc.constantFrom('a', 'b', 'company-ecr', 'c'),
    image: fc.constantFrom('nginx', 'docker.io/library/*', 'quay.io/prometheus/*'),
    denyTags: fc.constantFrom(['latest'], []),
    owner: fc.constantFrom('team'),
    clusters: fc.constantFrom(['prod-*'], ['*']),
  },
  { requiredKeys: ['id', 'image'], noNullPrototype: true },
);
/** A valid rule naming registry and repository instead of an image. */
const quietHostRule = fc.record(
  {
    id: fc.constantFrom('a', 'b'),
    registry: fc.constantFrom('gcr.io', '444455556666.dkr.ecr.*.amazonaws.com', 'registry.k8s.io'),
    repository: fc.constantFrom('**', 'team/*'),
    tags: fc.constantFrom(['1.*'], ['v1', 'v2']),
  },
  { requiredKeys: ['id', 'registry'], noNullPrototype: true },
);
const cacheEntry = fc.record(
  {
    prefix: fc.constantFrom(
      '444455556666.dkr.ecr.eu-central-1.amazonaws.com/docker-hub',
      'a.b/c',
      'x',
      'https://a.b/c',
      'a.b/c/',
      7,
    ),
    upstream: fc.constantFrom('docker.io', 'quay.io', 'Quay.io/x//y', '', null),
    extra: fc.constantFrom('x'),
  },
  { requiredKeys: ['prefix', 'upstream'], noNullPrototype: true },
);
const document = (rules: fc.Arbitrary<unknown>) =>
  fc.record(
    {
      version: fc.constantFrom(1, 1, 1, 2, '1', null),
      severities: fc.constantFrom(
        {},
        { 'mutable-tag': 'high' },
        { 'untrusted-source': 'low', 'mutable-tag': 'medium' },
        { 'mutable-tag': 'x' },
        { foo: 'high' },
        [],
        null,
      ),
      rules: fc.oneof(fc.array(rules, { maxLength: 4 }), fc.constantFrom(null, {}, 'x')),
      pullThroughCache: fc.oneof(fc.array(cacheEntry, { maxLength: 3 }), fc.constantFrom(null, {})),
      polices: fc.constantFrom([]),
    },
    { requiredKeys: ['rules'], noNullPrototype: true },
  );

describe('acceptAllowlist', () => {
  it('judges the schema’s fields in the schema’s order (requireSignature aside)', () => {
    expect(Object.keys(allowlistDocumentSchema.def.shape)).toEqual([...DOCUMENT_KEYS]);
    expect(
      Object.keys(allowlistRuleSchema.def.shape).filter((k) => k !== 'requireSignature'),
    ).toEqual([...RULE_SHAPE]);
  });

  it.each([
    'examples/allowlist.yaml',
    'test/fixtures/local/allowlist.yaml',
    'test/peers/kyverno/other-vpol-allowed-image-repos/allowlist.yaml',
  ])('%s: the schema’s document', (file) => {
    // Prepare
    const value = parse(readFileSync(path.join(ROOT, file), 'utf8'));
    // Act
    const quick = acceptAllowlist(structuredClone(value));
    // Assess
    expect(quick).toBeDefined();
    expect(JSON.stringify(quick)).toBe(schema(value));
    expect(quick).toEqual(validateAllowlist(value));
  });

  it('returns keys in the schema’s order, in fresh objects', () => {
    const value = {
      rules: [{ owner: 'x', denyTags: ['latest'], image: 'nginx', id: 'a' }],
      pullThroughCache: [{ upstream: 'docker.io', prefix: 'a.b/c' }],
      severities: { 'mutable-tag': 'high', 'untrusted-source': 'low' },
      version: 1,
    };
    const quick = acceptAllowlist(value);
    expect(JSON.stringify(quick)).toBe(schema(value));
    expect(quick?.rules[0]).not.toBe(value.rules[0]);
  });

  it.each([
    [
      'a signature requirement (keys are the schema’s to judge)',
      {
        version: 1,
        rules: [{ id: 'a', image: 'x', requireSignature: [{ cosign: { publicKeys: [PEM] } }] }],
      },
    ],
    ['an unknown field', { version: 1, rules: [{ id: 'a', image: 'x', imag: 'y' }] }],
    ['an undefined field', { version: 1, rules: [{ id: 'a', image: 'x', owner: undefined }] }],
    ['a holey list', { version: 1, rules: [{ id: 'a', image: 'x', denyTags: new Array(2) }] }],
    [
      'a duplicate id',
      {
        version: 1,
        rules: [
          { id: 'a', image: 'x' },
          { id: 'a', image: 'y' },
        ],
      },
    ],
    [
      'an object that is not plain',
      { version: 1, rules: [Object.assign(Object.create({ image: 'x' }), { id: 'a' })] },
    ],
    ['version 2', { version: 2, rules: [] }],
  ])('declines %s', (_what, value) => {
    expect(acceptAllowlist(value)).toBeUndefined();
  });

  it('a document only where the schema returns the same document (one field changed)', () => {
    const base = fc
      .array(fc.oneof(quietRule, quietHostRule), { minLength: 1, maxLength: 3 })
      .map((rules) => rules.map((r, i) => ({ ...r, id: `r${i}` })));
    // One field of one rule set to a value from its pool (or removed), the rest left valid:
    // so each check decides some documents on its own.
    const ruleEdit = fc.tuple(
      fc.nat(),
      fc.constantFrom(...Object.keys(FIELDS)),
      fc.nat(),
      fc.nat(4).map((n) => n === 0),
    );
    const documentEdit = fc.record(
      {
        version: fc.constantFrom(1, 2, '1', null),
        severities: fc.constantFrom(
          { 'mutable-tag': 'high' },
          { 'mutable-tag': 'x' },
          { foo: 'high' },
          [],
          null,
        ),
        pullThroughCache: fc.array(cacheEntry, { maxLength: 2 }),
      },
      { requiredKeys: [], noNullPrototype: true },
    );
    fc.assert(
      fc.property(
        base,
        fc.array(ruleEdit, { minLength: 1, maxLength: 1 }),
        documentEdit,
        (rules, edits, top) => {
          for (const [at, field, pick, remove] of edits) {
            const r = rules[at % rules.length] as Record<string, unknown>;
            const pool = FIELDS[field] ?? [];
            if (remove) delete r[field];
            else r[field] = pool[pick % pool.length];
          }
          // Half of the runs change a top-level field too.
          const document =
            edits[0]?.[0] !== undefined && edits[0][0] % 2 === 0
              ? { version: 1, ...top, rules }
              : { version: 1, rules };
          expect(agrees(document)).toBe(true);
        },
      ),
      { numRuns: 6000 },
    );
  });

  it('a document only where the schema returns the same document (generated documents)', () => {
    fc.assert(
      fc.property(document(fc.oneof(rule, quietRule)), (value) => {
        expect(agrees(value)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('accepts what the schema accepts, signatures aside (the quick path is not empty by accident)', () => {
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.record(
          { version: fc.constant(1), rules: fc.array(quietRule, { maxLength: 4 }) },
          { noNullPrototype: true },
        ),
        (value) => {
          if (schema(value) !== null) {
            expect(acceptAllowlist(value)).toBeDefined();
            accepted++;
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(accepted).toBeGreaterThan(100);
  });
});
