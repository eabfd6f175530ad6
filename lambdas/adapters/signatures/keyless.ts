/**
 * Keyless (Sigstore) signatures: a short-lived Fulcio certificate naming the signer's OIDC
 * identity, logged in Rekor. Verified offline with `@sigstore/verify` against a trusted root
 * (shipped, replaceable): certificate chain to a Fulcio CA valid at the log's time, SCT,
 * transparency-log inclusion, the signature, then the rule's issuer (exact) and subject (glob).
 *
 * Two storage forms:
 * - Sigstore bundles as referrers (cosign v3): a DSSE envelope with an in-toto statement of
 *   predicate `https://sigstore.dev/cosign/sign/v1` whose subject is the image digest;
 * - cosign v2 simple signing with the certificate and Rekor bundle as layer annotations,
 *   turned into a v0.1 bundle over the payload bytes.
 */

import { createHash, X509Certificate } from 'node:crypto';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { PolicyError, toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { ConfigError } from '../../core/errors.ts';
import { checkSimpleSigningPayload } from '../../core/signatures/payload.ts';
import { compileIdentityGlob, type SignatureEntry } from '../../core/signatures/schema.ts';
import { statementSigns } from '../../core/signatures/statement.ts';
import type { EntryOutcome } from '../../core/signatures/verdict.ts';
import { absentReason, type DiscoveredSignatures, readLayer } from './discover.ts';

export { COSIGN_SIGN_PREDICATE, statementSigns } from '../../core/signatures/statement.ts';

import { PUBLIC_GOOD_TRUSTED_ROOT } from './sigstore-trusted-root.ts';

export type KeylessIdentity = NonNullable<SignatureEntry['keyless']>;

/** A trusted root made ready for verification (parse once, verify many). */
export class SigstoreTrust {
  readonly verifier: Verifier;
  constructor(trustedRoot: unknown = PUBLIC_GOOD_TRUSTED_ROOT, source = 'built-in trusted root') {
    try {
      const material = toTrustMaterial(TrustedRoot.fromJSON(trustedRoot));
      if (material.certificateAuthorities.length === 0 || material.tlogs.length === 0) {
        throw new Error('it has no certificate authority or no transparency log');
      }
      this.verifier = new Verifier(material, { tlogThreshold: 1, ctlogThreshold: 1 });
    } catch (error) {
      throw new ConfigError(`Sigstore ${source} is not usable: ${(error as Error).message}`);
    }
  }
}

export type BundleResult =
  | { ok: true; identity: string; issuer: string; dssePayload: Buffer | null }
  | { ok: false; kind: 'identity' | 'invalid'; error: string };

/**
 * Verifies one Sigstore bundle (parsed JSON) against the trust root and an identity. With
 * `artifact`, a message-signature bundle must sign exactly those bytes.
 */
export function verifySigstoreBundle(
  trust: SigstoreTrust,
  bundleJson: unknown,
  identity: KeylessIdentity,
  artifact?: Buffer,
): BundleResult {
  let bundle: ReturnType<typeof bundleFromJSON>;
  try {
    bundle = bundleFromJSON(bundleJson);
  } catch (error) {
    return {
      ok: false,
      kind: 'invalid',
      error: `not a Sigstore bundle: ${(error as Error).message}`,
    };
  }
  try {
    const signer = trust.verifier.verify(toSignedEntity(bundle, artifact), {
      subjectAlternativeName: compileIdentityGlob(identity.subject),
      extensions: { issuer: identity.issuer },
    });
    const dsse = bundle.content.$case === 'dsseEnvelope' ? bundle.content.dsseEnvelope : null;
    return {
      ok: true,
      identity: signer.identity?.subjectAlternativeName ?? '',
      issuer: signer.identity?.extensions?.issuer ?? '',
      dssePayload: dsse ? Buffer.from(dsse.payload) : null,
    };
  } catch (error) {
    const kind = error instanceof PolicyError ? 'identity' : 'invalid';
    return { ok: false, kind, error: (error as Error).message };
  }
}

/** cosign v2's certificate + Rekor bundle annotations as a v0.1 Sigstore bundle. */
export function legacyBundle(
  certificatePem: string,
  rekorBundle: string,
  signatureBase64: string,
  payload: Buffer,
): unknown {
  const cert = new X509Certificate(certificatePem);
  const rekor = JSON.parse(rekorBundle) as {
    SignedEntryTimestamp?: string;
    Payload?: { body?: string; integratedTime?: number; logIndex?: number; logID?: string };
  };
  const p = rekor.Payload ?? {};
  if (typeof p.body !== 'string' || typeof p.logID !== 'string' || !rekor.SignedEntryTimestamp) {
    throw new Error('the Rekor bundle annotation is incomplete');
  }
  const body = JSON.parse(Buffer.from(p.body, 'base64').toString('utf8')) as {
    kind?: string;
    apiVersion?: string;
  };
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
    verificationMaterial: {
      x509CertificateChain: { certificates: [{ rawBytes: cert.raw.toString('base64') }] },
      tlogEntries: [
        {
          logIndex: String(p.logIndex ?? ''),
          logId: { keyId: Buffer.from(p.logID, 'hex').toString('base64') },
          kindVersion: { kind: body.kind ?? '', version: body.apiVersion ?? '' },
          integratedTime: String(p.integratedTime ?? ''),
          inclusionPromise: { signedEntryTimestamp: rekor.SignedEntryTimestamp },
          canonicalizedBody: p.body,
        },
      ],
    },
    messageSignature: {
      messageDigest: {
        algorithm: 'SHA2_256',
        digest: createHash('sha256').update(payload).digest('base64'),
      },
      signature: signatureBase64,
    },
  };
}

/** The outcome of a `keyless: { issuer, subject }` entry against what was discovered. */
export async function verifyKeyless(
  found: DiscoveredSignatures,
  identity: KeylessIdentity,
  trust: SigstoreTrust,
): Promise<EntryOutcome> {
  const problems: string[] = [];
  let candidates = 0;
  for (const item of found.bundles) {
    candidates++;
    const read = await readLayer(found, item.layer);
    if (!read.ok) {
      problems.push(`${item.where}: ${read.error}`);
      continue;
    }
    let json: unknown;
    try {
      json = JSON.parse(read.bytes.toString('utf8'));
    } catch {
      problems.push(`${item.where}: the bundle is not JSON`);
      continue;
    }
    const result = verifySigstoreBundle(trust, json, identity);
    if (!result.ok) {
      problems.push(`${item.where}: ${result.error}`);
      continue;
    }
    const wrong = result.dssePayload
      ? statementSigns(result.dssePayload, found.digest)
      : 'a message-signature bundle does not name the image digest';
    if (wrong) {
      problems.push(`${item.where}: ${wrong}`);
      continue;
    }
    return {
      status: 'verified',
      signer: `keyless ${result.identity} (${result.issuer}, ${item.where})`,
    };
  }
  for (const sig of found.simple) {
    if (sig.certificate === null) continue;
    candidates++;
    if (sig.rekorBundle === null) {
      problems.push(`${sig.where}: certificate without a Rekor bundle cannot be verified offline`);
      continue;
    }
    const read = await readLayer(found, sig.payload);
    if (!read.ok) {
      problems.push(`${sig.where}: payload ${read.error}`);
      continue;
    }
    const payload = read.bytes;
    let bundle: unknown;
    try {
      bundle = legacyBundle(sig.certificate, sig.rekorBundle, sig.signature, payload);
    } catch (error) {
      problems.push(`${sig.where}: ${(error as Error).message}`);
      continue;
    }
    const result = verifySigstoreBundle(trust, bundle, identity, payload);
    if (!result.ok) {
      problems.push(`${sig.where}: ${result.error}`);
      continue;
    }
    const checked = checkSimpleSigningPayload(payload, found.digest);
    if (!checked.ok) {
      problems.push(`${sig.where}: signed by ${result.identity} but ${checked.error}`);
      continue;
    }
    return {
      status: 'verified',
      signer: `keyless ${result.identity} (${result.issuer}, ${sig.where})`,
    };
  }
  if (candidates === 0) {
    return {
      status: 'absent',
      reason: absentReason(found, `no keyless (Sigstore) signature for ${found.digest}`),
    };
  }
  return { status: 'rejected', reason: problems.join('; ') };
}
