/**
 * Notation (Notary Project) signatures stored as OCI referrers (artifactType
 * `application/vnd.cncf.notary.signature`), JWS envelopes (`application/jose+json`): the
 * protected header and payload checks of the core, the signature with the leaf key, the
 * `x5c` chain to a trusted certificate of the entry's trust store, the signing scheme's time
 * rules, then the identity: an `x509.subject` trust-policy identity for `notation` entries, the
 * signing profile (AWS Signer's signed `com.amazonaws.signer.signingProfileVersion`) for
 * `awsSigner` entries. Revocation (OCSP, CRL, AWS Signer's GetRevocationStatus) is not checked.
 */
import { constants, verify } from 'node:crypto';
import {
  checkNotationPayload,
  checkProtectedHeader,
  formatSubject,
  identityMatches,
  JWS_ALGORITHMS,
  type JwsAlgorithm,
  NOTATION_COSE,
  NOTATION_HEADERS,
  NOTATION_JWS,
  type NotationHeader,
  parseTrustedIdentity,
  type TargetDescriptor,
  type TrustedIdentity,
} from '../../core/signatures/notation.ts';
import type { SignatureEntry } from '../../core/signatures/schema.ts';
import type { EntryOutcome } from '../../core/signatures/verdict.ts';
import { AWS_SIGNER_ROOTS_PEM } from './aws-signer-roots.ts';
import { absentReason, type DiscoveredSignatures, readLayer } from './discover.ts';
import {
  type ChainCertificate,
  ChainError,
  chainIsTrusted,
  MAX_CHAIN,
  parseCertificate,
  parsePemCertificates,
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

const B64URL = /^[A-Za-z0-9_-]*$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function base64url(value: unknown): Buffer | null {
  return typeof value === 'string' && B64URL.test(value) ? Buffer.from(value, 'base64url') : null;
}

function algorithmFor(leaf: ChainCertificate): JwsAlgorithm | null {
  const key = leaf.node.publicKey;
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
  const key = leaf.node.publicKey;
  try {
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

/**
 * Verifies one JWS envelope (bytes as stored) for `target` at `now`: integrity (header,
 * signature, payload naming the manifest), then authenticity (chain and trust store), then
 * expiry. Identity is the caller's (it depends on the entry).
 */
export function verifyJwsEnvelope(
  bytes: Uint8Array,
  target: TargetDescriptor,
  trust: EnvelopeTrust,
  now: Date,
): EnvelopeResult {
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
  if (!protectedBytes || !payload || !signature || typeof e.protected !== 'string') {
    return { ok: false, error: 'protected, payload or signature is missing or not base64url' };
  }
  let headerJson: unknown;
  try {
    headerJson = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(protectedBytes));
  } catch {
    return { ok: false, error: 'the protected header is not UTF-8 JSON' };
  }
  const checked = checkProtectedHeader(headerJson, trust.understood);
  if (!checked.ok) return checked;
  const header = checked.header;

  const unprotected = e.header;
  const x5c =
    unprotected !== null && typeof unprotected === 'object' && !Array.isArray(unprotected)
      ? (unprotected as Record<string, unknown>).x5c
      : undefined;
  if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > MAX_CHAIN) {
    return { ok: false, error: `x5c must list 1 to ${MAX_CHAIN} certificates` };
  }
  let chain: ChainCertificate[];
  try {
    chain = x5c.map((item) => {
      if (typeof item !== 'string' || !B64.test(item)) {
        throw new ChainError('an x5c entry is not base64');
      }
      return parseCertificate(Buffer.from(item, 'base64'));
    });
  } catch (error) {
    return { ok: false, error: `x5c: ${(error as Error).message}` };
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
  const input = Buffer.from(`${e.protected}.${String(e.payload)}`, 'ascii');
  if (!signatureVerifies(header.alg, leaf, input, signature)) {
    return { ok: false, error: 'the signature does not verify with the signing certificate' };
  }
  const payloadCheck = checkNotationPayload(payload, target);
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
    return { ok: false, error: (error as Error).message };
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

/** How an entry names who may sign: the trust store, the critical headers it processes, who. */
export interface NotationPolicy {
  trust: EnvelopeTrust;
  /** The signer's name when the identity is trusted, else why not. */
  identify(
    result: Extract<EnvelopeResult, { ok: true }>,
  ): { ok: true; signer: string } | { ok: false; error: string };
  /** For messages: `Notation` or `AWS Signer`. */
  label: string;
}

/** The outcome of a Notation-based entry against what was discovered for the digest. */
export async function verifyNotationSignatures(
  found: DiscoveredSignatures,
  target: () => Promise<TargetDescriptor>,
  policy: NotationPolicy,
  now: Date,
): Promise<EntryOutcome> {
  const problems: string[] = [];
  const unsupported: string[] = [];
  let candidates = 0;
  for (const item of found.notation) {
    if (item.layer.mediaType === NOTATION_COSE) {
      unsupported.push(item.where);
      continue;
    }
    if (item.layer.mediaType !== NOTATION_JWS) {
      problems.push(`${item.where}: envelope type ${item.layer.mediaType} is not a Notation one`);
      continue;
    }
    candidates++;
    const read = await readLayer(found, item.layer);
    if (!read.ok) {
      problems.push(`${item.where}: ${read.error}`);
      continue;
    }
    const result = verifyJwsEnvelope(read.bytes, await target(), policy.trust, now);
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
    const ends = result.chain.map((cert) => cert.notAfter.getTime());
    if (result.header.expiry) ends.push(result.header.expiry.getTime());
    return {
      status: 'verified',
      signer: `${who.signer} (${item.where})`,
      validUntil: Math.min(...ends),
    };
  }
  if (problems.length > 0) return { status: 'rejected', reason: problems.join('; ') };
  const cose =
    unsupported.length > 0
      ? ` (${unsupported.length} COSE envelope(s) found; regwatch verifies Notation JWS envelopes only)`
      : '';
  if (candidates === 0) {
    return {
      status: 'absent',
      reason: absentReason(found, `no Notation signature for ${found.digest}${cose}`),
    };
  }
  return { status: 'rejected', reason: `no Notation signature verified${cose}` };
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
    label: 'Notation',
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
    label: 'AWS Signer',
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
