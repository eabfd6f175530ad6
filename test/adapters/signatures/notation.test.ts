/**
 * The Notation JWS envelope verifier against real envelopes from notaryproject/notation-go's
 * test data (byte-exact) and envelopes made with the fixed test chain: integrity, the
 * code-signing chain requirements, trust stores by signing scheme, expiry.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyJwsEnvelope } from '../../../lambdas/adapters/signatures/notation.ts';
import { parsePemCertificates } from '../../../lambdas/adapters/signatures/x509-chain.ts';
import { certPem, NOTATION_FIXTURES, notationEnvelope } from '../../helpers/notation.ts';

const real = (file: string) => readFileSync(path.join(NOTATION_FIXTURES, 'notation-go', file));
const NOW = new Date('2026-12-01T12:00:00Z');
// The image the notation-go mock envelopes sign (their payload's targetArtifact).
const MOCK_TARGET = {
  digest: 'sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e',
  mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
  size: 528,
};
const notationTestRoot = parsePemCertificates(real('NotationTestRoot.pem').toString());
const ca = { certificates: notationTestRoot, storeType: 'ca' as const };
const sa = { certificates: notationTestRoot, storeType: 'signingAuthority' as const };

const TARGET = {
  digest: `sha256:${'a'.repeat(64)}`,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  size: 512,
};
const testRoot = { certificates: parsePemCertificates(certPem('root')), storeType: 'ca' as const };
// Valid from the moment make-certs.sh ran until 2126: "now" for these is after that.
const LATER = new Date('2030-01-01T00:00:00Z');
const SIGNED = new Date('2029-12-31T00:00:00Z');

describe('real notation-go envelopes', () => {
  it('a notary.x509 envelope (leaf → Notation Test Root, PS384) verifies byte-exact', () => {
    const result = verifyJwsEnvelope(real('ca_valid_sig_env.json'), MOCK_TARGET, ca, NOW);
    expect(result).toMatchObject({ ok: true, header: { scheme: 'notary.x509', alg: 'PS384' } });
    expect(result.ok && result.leaf.subject?.get('CN')).toBe('Notation Test Root');
  });

  it('a signingAuthority envelope verifies only against a signingAuthority trust store', () => {
    expect(verifyJwsEnvelope(real('sa_valid_sig_env.json'), MOCK_TARGET, sa, NOW).ok).toBe(true);
    expect(verifyJwsEnvelope(real('sa_valid_sig_env.json'), MOCK_TARGET, ca, NOW)).toEqual({
      ok: false,
      error: expect.stringContaining('needs a signingAuthority trust store'),
    });
    // …and a CA-issued notary.x509 signature cannot pass for a signing authority's.
    expect(verifyJwsEnvelope(real('ca_valid_sig_env.json'), MOCK_TARGET, sa, NOW).ok).toBe(false);
  });

  it('a corrupted signature, a passed expiry and unknown critical headers are refused', () => {
    expect(verifyJwsEnvelope(real('ca_invalid_sig_env.json'), MOCK_TARGET, ca, NOW)).toEqual({
      ok: false,
      // Upstream's corruption: the payload carries base64 padding, which base64url forbids.
      error: 'protected, payload or signature is missing or not base64url',
    });
    expect(verifyJwsEnvelope(real('ca_expired_sig_env.json'), MOCK_TARGET, ca, NOW)).toEqual({
      ok: false,
      error: 'the signature expired at 2022-07-29T23:59:00.000Z',
    });
    expect(verifyJwsEnvelope(real('sa_expired_sig_env.json'), MOCK_TARGET, sa, NOW).ok).toBe(false);
    expect(verifyJwsEnvelope(real('ca_plugin_sig_env.json'), MOCK_TARGET, ca, NOW)).toEqual({
      ok: false,
      error: 'unknown critical header SomeKey',
    });
  });

  it('the envelope must name exactly the manifest: digest, media type and size', () => {
    const env = real('ca_valid_sig_env.json');
    const other = { ...MOCK_TARGET, digest: `sha256:${'0'.repeat(64)}` };
    expect(verifyJwsEnvelope(env, other, ca, NOW)).toEqual({
      ok: false,
      error: `payload signs ${MOCK_TARGET.digest}, not ${other.digest}`,
    });
    const oci = { ...MOCK_TARGET, mediaType: 'application/vnd.oci.image.manifest.v1+json' };
    expect(verifyJwsEnvelope(env, oci, ca, NOW).ok).toBe(false);
    expect(verifyJwsEnvelope(env, { ...MOCK_TARGET, size: 529 }, ca, NOW).ok).toBe(false);
  });

  it('a trust store without the chain’s certificates is refused', () => {
    const result = verifyJwsEnvelope(real('ca_valid_sig_env.json'), MOCK_TARGET, testRoot, NOW);
    expect(result).toEqual({
      ok: false,
      error: expect.stringContaining('does not lead to a certificate the entry trusts'),
    });
  });
});

describe('envelopes made with the test chain', () => {
  const verifyWith = (options: Parameters<typeof notationEnvelope>[1], trust = testRoot) =>
    verifyJwsEnvelope(
      notationEnvelope(TARGET, { signingTime: SIGNED, ...options }),
      TARGET,
      trust,
      LATER,
    );

  it('ECDSA P-256 and RSA-3072 (PS384) leaves verify through the intermediate', () => {
    expect(verifyWith({})).toMatchObject({ ok: true, header: { alg: 'ES256' } });
    expect(verifyWith({ chain: ['leaf-rsa', 'intermediate', 'root'] })).toMatchObject({
      ok: true,
      header: { alg: 'PS384' },
    });
  });

  it('integrity: tampered payload, substituted alg, missing cty / crit / scheme', () => {
    expect(verifyWith({ tamper: true })).toMatchObject({
      ok: false,
      error: expect.stringContaining('does not verify'),
    });
    expect(verifyWith({ header: { alg: 'ES384' } })).toMatchObject({ ok: false });
    expect(verifyWith({ header: { alg: 'none' } })).toMatchObject({
      ok: false,
      error: expect.stringContaining('alg "none"'),
    });
    expect(verifyWith({ header: { cty: 'application/json' } })).toMatchObject({
      ok: false,
      error: expect.stringContaining('cty'),
    });
    expect(verifyWith({ header: { crit: undefined } })).toMatchObject({
      ok: false,
      error: 'crit is missing or not a list',
    });
    expect(
      verifyWith({ crit: ['io.cncf.notary.expiry'], expiry: new Date('2031-01-01T00:00:00Z') }),
    ).toMatchObject({
      ok: false,
      error: 'crit does not list io.cncf.notary.signingScheme',
    });
    expect(
      verifyWith({ header: { 'io.cncf.notary.signingScheme': 'notary.x509.v2' } }),
    ).toMatchObject({ ok: false });
  });

  it('an unknown critical header fails; an unknown non-critical one is ignored', () => {
    expect(verifyWith({ extra: { 'com.example.policy': 'x' } })).toEqual({
      ok: false,
      error: 'unknown critical header com.example.policy',
    });
    expect(
      verifyWith({ extra: { 'com.example.note': 'x' }, crit: ['io.cncf.notary.signingScheme'] }).ok,
    ).toBe(true);
    expect(
      verifyWith({ extra: { 'io.cncf.notary.verificationPlugin': 'com.example.plugin' } }),
    ).toEqual({
      ok: false,
      error: expect.stringContaining(
        'requires the Notation verification plugin "com.example.plugin"',
      ),
    });
  });

  it('chain requirements: EKU, critical keyUsage, order, a root at the end, path length', () => {
    expect(verifyWith({ chain: ['leaf-serverauth', 'intermediate', 'root'] })).toMatchObject({
      ok: false,
      error: expect.stringContaining('extendedKeyUsage serverAuth is not for code signing'),
    });
    expect(verifyWith({ chain: ['leaf-noncritical-ku', 'intermediate', 'root'] })).toMatchObject({
      ok: false,
      error: expect.stringContaining('keyUsage must be critical'),
    });
    expect(verifyWith({ chain: ['leaf', 'intermediate'] })).toMatchObject({
      ok: false,
      error: expect.stringContaining('must end with a self-signed root'),
    });
    expect(verifyWith({ chain: ['leaf', 'root', 'intermediate'] })).toMatchObject({ ok: false });
    expect(verifyWith({ chain: ['leaf', 'intermediate', 'root', 'root'] })).toMatchObject({
      ok: false,
    });
    // The intermediate (a CA) cannot sign as a leaf.
    expect(verifyWith({ chain: ['intermediate', 'root'] })).toMatchObject({
      ok: false,
      error: expect.stringContaining('is a CA'),
    });
    // pathlen:0 on the intermediate: a CA under it breaks the constraint.
    expect(verifyWith({ chain: ['leaf', 'intermediate', 'intermediate', 'root'] })).toMatchObject({
      ok: false,
    });
  });

  it('validity: an expired certificate, a signing time outside the validity, expiry', () => {
    expect(
      verifyJwsEnvelope(
        notationEnvelope(TARGET, {
          chain: ['leaf-expired', 'intermediate', 'root'],
          signingTime: new Date('2020-06-01T00:00:00Z'),
        }),
        TARGET,
        testRoot,
        LATER,
      ),
    ).toMatchObject({ ok: false, error: expect.stringContaining('CN=expired is not valid at') });
    expect(verifyWith({ signingTime: new Date('2001-01-01T00:00:00Z') })).toMatchObject({
      ok: false,
      error: expect.stringContaining('is not valid at signing time 2001-01-01T00:00:00.000Z'),
    });
    expect(verifyWith({ expiry: new Date('2029-12-31T12:00:00Z') })).toMatchObject({
      ok: false,
      error: 'the signature expired at 2029-12-31T12:00:00.000Z',
    });
    expect(verifyWith({ expiry: new Date('2031-01-01T00:00:00Z') }).ok).toBe(true);
    // An expiry must be critical.
    expect(
      verifyWith({
        expiry: new Date('2031-01-01T00:00:00Z'),
        crit: ['io.cncf.notary.signingScheme'],
      }),
    ).toMatchObject({
      ok: false,
      error: 'io.cncf.notary.expiry is not critical',
    });
  });

  it('an untrusted root with the trusted leaf’s subject is refused', () => {
    expect(verifyWith({ chain: ['other-leaf', 'other-root'] })).toMatchObject({
      ok: false,
      error: expect.stringContaining('does not lead to a certificate the entry trusts'),
    });
  });

  it('hostile envelopes: not JSON, general serialization, bad base64, huge x5c', () => {
    const ok = JSON.parse(notationEnvelope(TARGET, { signingTime: SIGNED }).toString()) as Record<
      string,
      unknown
    >;
    const v = (o: unknown) =>
      verifyJwsEnvelope(
        Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)),
        TARGET,
        testRoot,
        LATER,
      );
    expect(v('{')).toEqual({ ok: false, error: 'the JWS envelope is not JSON' });
    expect(v([ok])).toMatchObject({ ok: false });
    expect(v({ ...ok, signatures: [] })).toMatchObject({
      ok: false,
      error: expect.stringContaining('flattened'),
    });
    expect(v({ ...ok, signature: 'a+b/' })).toMatchObject({ ok: false });
    expect(v({ ...ok, header: { x5c: Array(11).fill('AAAA') } })).toMatchObject({
      ok: false,
      error: expect.stringContaining('1 to 10'),
    });
    expect(v({ ...ok, header: { x5c: ['bm90IGEgY2VydA=='] } })).toMatchObject({
      ok: false,
      error: expect.stringContaining('certificate chain: not a DER X.509 certificate'),
    });
    expect(v({ ...ok, header: {} })).toMatchObject({ ok: false });
  });
});
