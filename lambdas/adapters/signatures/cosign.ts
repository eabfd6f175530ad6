/**
 * cosign signatures made with a key pair (`cosign sign --key`): the signature annotation is
 * base64 of a signature over the simple-signing payload bytes. ECDSA (DER, SHA-256 as cosign
 * uses for every curve, or the curve's own hash), RSA (PKCS#1 v1.5 or PSS, SHA-256) and
 * Ed25519 are checked with node:crypto; the payload must then name exactly the digest.
 */
import { constants, createHash, type KeyObject, verify } from 'node:crypto';
import { checkSimpleSigningPayload } from '../../core/signatures/payload.ts';
import { statementSigns } from '../../core/signatures/statement.ts';
import type { EntryOutcome } from '../../core/signatures/verdict.ts';
import { absentReason, type DiscoveredSignatures, readLayer } from './discover.ts';

/** A short stable name for a key: `sha256:<first 16 hex of its SPKI>`. */
export function keyFingerprint(key: KeyObject): string {
  const spki = key.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex').slice(0, 16)}`;
}

const EC_HASH: Record<string, string> = {
  prime256v1: 'sha256',
  secp384r1: 'sha384',
  secp521r1: 'sha512',
};

/** Whether `signature` over `data` verifies with `key` in any way cosign produces. */
export function verifyRaw(key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    switch (key.asymmetricKeyType) {
      case 'ed25519':
        return verify(null, data, key, signature);
      case 'ec': {
        if (verify('sha256', data, key, signature)) return true;
        const own = EC_HASH[key.asymmetricKeyDetails?.namedCurve ?? ''];
        return own !== undefined && own !== 'sha256' && verify(own, data, key, signature);
      }
      case 'rsa':
        return (
          verify('sha256', data, { key, padding: constants.RSA_PKCS1_PADDING }, signature) ||
          verify(
            'sha256',
            data,
            {
              key,
              padding: constants.RSA_PKCS1_PSS_PADDING,
              saltLength: constants.RSA_PSS_SALTLEN_AUTO,
            },
            signature,
          )
        );
      case 'rsa-pss':
        return verify(
          'sha256',
          data,
          {
            key,
            padding: constants.RSA_PKCS1_PSS_PADDING,
            saltLength: constants.RSA_PSS_SALTLEN_AUTO,
          },
          signature,
        );
      default:
        return false;
    }
  } catch {
    // A malformed signature (bad DER, wrong length) does not verify.
    return false;
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** DSSE's pre-authentication encoding: what a DSSE signature signs. */
export function dssePae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.byteLength} `),
    type,
    Buffer.from(` ${payload.byteLength} `),
    payload,
  ]);
}

interface KeyedEnvelope {
  payloadType: string;
  payload: Buffer;
  signatures: Buffer[];
}

/** The DSSE envelope of a Sigstore bundle signed with a key (not a certificate), or null. */
function keyedEnvelope(json: unknown): KeyedEnvelope | null {
  const b = json as {
    verificationMaterial?: { publicKey?: unknown };
    dsseEnvelope?: { payloadType?: unknown; payload?: unknown; signatures?: unknown };
  } | null;
  const envelope = b?.dsseEnvelope;
  if (!b?.verificationMaterial?.publicKey || !envelope) return null;
  if (typeof envelope.payloadType !== 'string' || typeof envelope.payload !== 'string') return null;
  const sigs = Array.isArray(envelope.signatures) ? envelope.signatures.slice(0, 8) : [];
  return {
    payloadType: envelope.payloadType,
    payload: Buffer.from(envelope.payload, 'base64'),
    signatures: sigs
      .map((sig) => (sig as { sig?: unknown } | null)?.sig)
      .filter((sig): sig is string => typeof sig === 'string')
      .map((sig) => Buffer.from(sig, 'base64')),
  };
}

/** The outcome of a `cosign: { publicKeys }` entry against what was discovered. */
export async function verifyCosignKeys(
  found: DiscoveredSignatures,
  keys: readonly KeyObject[],
): Promise<EntryOutcome> {
  const problems: string[] = [];
  // cosign v3 with a key: a Sigstore bundle whose DSSE envelope is signed by the key.
  let keyedBundles = 0;
  for (const item of found.bundles) {
    const read = await readLayer(found, item.layer);
    if (!read.ok) {
      problems.push(`${item.where}: ${read.error}`);
      continue;
    }
    let envelope: KeyedEnvelope | null;
    try {
      envelope = keyedEnvelope(JSON.parse(read.bytes.toString('utf8')));
    } catch {
      envelope = null;
    }
    if (!envelope) continue;
    keyedBundles++;
    const pae = dssePae(envelope.payloadType, envelope.payload);
    const key = keys.find((k) => envelope.signatures.some((sig) => verifyRaw(k, pae, sig)));
    if (!key) {
      problems.push(`${item.where}: the bundle's signature does not verify with the rule's keys`);
      continue;
    }
    const wrong = statementSigns(envelope.payload, found.digest);
    if (wrong) {
      problems.push(`${item.where}: signed by key ${keyFingerprint(key)} but ${wrong}`);
      continue;
    }
    return { status: 'verified', signer: `cosign key ${keyFingerprint(key)} (${item.where})` };
  }
  if (found.simple.length === 0 && keyedBundles === 0 && problems.length === 0) {
    return {
      status: 'absent',
      reason: absentReason(
        found,
        `no cosign signature for ${found.digest} (tag ${found.digest.replace(':', '-')}.sig or referrers)`,
      ),
    };
  }
  for (const candidate of found.simple) {
    const text = candidate.signature.replace(/\s+/g, '');
    if (!BASE64.test(text) || text.length === 0) {
      problems.push(`${candidate.where}: signature annotation is not base64`);
      continue;
    }
    const signature = Buffer.from(text, 'base64');
    const read = await readLayer(found, candidate.payload);
    if (!read.ok) {
      problems.push(`${candidate.where}: payload ${read.error}`);
      continue;
    }
    const payload = read.bytes;
    const index = keys.findIndex((key) => verifyRaw(key, payload, signature));
    const key = keys[index];
    if (!key) {
      problems.push(
        `${candidate.where}: signature does not verify with the rule's ${keys.length === 1 ? 'key' : `${keys.length} keys`}`,
      );
      continue;
    }
    const checked = checkSimpleSigningPayload(payload, found.digest);
    if (!checked.ok) {
      problems.push(
        `${candidate.where}: signed by key ${keyFingerprint(key)} but ${checked.error}`,
      );
      continue;
    }
    return { status: 'verified', signer: `cosign key ${keyFingerprint(key)} (${candidate.where})` };
  }
  return { status: 'rejected', reason: problems.join('; ') };
}
