/**
 * Notation (Notary Project) signatures stored as OCI referrers (artifactType
 * `application/vnd.cncf.notary.signature`): JWS (`application/jose+json`) and COSE
 * (`application/cose`) envelopes verified by notation-envelope.ts (header, signature, payload,
 * chain to the entry's trust store, the signing scheme's time rules, expiry), then the
 * identity: an `x509.subject` trust-policy identity for `notation` entries, the signing
 * profile (AWS Signer's signed `com.amazonaws.signer.signingProfileVersion`) for `awsSigner`
 * entries. Revocation (OCSP, CRL, AWS Signer's GetRevocationStatus) is not checked.
 */
import {
  formatSubject,
  identityMatches,
  NOTATION_COSE,
  NOTATION_HEADERS,
  NOTATION_JWS,
  parseTrustedIdentity,
  type TargetDescriptor,
  type TrustedIdentity,
} from '../../core/signatures/notation.ts';
import type { SignatureEntry } from '../../core/signatures/schema.ts';
import type { EntryOutcome } from '../../core/signatures/verdict.ts';
import { AWS_SIGNER_ROOTS_PEM } from './aws-signer-roots.ts';
import { absentReason, type DiscoveredSignatures, readLayer } from './discover.ts';
import {
  type EnvelopeResult,
  type EnvelopeTrust,
  verifyCoseEnvelope,
  verifyJwsEnvelope,
} from './notation-envelope.ts';
import { type ChainCertificate, parsePemCertificates } from './x509-chain.ts';

export {
  type EnvelopeResult,
  type EnvelopeTrust,
  type TrustStoreType,
  verifyCoseEnvelope,
  verifyJwsEnvelope,
} from './notation-envelope.ts';

/** How an entry names who may sign: the trust store, the critical headers it processes, who. */
export interface NotationPolicy {
  trust: EnvelopeTrust;
  /** The signer's name when the identity is trusted, else why not. */
  identify(
    result: Extract<EnvelopeResult, { ok: true }>,
  ): { ok: true; signer: string } | { ok: false; error: string };
}

/** The outcome of a Notation-based entry against what was discovered for the digest. */
export async function verifyNotationSignatures(
  found: DiscoveredSignatures,
  target: () => Promise<TargetDescriptor>,
  policy: NotationPolicy,
  now: Date,
): Promise<EntryOutcome> {
  const problems: string[] = [];
  let candidates = 0;
  for (const item of found.notation) {
    const type = item.layer.mediaType;
    const verifyEnvelope =
      type === NOTATION_JWS
        ? verifyJwsEnvelope
        : type === NOTATION_COSE
          ? verifyCoseEnvelope
          : null;
    if (!verifyEnvelope) {
      problems.push(`${item.where}: envelope type ${type} is not a Notation one`);
      continue;
    }
    candidates++;
    const read = await readLayer(found, item.layer);
    if (!read.ok) {
      problems.push(`${item.where}: ${read.error}`);
      continue;
    }
    const descriptor = await target();
    let result: EnvelopeResult;
    try {
      result = verifyEnvelope(read.bytes, descriptor, policy.trust, now);
    } catch (error) {
      // Whatever a hostile envelope trips, it fails alone: the others are still looked at.
      result = { ok: false, error: `the envelope cannot be checked: ${(error as Error).message}` };
    }
    if (!result.ok) {
      problems.push(`${item.where}: ${result.error}`);
      continue;
    }
    const who = policy.identify(result);
    if (!who.ok) {
      problems.push(`${item.where}: ${who.error}`);
      continue;
    }
    // Reused from the cache no longer than the signature's expiry or the chain's validity.
    const validUntil = result.chain.reduce(
      (end, cert) => Math.min(end, cert.notAfter.getTime()),
      result.header.expiry?.getTime() ?? Number.POSITIVE_INFINITY,
    );
    return { status: 'verified', signer: `${who.signer} (${item.where})`, validUntil };
  }
  if (candidates === 0 && problems.length === 0) {
    return {
      status: 'absent',
      reason: absentReason(found, `no Notation signature for ${found.digest}`),
    };
  }
  return { status: 'rejected', reason: problems.join('; ') };
}

/** Policies are built once per (compiled, immutable) entry object. */
const policies = new WeakMap<object, NotationPolicy>();
function memo(entry: object, build: () => NotationPolicy): NotationPolicy {
  let policy = policies.get(entry);
  if (!policy) {
    policy = build();
    policies.set(entry, policy);
  }
  return policy;
}

/** A `notation: { trustedCertificates, trustedIdentities, trustStoreType }` entry's policy. */
export function notationPolicy(entry: NonNullable<SignatureEntry['notation']>): NotationPolicy {
  return memo(entry, () => buildNotationPolicy(entry));
}

function buildNotationPolicy(entry: NonNullable<SignatureEntry['notation']>): NotationPolicy {
  const certificates = entry.trustedCertificates.flatMap((pem) => parsePemCertificates(pem));
  const identities: TrustedIdentity[] = entry.trustedIdentities.flatMap((text) => {
    const parsed = parseTrustedIdentity(text);
    return parsed.ok ? [parsed.identity] : [];
  });
  return {
    trust: { certificates, storeType: entry.trustStoreType ?? 'ca' },
    identify(result) {
      const subject = result.leaf.subject;
      const name = subject ? formatSubject(subject) : result.leaf.label;
      if (subject && identities.some((identity) => identityMatches(identity, subject))) {
        return { ok: true, signer: `notation x509.subject: ${name}` };
      }
      return {
        ok: false,
        error: `signed by ${name}, which is not one of the entry's trusted identities`,
      };
    },
  };
}

const SIGNER = {
  profileVersion: 'com.amazonaws.signer.signingProfileVersion',
  job: 'com.amazonaws.signer.signingJob',
  plugin: 'com.amazonaws.signer.notation.plugin',
} as const;
const SIGNER_UNDERSTOOD = new Set<string>([
  SIGNER.profileVersion,
  SIGNER.job,
  NOTATION_HEADERS.plugin,
  NOTATION_HEADERS.pluginMinVersion,
]);
const PROFILE_VERSION_ARN =
  /^(arn:aws(?:-[a-z]+)*:signer:[a-z0-9-]+:\d{12}:\/signing-profiles\/[A-Za-z0-9_]{2,64})\/[A-Za-z0-9]{10}$/;

let shippedRoots: ChainCertificate[] | null = null;

/**
 * An `awsSigner` entry's policy for Notation signatures outside ECR managed signing: AWS
 * Signer signs as a signing authority (`notary.x509.signingAuthority`) with certificates that
 * chain to the AWS Signer root (shipped, or the entry's `trustedRoots`), and names the signing
 * profile version in the critical signed attribute `com.amazonaws.signer.signingProfileVersion`
 * (aws/aws-signer-notation-plugin, internal/verifier/verifier.go): that attribute is the
 * identity, matched against the entry's profile ARNs.
 */
export function awsSignerNotationPolicy(
  entry: NonNullable<SignatureEntry['awsSigner']>,
): NotationPolicy {
  return memo(entry, () => buildAwsSignerPolicy(entry));
}

function buildAwsSignerPolicy(entry: NonNullable<SignatureEntry['awsSigner']>): NotationPolicy {
  shippedRoots ??= parsePemCertificates(AWS_SIGNER_ROOTS_PEM.join('\n'));
  const certificates = entry.trustedRoots
    ? entry.trustedRoots.flatMap((pem) => parsePemCertificates(pem))
    : shippedRoots;
  return {
    trust: { certificates, storeType: 'signingAuthority', understood: SIGNER_UNDERSTOOD },
    identify(result) {
      const fields = result.header.fields;
      const plugin = fields[NOTATION_HEADERS.plugin];
      if (plugin !== undefined && plugin !== SIGNER.plugin) {
        return {
          ok: false,
          error: `the signature requires the verification plugin ${JSON.stringify(plugin)}, not AWS Signer's`,
        };
      }
      const version = fields[SIGNER.profileVersion];
      const m = typeof version === 'string' ? PROFILE_VERSION_ARN.exec(version) : null;
      if (!m || !result.header.crit.includes(SIGNER.profileVersion)) {
        return {
          ok: false,
          error: `the signature has no critical ${SIGNER.profileVersion} naming a signing profile version`,
        };
      }
      const profile = m[1] ?? '';
      const hit = entry.profileArns.find((arn) => arn === profile || arn === version);
      if (!hit) {
        return {
          ok: false,
          error: `signed with AWS Signer profile ${String(version)}, not one the rule names`,
        };
      }
      return { ok: true, signer: `AWS Signer ${String(version)} (Notation signature)` };
    },
  };
}
