/**
 * Hostile Notation envelopes: random bytes never throw past the parsers (a reason, not a
 * crash), and no change to what a signature covers ever verifies. For JWS that is any change
 * to `protected`, `payload` or `signature`; for COSE any byte flip that changes the protected
 * header, the payload or the signature (flips in the unprotected header are unsigned by design
 * and may verify only if the chain still does).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  verifyCoseEnvelope,
  verifyJwsEnvelope,
} from '../../lambdas/adapters/signatures/notation.ts';
import { parsePemCertificates } from '../../lambdas/adapters/signatures/x509-chain.ts';
import { CborError, type CborValue, decodeCbor } from '../../lambdas/core/signatures/cbor.ts';
import { certPem, notationCoseEnvelope, notationEnvelope } from '../helpers/notation.ts';

const TARGET = {
  digest: `sha256:${'c'.repeat(64)}`,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  size: 1234,
};
const TRUST = { certificates: parsePemCertificates(certPem('root')), storeType: 'ca' as const };
const SIGNED = new Date('2029-12-31T00:00:00Z');
const LATER = new Date('2030-01-01T00:00:00Z');
const jws = notationEnvelope(TARGET, { signingTime: SIGNED });
const cose = notationCoseEnvelope(TARGET, { signingTime: SIGNED });

describe('random input', () => {
  it('decodeCbor throws only CborError; the envelope verifiers never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodeCbor(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(CborError);
        }
        expect(verifyCoseEnvelope(bytes, TARGET, TRUST, LATER).ok).toBe(false);
        expect(verifyJwsEnvelope(bytes, TARGET, TRUST, LATER).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});

describe('byte flips anywhere', () => {
  it('never throw, for JWS and COSE alike', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.nat(), fc.integer({ min: 1, max: 255 }), (isJws, at, mask) => {
        const bytes = Buffer.from(isJws ? jws : cose);
        const i = at % bytes.byteLength;
        bytes[i] = (bytes[i] as number) ^ mask;
        const verify = isJws ? verifyJwsEnvelope : verifyCoseEnvelope;
        expect(() => verify(bytes, TARGET, TRUST, LATER)).not.toThrow();
      }),
      { numRuns: 1500 },
    );
  });
});

describe('tampering with what is signed', () => {
  it('the untouched envelopes verify (the properties below are not vacuous)', () => {
    expect(verifyJwsEnvelope(jws, TARGET, TRUST, LATER).ok).toBe(true);
    expect(verifyCoseEnvelope(cose, TARGET, TRUST, LATER).ok).toBe(true);
  });

  it('JWS: any change to protected, payload or signature is refused', () => {
    const original = JSON.parse(jws.toString()) as Record<string, string>;
    fc.assert(
      fc.property(
        fc.constantFrom('protected', 'payload', 'signature'),
        fc.nat(),
        fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'),
        (field, at, char) => {
          const value = original[field] ?? '';
          const i = at % value.length;
          fc.pre(value[i] !== char);
          const changed = { ...original, [field]: value.slice(0, i) + char + value.slice(i + 1) };
          const bytes = Buffer.from(JSON.stringify(changed));
          // The last base64url character may carry unused bits: the same bytes decode.
          fc.pre(
            !Buffer.from(changed[field] ?? '', 'base64url').equals(Buffer.from(value, 'base64url')),
          );
          expect(verifyJwsEnvelope(bytes, TARGET, TRUST, LATER).ok).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('COSE: a byte flip that changes a signed part never verifies', () => {
    const parts = (bytes: Uint8Array): CborValue[] | null => {
      try {
        const v = decodeCbor(bytes) as { value?: unknown };
        return Array.isArray(v.value) ? (v.value as CborValue[]) : null;
      } catch {
        return null;
      }
    };
    const [p0, , pay0, sig0] = parts(cose) as [Uint8Array, unknown, Uint8Array, Uint8Array];
    fc.assert(
      fc.property(fc.nat(cose.byteLength - 1), fc.integer({ min: 1, max: 255 }), (at, mask) => {
        const bytes = Buffer.from(cose);
        bytes[at] = (bytes[at] as number) ^ mask;
        const result = verifyCoseEnvelope(bytes, TARGET, TRUST, LATER);
        const p = parts(bytes);
        const same = (a: unknown, b: Uint8Array) =>
          a instanceof Uint8Array && Buffer.from(a).equals(Buffer.from(b));
        const signedIntact = p !== null && same(p[0], p0) && same(p[2], pay0) && same(p[3], sig0);
        if (!signedIntact) expect(result.ok).toBe(false);
      }),
      { numRuns: 1500 },
    );
  });
});
