/**
 * X.509 code-signing chains as the Notary Project requires them (signature-specification.md,
 * "Certificate Requirements"): an ordered chain leaf → intermediates → self-signed root, each
 * certificate signed by the next, CA certificates with a critical `basicConstraints` (cA,
 * path length honoured) and a critical `keyUsage` with keyCertSign, a leaf with a critical
 * `keyUsage` of digitalSignature and none of the forbidden bits, an `extendedKeyUsage` (if
 * any) without serverAuth / clientAuth / emailProtection / timeStamping / anyExtendedKeyUsage,
 * no SHA-1 signatures, RSA ≥ 2048 bits / EC ≥ 256 bits, every certificate valid at the given
 * times. Signatures are checked with node:crypto; extensions are read with @sigstore/core's
 * DER parser (already in the bundle for keyless).
 */
import { createHash, type KeyObject, X509Certificate as NodeCertificate } from 'node:crypto';
import { type ASN1Obj, X509Certificate as DerCertificate } from '@sigstore/core';

export const MAX_CHAIN = 10;

const OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
} as const;

const FORBIDDEN_EKU: Record<string, string> = {
  '2.5.29.37.0': 'anyExtendedKeyUsage',
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
};

const SHA1_SIGNATURES = new Set([
  '1.2.840.113549.1.1.5', // sha1WithRSAEncryption
  '1.2.840.10045.4.1', // ecdsa-with-SHA1
  '1.2.840.113549.1.1.4', // md5WithRSAEncryption
  '1.2.840.10040.4.3', // dsa-with-sha1
]);

const NAME_TYPES: Record<string, string> = {
  '2.5.4.6': 'C',
  '2.5.4.8': 'ST',
  '2.5.4.7': 'L',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.3': 'CN',
  '2.5.4.5': 'SERIALNUMBER',
  '2.5.4.9': 'STREET',
  '2.5.4.17': 'POSTALCODE',
};

/** KeyUsage bit positions (RFC 5280 §4.2.1.3). */
const KU = {
  digitalSignature: 0,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
  encipherOnly: 7,
  decipherOnly: 8,
} as const;
const LEAF_FORBIDDEN_KU = [
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'encipherOnly',
  'decipherOnly',
  'cRLSign',
] as const;

/** One parsed certificate: node:crypto for signatures, the DER tree for extensions. */
export interface ChainCertificate {
  node: NodeCertificate;
  der: DerCertificate;
  raw: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** Subject attributes (C, ST, O, …); null when an attribute repeats (no identity matches). */
  subject: Map<string, string> | null;
  /** For messages. */
  label: string;
  issuerDer: Buffer;
  subjectDer: Buffer;
  /** sha256 of the DER, hex: the memo key. */
  id: string;
  /** The subject public key, read once (a corrupt key fails the parse, not a later check). */
  publicKey: KeyObject;
}

/**
 * Parsing and issuer signatures are pure functions of the DER bytes, and every image a signer
 * signs carries the same chain: both are memoised (bounded; oldest out), so a busy cluster
 * pays the P-384 checks of a chain once. Validity times are checked on every use.
 */
const MEMO = 512;
const parsedMemo = new Map<string, ChainCertificate>();
const issuedMemo = new Map<string, boolean>();
function remember<V>(memo: Map<string, V>, key: string, value: V): V {
  if (memo.size >= MEMO) memo.delete(memo.keys().next().value as string);
  memo.set(key, value);
  return value;
}

export class ChainError extends Error {
  override name = 'ChainError';
}

function decodeString(obj: ASN1Obj): string {
  // BMPString is UTF-16BE; the others regwatch meets are ASCII or UTF-8.
  if (obj.tag.number === 0x1e) {
    const swapped = Buffer.from(obj.value);
    swapped.swap16();
    return swapped.toString('utf16le');
  }
  return obj.value.toString('utf8');
}

function subjectOf(tbs: ASN1Obj): Map<string, string> | null {
  const name = tbs.subs[5];
  if (!name) throw new ChainError('the certificate has no subject');
  const out = new Map<string, string>();
  for (const rdn of name.subs) {
    if (rdn.subs.length !== 1) return null;
    const pair = rdn.subs[0];
    const oid = pair?.subs[0];
    const value = pair?.subs[1];
    if (!oid || !value) throw new ChainError('the subject is malformed');
    const type = NAME_TYPES[oid.toOID()] ?? oid.toOID();
    if (out.has(type)) return null;
    out.set(type, decodeString(value));
  }
  return out;
}

/** Parses one DER certificate (X.509 v3 only: the requirements are extensions). */
export function parseCertificate(der: Buffer): ChainCertificate {
  const id = createHash('sha256').update(der).digest('hex');
  const known = parsedMemo.get(id);
  if (known) return known;
  return remember(parsedMemo, id, parseUncached(der, id));
}

function parseUncached(der: Buffer, id: string): ChainCertificate {
  let node: NodeCertificate;
  let parsed: DerCertificate;
  let publicKey: KeyObject;
  try {
    node = new NodeCertificate(der);
    parsed = DerCertificate.parse(Buffer.from(der));
    publicKey = node.publicKey;
  } catch (error) {
    throw new ChainError(`not a DER X.509 certificate: ${(error as Error).message}`);
  }
  try {
    const tbs = parsed.tbsCertificate;
    if (!tbs.subs[0]?.tag.isContextSpecific(0)) {
      throw new ChainError('only X.509 v3 certificates are accepted');
    }
    const subject = subjectOf(tbs);
    const label = node.subject.replace(/\n/g, ', ');
    return {
      node,
      der: parsed,
      raw: node.raw,
      notBefore: parsed.notBefore,
      notAfter: parsed.notAfter,
      subject,
      label,
      issuerDer: (tbs.subs[3] as ASN1Obj).toDER(),
      subjectDer: (tbs.subs[5] as ASN1Obj).toDER(),
      id,
      publicKey,
    };
  } catch (error) {
    if (error instanceof ChainError) throw error;
    throw new ChainError(`certificate is malformed: ${(error as Error).message}`);
  }
}

/** Parses PEM certificates (a bundle of one or more). */
export function parsePemCertificates(pem: string): ChainCertificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ChainError('no PEM "BEGIN CERTIFICATE" block');
  return blocks.map((block) => {
    const body = block.replace(/-----(?:BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
    return parseCertificate(Buffer.from(body, 'base64'));
  });
}

function bits(ext: ReturnType<DerCertificate['extension']>): number[] {
  const inner = ext?.valueObj.subs[0];
  if (!inner?.tag.isBitString()) throw new ChainError('keyUsage is not a bit string');
  return inner.toBitString();
}

function signatureAlgorithmOid(cert: ChainCertificate): string {
  return cert.der.root.subs[1]?.subs[0]?.toOID() ?? '';
}

/**
 * `cert` names `parent` as its issuer (exact DER names, as Go's x509 compares them) and
 * `parent`'s key verifies its signature. Not OpenSSL's checkIssued: that also wants
 * keyCertSign, which a self-signed leaf must not have.
 */
function issuedBy(cert: ChainCertificate, parent: ChainCertificate): boolean {
  if (!cert.issuerDer.equals(parent.subjectDer)) return false;
  const key = `${cert.id}>${parent.id}`;
  const known = issuedMemo.get(key);
  if (known !== undefined) return known;
  let verified: boolean;
  try {
    verified = cert.node.verify(parent.publicKey);
  } catch {
    // A malformed signature value does not verify.
    verified = false;
  }
  return remember(issuedMemo, key, verified);
}

function selfSigned(cert: ChainCertificate): boolean {
  return issuedBy(cert, cert);
}

function checkKeyStrength(cert: ChainCertificate): void {
  const key = cert.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') {
    if ((details.modulusLength ?? 0) < 2048) {
      throw new ChainError(`${cert.label}: RSA keys must have at least 2048 bits`);
    }
  } else if (key.asymmetricKeyType === 'ec') {
    if (!['prime256v1', 'secp384r1', 'secp521r1'].includes(details.namedCurve ?? '')) {
      throw new ChainError(`${cert.label}: EC curve ${details.namedCurve} is not P-256/384/521`);
    }
  } else {
    throw new ChainError(`${cert.label}: ${key.asymmetricKeyType} keys are not accepted`);
  }
}

function checkLeaf(cert: ChainCertificate): void {
  const bc = cert.der.extension(OID.basicConstraints);
  if (bc && cert.der.extBasicConstraints?.isCA) {
    throw new ChainError(`${cert.label}: the signing certificate is a CA (basicConstraints cA)`);
  }
  const ku = cert.der.extension(OID.keyUsage);
  if (!ku) throw new ChainError(`${cert.label}: the signing certificate has no keyUsage`);
  if (!ku.critical) throw new ChainError(`${cert.label}: keyUsage must be critical`);
  const usage = bits(ku);
  if (usage[KU.digitalSignature] !== 1) {
    throw new ChainError(`${cert.label}: keyUsage lacks digitalSignature`);
  }
  const extra = LEAF_FORBIDDEN_KU.filter((name) => usage[KU[name]] === 1);
  if (extra.length > 0) {
    throw new ChainError(`${cert.label}: keyUsage must not include ${extra.join(', ')}`);
  }
  const eku = cert.der.extension(OID.extKeyUsage);
  if (eku) {
    const oids = (eku.valueObj.subs[0]?.subs ?? []).map((o) => o.toOID());
    const bad = oids.map((oid) => FORBIDDEN_EKU[oid]).filter((n): n is string => n !== undefined);
    if (bad.length > 0) {
      throw new ChainError(
        `${cert.label}: extendedKeyUsage ${bad.join(', ')} is not for code signing`,
      );
    }
  }
  checkKeyStrength(cert);
}

function checkCa(cert: ChainCertificate, below: number): void {
  const bc = cert.der.extension(OID.basicConstraints);
  if (!bc?.critical) {
    throw new ChainError(`${cert.label}: a CA needs a critical basicConstraints extension`);
  }
  const constraints = cert.der.extBasicConstraints;
  if (!constraints?.isCA) throw new ChainError(`${cert.label}: basicConstraints cA is not set`);
  const pathLen = constraints.pathLenConstraint;
  if (pathLen !== undefined && BigInt(below) > pathLen) {
    throw new ChainError(
      `${cert.label}: path length ${pathLen} allows fewer intermediates than the chain has`,
    );
  }
  const ku = cert.der.extension(OID.keyUsage);
  if (!ku?.critical) throw new ChainError(`${cert.label}: a CA needs a critical keyUsage`);
  if (bits(ku)[KU.keyCertSign] !== 1) {
    throw new ChainError(`${cert.label}: keyUsage lacks keyCertSign`);
  }
}

function validAt(cert: ChainCertificate, at: Date, what: string): void {
  const t = at.getTime();
  if (t < cert.notBefore.getTime() || t > cert.notAfter.getTime()) {
    throw new ChainError(
      `${cert.label} is not valid at ${what} ${at.toISOString()} (valid ${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()})`,
    );
  }
}

/**
 * Validates an ordered code-signing chain; throws a `ChainError` naming the first problem.
 * `times` are the moments every certificate must be valid at (signing time, and the
 * verification time when no authentic timestamp vouches for the signing time).
 */
export function validateCodeSigningChain(
  chain: readonly ChainCertificate[],
  times: readonly { at: Date; what: string }[],
): void {
  const leaf = chain[0];
  if (!leaf) throw new ChainError('the certificate chain is empty');
  if (chain.length > MAX_CHAIN) throw new ChainError(`more than ${MAX_CHAIN} certificates`);
  for (const cert of chain) {
    if (SHA1_SIGNATURES.has(signatureAlgorithmOid(cert))) {
      throw new ChainError(`${cert.label}: SHA-1/MD5 certificate signatures are not accepted`);
    }
    for (const { at, what } of times) validAt(cert, at, what);
  }
  if (chain.length === 1) {
    if (!selfSigned(leaf)) {
      throw new ChainError(`${leaf.label}: a one-certificate chain must be self-signed`);
    }
    checkLeaf(leaf);
    return;
  }
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i] as ChainCertificate;
    const parent = chain[i + 1];
    if (parent === undefined) {
      if (!selfSigned(cert)) {
        throw new ChainError(`${cert.label}: the chain must end with a self-signed root`);
      }
    } else {
      if (selfSigned(cert)) {
        throw new ChainError(`${cert.label}: only the last certificate may be self-signed`);
      }
      if (!issuedBy(cert, parent)) {
        throw new ChainError(`${cert.label} is not issued by ${parent.label}`);
      }
    }
    if (i === 0) checkLeaf(cert);
    else checkCa(cert, i - 1);
  }
}

/** Whether any certificate of the chain is one of the trusted ones (byte-equal). */
export function chainIsTrusted(
  chain: readonly ChainCertificate[],
  trusted: readonly ChainCertificate[],
): ChainCertificate | null {
  for (const cert of chain) {
    const hit = trusted.find((t) => t.raw.equals(cert.raw));
    if (hit) return hit;
  }
  return null;
}
