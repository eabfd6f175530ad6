/**
 * The bounded CBOR decoder behind COSE envelopes, and the COSE-specific refusals of the
 * envelope parser: hostile input is a named error or a clear reason, never a hang or a pass.
 */
import { describe, expect, it } from 'vitest';
import { verifyCoseEnvelope } from '../../../lambdas/adapters/signatures/notation.ts';
import { parsePemCertificates } from '../../../lambdas/adapters/signatures/x509-chain.ts';
import { CborError, decodeCbor, encodeStringArray } from '../../../lambdas/core/signatures/cbor.ts';
import { cbor, certPem, notationCoseEnvelope } from '../../helpers/notation.ts';

const hex = (h: string) => Buffer.from(h.replace(/\s+/g, ''), 'hex');

describe('decodeCbor', () => {
  it('reads the RFC 8949 appendix A examples it supports', () => {
    expect(decodeCbor(hex('00'))).toBe(0);
    expect(decodeCbor(hex('1903e8'))).toBe(1000);
    expect(decodeCbor(hex('3863'))).toBe(-100);
    expect(decodeCbor(hex('1bffffffffffffffff'))).toBe(18446744073709551615n);
    expect(decodeCbor(hex('6449455446'))).toBe('IETF');
    expect(Buffer.from(decodeCbor(hex('4401020304')) as Uint8Array)).toEqual(hex('01020304'));
    expect(decodeCbor(hex('83010203'))).toEqual([1, 2, 3]);
    expect(decodeCbor(hex('a201020304'))).toEqual(
      new Map([
        [1, 2],
        [3, 4],
      ]),
    );
    expect(decodeCbor(hex('c11a514b67b0'))).toEqual({ tag: 1, value: 1363896240 });
    expect(decodeCbor(hex('f93c00'))).toBe(1);
    expect(decodeCbor(hex('f4'))).toBe(false);
  });

  it('refuses indefinite lengths, truncation, trailing bytes, duplicate keys, deep nesting', () => {
    for (const bad of ['5f42010243030405ff', '9f01ff', '4401', '0000', 'a2010201 03', 'a1a0a0']) {
      expect(() => decodeCbor(hex(bad)), bad).toThrow(CborError);
    }
    expect(() => decodeCbor(Buffer.alloc(40, 0x81))).toThrow('nested too deep');
    // A length claiming more than the input has is refused before any allocation.
    expect(() => decodeCbor(hex('5b00000000ffffffff'))).toThrow(CborError);
  });

  it('encodes the Sig_structure array byte for byte', () => {
    expect(
      Buffer.from(encodeStringArray(['Signature1', Uint8Array.of(0xa0), new Uint8Array(0)])),
    ).toEqual(hex('836a5369676e61747572653141a040'));
  });
});

describe('COSE envelope refusals', () => {
  const target = {
    digest: `sha256:${'a'.repeat(64)}`,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    size: 10,
  };
  const trust = { certificates: parsePemCertificates(certPem('root')), storeType: 'ca' as const };
  const later = new Date('2030-01-01T00:00:00Z');
  const check = (bytes: Uint8Array) => verifyCoseEnvelope(bytes, target, trust, later);
  const good = notationCoseEnvelope(target, { signingTime: new Date('2029-12-31T00:00:00Z') });

  it('verifies the helper’s envelope; refuses other tags, detached payloads, missing x5chain', () => {
    expect(check(good).ok).toBe(true);
    const [p, u, payload, s] = (decodeCbor(good) as { value: Uint8Array[] }).value as [
      Uint8Array,
      Map<number | string, never>,
      Uint8Array,
      Uint8Array,
    ];
    expect(check(cbor({ tag: 98, value: [p, u, payload, s] }))).toMatchObject({
      ok: false,
      error: expect.stringContaining('tag 18'),
    });
    expect(check(cbor({ tag: 18, value: [p, u, new Uint8Array(0).subarray(0), s] })).ok).toBe(
      false,
    );
    expect(check(cbor({ tag: 18, value: [p, new Map(), payload, s] }))).toMatchObject({
      ok: false,
      error: 'the COSE envelope has no x5chain',
    });
    expect(check(Buffer.from('{"payload":1}'))).toMatchObject({
      ok: false,
      error: expect.stringContaining('not CBOR'),
    });
  });

  it('a __proto__ parameter stays a parameter (unknown and critical: refused)', () => {
    const proto = notationCoseEnvelope(target, {
      signingTime: new Date('2029-12-31T00:00:00Z'),
      extra: JSON.parse('{"__proto__":"x"}') as Record<string, unknown>,
    });
    expect(check(proto)).toMatchObject({ ok: false, error: 'unknown critical header __proto__' });
  });

  it('refuses a common parameter in crit and a time that is not a tag-1 epoch', () => {
    const critAlg = notationCoseEnvelope(target, {
      signingTime: new Date('2029-12-31T00:00:00Z'),
      crit: ['io.cncf.notary.signingScheme', 1 as unknown as string],
    });
    expect(check(critAlg)).toMatchObject({ ok: false, error: 'crit lists the common parameter 1' });
    const stringTime = notationCoseEnvelope(target, {
      signingTime: new Date('2029-12-31T00:00:00Z'),
      header: { 'io.cncf.notary.signingTime': '2029-12-31T00:00:00Z' },
    });
    expect(check(stringTime)).toMatchObject({
      ok: false,
      error: 'io.cncf.notary.signingTime is not a tag-1 epoch time',
    });
  });
});
