/**
 * Notation signature envelopes, both formats the Notary Project defines, reduced to one shape
 * and verified once: JWS (`application/jose+json`, flattened JSON serialization,
 * signature-envelope-jws.md) and COSE (`application/cose`, COSE_Sign1_Tagged,
 * signature-envelope-cose.md). Verification order follows trust-store-trust-policy.md:
 * integrity (header, algorithm from the signing key, signature, payload naming the manifest),
 * authenticity (chain and trust store by signing scheme), expiry. Identity is the caller's.
 */
import { constants, verify } from 'node:crypto';
import {
  type CborValue,
  decodeCbor,
  encodeStringArray,
  isTag,
} from '../../core/signatures/cbor.ts';
import {
  checkNotationPayload,
  checkProtectedHeader,
  JWS_ALGORITHMS,
  type JwsAlgorithm,
  type NotationHeader,
  type TargetDescriptor,
} from '../../core/signatures/notation.ts';
import {
  type ChainCertificate,
  ChainError,
  chainIsTrusted,
  MAX_CHAIN,
  parseCertificate,
  validateCodeSigningChain,
} from './x509-chain.ts';

export type TrustStoreType = 'ca' | 'signingAuthority';

export interface EnvelopeTrust {
  certificates: readonly ChainCertificate[];
  storeType: TrustStoreType;
  /** Critical headers beyond the Notary Project's own that the caller processes. */
  understood?: ReadonlySet<string>;
}

export type EnvelopeResult =
  | {
      ok: true;
      header: NotationHeader;
      leaf: ChainCertificate;
      chain: ChainCertificate[];
      trustedBy: ChainCertificate;
    }
  | { ok: false; error: string };

/** What either format yields before any check: the bytes signed and what they claim. */
interface ParsedEnvelope {
  /** The protected header as JWS names it (COSE labels and times translated). */
  header: unknown;
  chain: Buffer[];
  signingInput: Buffer;
  signature: Buffer;
  payload: Buffer;
}

type Parsed = { ok: true; envelope: ParsedEnvelope } | { ok: false; error: string };

const B64URL = /^[A-Za-z0-9_-]*$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function base64url(value: unknown): Buffer | null {
  return typeof value === 'string' && B64URL.test(value) ? Buffer.from(value, 'base64url') : null;
}

function parseJws(bytes: Uint8Array): Parsed {
  let envelope: unknown;
  try {
    envelope = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return { ok: false, error: 'the JWS envelope is not JSON' };
  }
  if (envelope === null || typeof envelope !== 'object' || Array.isArray(envelope)) {
    return { ok: false, error: 'the JWS envelope is not an object' };
  }
  const e = envelope as Record<string, unknown>;
  if (Object.hasOwn(e, 'signatures')) {
    return { ok: false, error: 'only the flattened JWS JSON serialization is accepted' };
  }
  const protectedBytes = base64url(e.protected);
  const payload = base64url(e.payload);
  const signature = base64url(e.signature);
  if (!protectedBytes || !payload || !signature) {
    return { ok: false, error: 'protected, payload or signature is missing or not base64url' };
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(protectedBytes));
  } catch {
    return { ok: false, error: 'the protected header is not UTF-8 JSON' };
  }
  const unprotected = e.header;
  const x5c =
    unprotected !== null && typeof unprotected === 'object' && !Array.isArray(unprotected)
      ? (unprotected as Record<string, unknown>).x5c
      : undefined;
  if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > MAX_CHAIN) {
    return { ok: false, error: `x5c must list 1 to ${MAX_CHAIN} certificates` };
  }
  if (!x5c.every((item) => typeof item === 'string' && B64.test(item))) {
    return { ok: false, error: 'x5c: an entry is not base64' };
  }
  return {
    ok: true,
    envelope: {
      header,
      chain: x5c.map((item) => Buffer.from(item as string, 'base64')),
      signingInput: Buffer.from(`${String(e.protected)}.${String(e.payload)}`, 'ascii'),
      signature,
      payload,
    },
  };
}

/** COSE algorithm identifiers (IANA) the Notary Project allows, by JWS name. */
const COSE_ALGORITHMS: Record<number, JwsAlgorithm> = {
  [-37]: 'PS256',
  [-38]: 'PS384',
  [-39]: 'PS512',
  [-7]: 'ES256',
  [-35]: 'ES384',
  [-36]: 'ES512',
};
const COSE_TIMES = new Set([
  'io.cncf.notary.signingTime',
  'io.cncf.notary.authenticSigningTime',
  'io.cncf.notary.expiry',
]);
const X5CHAIN = 33;

/** COSE protected parameters as the JWS header checker reads them. */
function coseHeader(map: Map<CborValue, CborValue>): Record<string, unknown> | string {
  // No prototype: a `__proto__` parameter is a key like any other, never a prototype.
  const out: Record<string, unknown> = Object.create(null);
  for (const [key, value] of map) {
    if (key === 1) {
      const alg = typeof value === 'number' ? COSE_ALGORITHMS[value] : undefined;
      out.alg = alg ?? `COSE ${String(value)}`;
    } else if (key === 2) {
      if (!Array.isArray(value)) return 'crit is not an array';
      const crit: string[] = [];
      for (const label of value) {
        if (typeof label === 'number' && label >= 0 && label <= 8) {
          return `crit lists the common parameter ${label}`;
        }
        if (typeof label !== 'string' && typeof label !== 'number') return 'crit lists a non-label';
        crit.push(String(label));
      }
      out.crit = crit;
    } else if (key === 3) {
      out.cty = value;
    } else if (typeof key === 'string') {
      if (['alg', 'crit', 'cty'].includes(key)) return `parameter ${key} is ambiguous`;
      if (COSE_TIMES.has(key)) {
        // Epoch-based date/time: tag 1 over an integer (fractions tolerated).
        if (!isTag(value) || value.tag !== 1 || typeof value.value !== 'number') {
          return `${key} is not a tag-1 epoch time`;
        }
        out[key] = new Date(Math.floor(value.value) * 1000).toISOString().replace('.000Z', 'Z');
      } else out[key] = value;
    } else if (key !== X5CHAIN) {
      out[String(key)] = value;
    }
  }
  return out;
}

function x5chain(value: CborValue): Buffer[] | string {
  const list = value instanceof Uint8Array ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_CHAIN) {
    return `x5chain must hold 1 to ${MAX_CHAIN} certificates`;
  }
  if (!list.every((c) => c instanceof Uint8Array)) return 'x5chain: an entry is not a byte string';
  return list.map((c) => Buffer.from(c as Uint8Array));
}

function parseCose(bytes: Uint8Array): Parsed {
  let value: CborValue;
  try {
    value = decodeCbor(bytes);
  } catch (error) {
    return { ok: false, error: `the COSE envelope is not CBOR: ${(error as Error).message}` };
  }
  if (!isTag(value) || value.tag !== 18 || !Array.isArray(value.value)) {
    return { ok: false, error: 'the COSE envelope is not a COSE_Sign1_Tagged (tag 18) array' };
  }
  const [protectedBytes, unprotected, payload, signature] = value.value;
  if (value.value.length !== 4 || !(protectedBytes instanceof Uint8Array)) {
    return { ok: false, error: 'COSE_Sign1 must be [protected, unprotected, payload, signature]' };
  }
  if (!(payload instanceof Uint8Array)) {
    return { ok: false, error: 'the COSE payload is detached or not a byte string' };
  }
  if (!(signature instanceof Uint8Array) || !(unprotected instanceof Map)) {
    return { ok: false, error: 'the COSE signature or unprotected header is malformed' };
  }
  let protectedMap: CborValue;
  try {
    protectedMap = decodeCbor(protectedBytes);
  } catch (error) {
    return { ok: false, error: `the COSE protected header: ${(error as Error).message}` };
  }
  if (!(protectedMap instanceof Map)) {
    return { ok: false, error: 'the COSE protected header is not a map' };
  }
  const header = coseHeader(protectedMap);
  if (typeof header === 'string') return { ok: false, error: header };
  // The chain may sit in either header (the specification allows the protected one).
  const chainValue = protectedMap.get(X5CHAIN) ?? unprotected.get(X5CHAIN);
  if (chainValue === undefined) return { ok: false, error: 'the COSE envelope has no x5chain' };
  const chain = x5chain(chainValue);
  if (typeof chain === 'string') return { ok: false, error: chain };
  return {
    ok: true,
    envelope: {
      header,
      chain,
      signingInput: Buffer.from(
        encodeStringArray(['Signature1', protectedBytes, new Uint8Array(0), payload]),
      ),
      signature: Buffer.from(signature),
      payload: Buffer.from(payload),
    },
  };
}

function algorithmFor(leaf: ChainCertificate): JwsAlgorithm | null {
  const key = leaf.publicKey;
  const d = key.asymmetricKeyDetails ?? {};
  for (const [alg, spec] of Object.entries(JWS_ALGORITHMS)) {
    if (spec.family === 'rsa' && key.asymmetricKeyType === 'rsa' && d.modulusLength === spec.bits)
      return alg as JwsAlgorithm;
    if (spec.family === 'ec' && key.asymmetricKeyType === 'ec' && d.namedCurve === spec.curve)
      return alg as JwsAlgorithm;
  }
  return null;
}

function signatureVerifies(
  alg: JwsAlgorithm,
  leaf: ChainCertificate,
  input: Buffer,
  signature: Buffer,
): boolean {
  const spec = JWS_ALGORITHMS[alg];
  const key = leaf.publicKey;
  try {
    // Both formats carry ECDSA signatures as r‖s and PSS with a salt as long as the hash.
    if (spec.family === 'ec') {
      return verify(spec.hash, input, { key, dsaEncoding: 'ieee-p1363' }, signature);
    }
    return verify(
      spec.hash,
      input,
      {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      },
      signature,
    );
  } catch {
    return false;
  }
}

function verifyParsed(
  parsed: ParsedEnvelope,
  target: TargetDescriptor,
  trust: EnvelopeTrust,
  now: Date,
): EnvelopeResult {
  const checked = checkProtectedHeader(parsed.header, trust.understood);
  if (!checked.ok) return checked;
  const header = checked.header;
  let chain: ChainCertificate[];
  try {
    chain = parsed.chain.map((der) => parseCertificate(der));
  } catch (error) {
    return { ok: false, error: `certificate chain: ${(error as Error).message}` };
  }
  const leaf = chain[0] as ChainCertificate;

  // Integrity: the algorithm follows from the signing key (no substitution), then the bytes.
  const expected = algorithmFor(leaf);
  if (expected !== header.alg) {
    return {
      ok: false,
      error: `alg ${header.alg} does not match the signing certificate's key (${expected ?? 'unsupported key'})`,
    };
  }
  if (!signatureVerifies(header.alg, leaf, parsed.signingInput, parsed.signature)) {
    return { ok: false, error: 'the signature does not verify with the signing certificate' };
  }
  const payloadCheck = checkNotationPayload(parsed.payload, target);
  if (!payloadCheck.ok) return payloadCheck;

  // Authenticity: the scheme decides the store type and which times the chain must cover.
  const wanted = header.scheme === 'notary.x509' ? 'ca' : 'signingAuthority';
  if (wanted !== trust.storeType) {
    return {
      ok: false,
      error: `signing scheme ${header.scheme} needs a ${wanted} trust store; the entry's is ${trust.storeType}`,
    };
  }
  const times =
    header.scheme === 'notary.x509'
      ? [
          { at: header.signingTime, what: 'signing time' },
          // No authentic timestamp (TSA countersignatures are not verified): valid now too.
          { at: now, what: 'verification time' },
        ]
      : [{ at: header.signingTime, what: 'authentic signing time' }];
  try {
    validateCodeSigningChain(chain, times);
  } catch (error) {
    // A ChainError names the requirement; anything else is a malformed extension.
    const message = (error as Error).message;
    return {
      ok: false,
      error: error instanceof ChainError ? message : `a certificate is malformed: ${message}`,
    };
  }
  const trustedBy = chainIsTrusted(chain, trust.certificates);
  if (!trustedBy) {
    return {
      ok: false,
      error: `the chain of ${leaf.label} does not lead to a certificate the entry trusts`,
    };
  }
  if (header.expiry && now.getTime() >= header.expiry.getTime()) {
    return { ok: false, error: `the signature expired at ${header.expiry.toISOString()}` };
  }
  return { ok: true, header, leaf, chain, trustedBy };
}

/** Verifies one JWS envelope (bytes as stored) for `target` at `now`. */
export function verifyJwsEnvelope(
  bytes: Uint8Array,
  target: TargetDescriptor,
  trust: EnvelopeTrust,
  now: Date,
): EnvelopeResult {
  const parsed = parseJws(bytes);
  return parsed.ok ? verifyParsed(parsed.envelope, target, trust, now) : parsed;
}

/** Verifies one COSE_Sign1_Tagged envelope (bytes as stored) for `target` at `now`. */
export function verifyCoseEnvelope(
  bytes: Uint8Array,
  target: TargetDescriptor,
  trust: EnvelopeTrust,
  now: Date,
): EnvelopeResult {
  const parsed = parseCose(bytes);
  return parsed.ok ? verifyParsed(parsed.envelope, target, trust, now) : parsed;
}
