import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type AllowlistDocument,
  compileAllowlist,
  parseAllowlist,
  serializeAllowlist,
  validateAllowlist,
} from '../../../lambdas/core/allowlist/index.ts';
import { AllowlistError } from '../../../lambdas/core/errors.ts';
import { checkSimpleSigningPayload } from '../../../lambdas/core/signatures/payload.ts';
import { compileIdentityGlob } from '../../../lambdas/core/signatures/schema.ts';
import {
  combineOutcomes,
  type SignatureVerdict,
} from '../../../lambdas/core/signatures/verdict.ts';

const pem = (type: 'ec' | 'ed25519' | 'rsa', opts: object = {}) =>
  generateKeyPairSync(type as 'ec', opts as { namedCurve: string })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString();

const P256 = pem('ec', { namedCurve: 'P-256' });
const DIGEST = `sha256:${'a'.repeat(64)}`;
const NOW = new Date('2026-12-01T00:00:00Z');

function issues(doc: unknown): string[] {
  try {
    validateAllowlist(doc);
  } catch (error) {
    expect(error).toBeInstanceOf(AllowlistError);
    return (error as AllowlistError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected the allowlist to be refused');
}

const signedDoc = (extra: object = {}): AllowlistDocument => ({
  version: 1,
  rules: [
    {
      id: 'company',
      registry: 'registry.example.com',
      repository: 'apps/**',
      requireSignature: [{ cosign: { publicKeys: [P256] } }],
      ...extra,
    },
  ],
});

describe('requireSignature schema', () => {
  it('accepts every documented entry kind and key type', () => {
    // Prepare
    const doc = {
      version: 1,
      rules: [
        {
          id: 'r',
          registry: 'ghcr.io',
          requireSignature: [
            {
              cosign: {
                publicKeys: [
                  P256,
                  pem('ec', { namedCurve: 'P-384' }),
                  pem('ed25519'),
                  pem('rsa', { modulusLength: 2048 }),
                ],
              },
            },
            {
              keyless: {
                issuer: 'https://token.actions.githubusercontent.com',
                subject: 'https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*',
              },
            },
            {
              awsSigner: {
                profileArns: ['arn:aws:signer:eu-central-1:123456789012:/signing-profiles/release'],
              },
            },
          ],
        },
      ],
    };
    // Act
    const valid = validateAllowlist(doc);
    // Assess
    expect(valid.rules[0]?.requireSignature).toHaveLength(3);
  });

  it('refuses bad keys, mixed entries, bad ARNs and wildcard identities, naming the field', () => {
    // Prepare
    const doc = {
      version: 1,
      rules: [
        {
          id: 'bad',
          registry: 'ghcr.io',
          requireSignature: [
            { cosign: { publicKeys: ['not a key'] } },
            { cosign: { publicKeys: [pem('rsa', { modulusLength: 1024 })] } },
            { cosign: { publicKeys: [P256] }, keyless: { issuer: 'https://x', subject: 'y' } },
            { awsSigner: { profileArns: ['arn:aws:iam::123456789012:role/x'] } },
            { keyless: { issuer: 'https://token.actions.githubusercontent.com', subject: '**' } },
            { keyless: { issuer: 'http://insecure', subject: 'a' } },
            { cosgin: {} },
          ],
        },
      ],
    };
    // Act
    const found = issues(doc);
    // Assess
    const at = (i: number) => `rules[0] (id "bad").requireSignature[${i}]`;
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`${at(0)}.cosign.publicKeys[0]: must be a PEM`),
        expect.stringContaining(`${at(1)}.cosign.publicKeys[0]: RSA keys must have at least 2048`),
        expect.stringContaining(`${at(2)}: each entry is exactly one of`),
        expect.stringContaining(`${at(3)}.awsSigner.profileArns[0]: must be a signing profile ARN`),
        expect.stringContaining(`${at(4)}.keyless.subject: must name an identity`),
        expect.stringContaining(`${at(5)}.keyless.issuer: must be the exact https://`),
        expect.stringContaining(`${at(6)}.cosgin: unknown field`),
      ]),
    );
  });

  it('refuses an empty list: an empty requirement would read as "no signature needed"', () => {
    expect(issues(signedDoc({ requireSignature: [] }))).toEqual([
      expect.stringContaining('must list at least one entry'),
    ]);
  });

  it('round-trips through YAML export and import, PEM blocks included', () => {
    const doc = validateAllowlist({
      ...signedDoc(),
      rules: [
        {
          ...signedDoc().rules[0],
          requireSignature: [
            { cosign: { publicKeys: [P256] } },
            { keyless: { issuer: 'https://accounts.google.com', subject: 'release@acme.example' } },
          ],
        },
      ],
    });
    const again = parseAllowlist(serializeAllowlist(doc), 'export.yaml');
    expect(again).toEqual(doc);
    expect(compileAllowlist(again).version).toBe(compileAllowlist(doc).version);
  });

  it('changes the allowlist version when a key changes', () => {
    const a = compileAllowlist(signedDoc());
    const b = compileAllowlist(
      signedDoc({ requireSignature: [{ cosign: { publicKeys: [pem('ed25519')] } }] }),
    );
    expect(a.version).not.toBe(b.version);
  });
});

describe('deciding with signature verdicts', () => {
  const image = `registry.example.com/apps/api@${DIGEST}`;

  it('fails closed without verdicts, and lists the check to run', () => {
    // Act
    const decision = compileAllowlist(signedDoc()).decide(image, {}, NOW);
    // Assess
    expect(decision.allowed).toBe(false);
    expect(decision.matchedRule).toBe('company');
    expect(decision.violations).toEqual([
      expect.objectContaining({ rule: 'unsigned-image', severity: 'high' }),
    ]);
    expect(decision.violations[0]?.message).toContain('not verified');
    expect(decision.signatureChecks).toEqual([
      expect.objectContaining({
        ruleId: 'company',
        judged: expect.objectContaining({ digest: DIGEST }),
      }),
    ]);
  });

  it('allows on a verified verdict and carries it', () => {
    // Prepare
    const verdict: SignatureVerdict = { status: 'verified', digest: DIGEST, entry: 0, signer: 'k' };
    // Act
    const decision = compileAllowlist(signedDoc()).decide(image, {}, NOW, () => verdict);
    // Assess
    expect(decision.allowed).toBe(true);
    expect(decision.violations).toEqual([]);
    expect(decision.signature).toEqual(verdict);
  });

  it('maps unsigned and invalid verdicts to their violations and severities', () => {
    // Prepare
    const allowlist = compileAllowlist({
      ...signedDoc(),
      severities: { 'signature-invalid': 'critical' },
    });
    // Act
    const unsigned = allowlist.decide(image, {}, NOW, () => ({
      status: 'unsigned',
      digest: DIGEST,
      reason: 'no signature found',
    }));
    const invalid = allowlist.decide(image, {}, NOW, () => ({
      status: 'invalid',
      digest: DIGEST,
      reason: 'payload signs sha256:bbbb…',
    }));
    // Assess
    expect(unsigned.violations).toEqual([
      expect.objectContaining({ rule: 'unsigned-image', severity: 'high' }),
    ]);
    expect(unsigned.violations[0]?.message).toContain('no signature found');
    expect(invalid.violations).toEqual([
      expect.objectContaining({ rule: 'signature-invalid', severity: 'critical' }),
    ]);
  });

  it('checks other constraints first: an unpinned image needs no verification', () => {
    const decision = compileAllowlist(signedDoc({ requireDigest: true })).decide(
      'registry.example.com/apps/api:1.0',
      {},
      NOW,
    );
    expect(decision.violations.map((v) => v.rule)).toEqual(['unpinned-image']);
    expect(decision.signatureChecks).toBeUndefined();
  });

  it('lets a less specific rule without a signature requirement allow (rules only widen)', () => {
    // Prepare
    const doc = signedDoc();
    doc.rules.push({ id: 'anything', registry: 'registry.example.com', repository: '**' });
    // Act
    const decision = compileAllowlist(doc).decide(image, {}, NOW, () => ({
      status: 'unsigned',
      digest: DIGEST,
      reason: 'none',
    }));
    // Assess
    expect(decision).toMatchObject({ allowed: true, matchedRule: 'anything' });
    expect(decision.signatureChecks).toHaveLength(1);
  });

  it('does not consult verdicts for images no signed rule covers', () => {
    let asked = 0;
    const decision = compileAllowlist(signedDoc()).decide('nginx', {}, NOW, () => {
      asked++;
      return undefined;
    });
    expect(decision.violations.map((v) => v.rule)).toEqual(['untrusted-source']);
    expect(asked).toBe(0);
  });
});

describe('combining entry outcomes', () => {
  it('any verified entry wins; a rejected one beats absent ones', () => {
    expect(
      combineOutcomes(DIGEST, [
        { status: 'rejected', reason: 'bad' },
        { status: 'verified', signer: 'key 1' },
      ]),
    ).toEqual({ status: 'verified', digest: DIGEST, entry: 1, signer: 'key 1' });
    expect(
      combineOutcomes(DIGEST, [
        { status: 'absent', reason: 'no .sig tag' },
        { status: 'rejected', reason: 'wrong key' },
      ]),
    ).toEqual({ status: 'invalid', digest: DIGEST, reason: 'wrong key' });
    expect(combineOutcomes(DIGEST, [{ status: 'absent', reason: 'no .sig tag' }])).toEqual({
      status: 'unsigned',
      digest: DIGEST,
      reason: 'no .sig tag',
    });
  });
});

describe('simple signing payload', () => {
  const payload = (digest: string, type = 'cosign container image signature') =>
    new TextEncoder().encode(
      JSON.stringify({
        critical: {
          identity: { 'docker-reference': 'registry.example.com/apps/api' },
          image: { 'docker-manifest-digest': digest },
          type,
        },
        optional: null,
      }),
    );

  it('accepts the signed digest and refuses another digest, type or garbage', () => {
    expect(checkSimpleSigningPayload(payload(DIGEST), DIGEST)).toMatchObject({ ok: true });
    expect(checkSimpleSigningPayload(payload(`sha256:${'b'.repeat(64)}`), DIGEST)).toEqual({
      ok: false,
      error: expect.stringContaining('payload signs sha256:bbbb'),
    });
    expect(
      checkSimpleSigningPayload(payload(DIGEST, 'atomic container signature'), DIGEST),
    ).toMatchObject({
      ok: false,
    });
    expect(checkSimpleSigningPayload(new Uint8Array([0xff, 0xfe]), DIGEST)).toMatchObject({
      ok: false,
    });
  });
});

describe('identity globs', () => {
  it('keeps * inside one path segment and ** across', () => {
    const glob = compileIdentityGlob(
      'https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*',
    );
    expect(
      glob.test('https://github.com/acme/api/.github/workflows/release.yml@refs/tags/v1'),
    ).toBe(true);
    expect(
      glob.test('https://github.com/acme/a/b/.github/workflows/release.yml@refs/tags/v1'),
    ).toBe(false);
    expect(
      glob.test('https://github.com/acmeX/api/.github/workflows/release.yml@refs/tags/v1'),
    ).toBe(false);
    expect(
      compileIdentityGlob('https://github.com/acme/**').test('https://github.com/acme/a/b'),
    ).toBe(true);
    expect(compileIdentityGlob('a.b').test('aXb')).toBe(false);
  });
});
