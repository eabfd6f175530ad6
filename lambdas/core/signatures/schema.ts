/**
 * The `requireSignature` constraint of an allowlist rule: a list of ways an image may be
 * signed; any one entry verifying satisfies it. Its own module so the allowlist schema gains
 * one field and nothing else. Keys are parsed here (node:crypto parses, it does no I/O) so a
 * bad key is refused with the rule, not discovered at the first verification.
 */
import type { KeyObject } from 'node:crypto';
import '../zod-defaults.ts';
import * as z from 'zod/mini';
import { identitiesOverlap, parseTrustedIdentity, type TrustedIdentity } from './notation.ts';

const MAX_ENTRIES = 16;
const MAX_KEYS = 16;
const MAX_PEM = 16 * 1024;
const MIN_RSA_BITS = 2048;
const EC_CURVES = ['prime256v1', 'secp384r1', 'secp521r1'] as const;

/** A PEM public key regwatch can verify cosign signatures with, or a message why not. */
export function parseVerificationKey(
  pem: string,
): { ok: true; key: KeyObject } | { ok: false; error: string } {
  if (pem.length > MAX_PEM) return { ok: false, error: `is longer than ${MAX_PEM} characters` };
  if (!pem.includes('-----BEGIN PUBLIC KEY-----')) {
    return { ok: false, error: 'must be a PEM "-----BEGIN PUBLIC KEY-----" block (SPKI)' };
  }
  let key: KeyObject;
  try {
    // Loaded on first use: an allowlist without keys never loads node:crypto.
    const { createPublicKey } = process.getBuiltinModule('node:crypto');
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (error) {
    return { ok: false, error: `is not a readable public key: ${(error as Error).message}` };
  }
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'ec') {
    const curve = details.namedCurve ?? '';
    if (!(EC_CURVES as readonly string[]).includes(curve)) {
      return { ok: false, error: `uses EC curve ${curve}; P-256, P-384 or P-521 are accepted` };
    }
  } else if (type === 'rsa' || type === 'rsa-pss') {
    if ((details.modulusLength ?? 0) < MIN_RSA_BITS) {
      return { ok: false, error: `RSA keys must have at least ${MIN_RSA_BITS} bits` };
    }
  } else if (type !== 'ed25519') {
    return { ok: false, error: `${type} keys are not supported (ECDSA, RSA or Ed25519)` };
  }
  return { ok: true, key };
}

const pemSchema = z.string().check(
  z.superRefine((text, ctx) => {
    const parsed = parseVerificationKey(text);
    if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.error });
  }),
);

const cosignSchema = z.strictObject({
  publicKeys: z
    .array(pemSchema)
    .check(
      z.minLength(1, 'must list at least one PEM public key'),
      z.maxLength(MAX_KEYS, `at most ${MAX_KEYS} keys`),
    ),
});

/** Identity globs: `*` is any run of characters except `/`, `**` any run including `/`. */
export function compileIdentityGlob(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? '';
    if (c === '*' && glob[i + 1] === '*') {
      source += '.*';
      i++;
    } else if (c === '*') source += '[^/]*';
    else source += c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

const keylessSchema = z.strictObject({
  issuer: z
    .string()
    .check(
      z.minLength(1),
      z.maxLength(512),
      z.regex(
        /^https:\/\/[^\s*]+$/,
        'must be the exact https:// URL of the OIDC issuer (no globs)',
      ),
    ),
  subject: z.string().check(
    z.minLength(1),
    z.maxLength(1024),
    z.superRefine((text, ctx) => {
      if (/^\*+$/.test(text)) {
        ctx.addIssue({
          code: 'custom',
          message:
            'must name an identity; a bare wildcard would accept anyone the issuer vouches for',
        });
      }
      if (/\*{3}/.test(text)) ctx.addIssue({ code: 'custom', message: "'***' is not a pattern" });
    }),
  ),
});

const MAX_CERT_PEM = 64 * 1024;

/** PEM certificates (one or more blocks) node:crypto can read, or a message why not. */
export function checkCertificatePem(pem: string): string | null {
  if (pem.length > MAX_CERT_PEM) return `is longer than ${MAX_CERT_PEM} characters`;
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return 'must be PEM "-----BEGIN CERTIFICATE-----" block(s)';
  const { X509Certificate } = process.getBuiltinModule('node:crypto');
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (error) {
      return `is not a readable certificate: ${(error as Error).message}`;
    }
  }
  return null;
}

const certificatePemSchema = z.string().check(
  z.superRefine((text, ctx) => {
    const error = checkCertificatePem(text);
    if (error) ctx.addIssue({ code: 'custom', message: error });
  }),
);

/** `arn:aws:signer:REGION:ACCOUNT:/signing-profiles/NAME[/VERSION]`. */
export const SIGNER_PROFILE_ARN =
  /^arn:aws(?:-[a-z]+)*:signer:[a-z0-9-]+:\d{12}:\/signing-profiles\/[A-Za-z0-9_]{2,64}(?:\/[A-Za-z0-9]{10})?$/;

const awsSignerSchema = z.strictObject({
  profileArns: z
    .array(
      z
        .string()
        .check(
          z.regex(
            SIGNER_PROFILE_ARN,
            'must be a signing profile ARN: arn:aws:signer:REGION:ACCOUNT:/signing-profiles/NAME',
          ),
        ),
    )
    .check(
      z.minLength(1, 'must list at least one signing profile ARN'),
      z.maxLength(MAX_KEYS, `at most ${MAX_KEYS} profiles`),
    ),
  /** Replaces the shipped AWS Signer roots for Notation signatures outside ECR. */
  trustedRoots: z.optional(
    z
      .array(certificatePemSchema)
      .check(
        z.minLength(
          1,
          'must list at least one PEM certificate; omit it to use the shipped AWS Signer roots',
        ),
        z.maxLength(MAX_KEYS, `at most ${MAX_KEYS} certificates`),
      ),
  ),
});

/**
 * Notation's trust policy in one entry: the trust store (`trustedCertificates`, of type `ca`
 * for `notary.x509` signatures or `signingAuthority`) and `trustedIdentities` (`*` or
 * `x509.subject: C=…, ST=…, O=…[, …]`, matched against the signing certificate's subject).
 */
const notationSchema = z.strictObject({
  trustedCertificates: z
    .array(certificatePemSchema)
    .check(
      z.minLength(1, 'must list at least one PEM certificate (the trust store)'),
      z.maxLength(MAX_KEYS, `at most ${MAX_KEYS} certificates`),
    ),
  trustedIdentities: z.array(z.string().check(z.maxLength(2048))).check(
    z.minLength(1, 'must list at least one identity ("x509.subject: C=…, ST=…, O=…" or "*")'),
    z.maxLength(32, 'at most 32 identities'),
    z.superRefine((items, ctx) => {
      const parsed: TrustedIdentity[] = [];
      items.forEach((text, index) => {
        const result = parseTrustedIdentity(text);
        if (!result.ok) {
          ctx.addIssue({ code: 'custom', path: [index], message: result.error });
          return;
        }
        if (result.identity.kind === 'any' && items.length > 1) {
          ctx.addIssue({ code: 'custom', path: [index], message: '"*" must be the only identity' });
        }
        const overlap = parsed.findIndex((other) => identitiesOverlap(other, result.identity));
        if (overlap >= 0 && result.identity.kind === 'subject') {
          ctx.addIssue({
            code: 'custom',
            path: [index],
            message: `overlaps identity #${overlap + 1} (one certificate could match both)`,
          });
        }
        parsed.push(result.identity);
      });
    }),
  ),
  trustStoreType: z.optional(z.enum(['ca', 'signingAuthority'])),
});

const KINDS = ['cosign', 'keyless', 'awsSigner', 'notation'] as const;
export type SignatureKind = (typeof KINDS)[number];

const entrySchema = z
  .strictObject({
    cosign: z.optional(cosignSchema),
    keyless: z.optional(keylessSchema),
    awsSigner: z.optional(awsSignerSchema),
    notation: z.optional(notationSchema),
  })
  .check(
    z.superRefine((entry, ctx) => {
      const given = KINDS.filter((kind) => entry[kind] !== undefined);
      if (given.length !== 1) {
        ctx.addIssue({
          code: 'custom',
          message: `each entry is exactly one of ${KINDS.join(', ')}${given.length > 1 ? ` (got ${given.join(' and ')}; write them as separate entries)` : ''}`,
        });
      }
    }),
  );

export const requireSignatureSchema = z
  .array(entrySchema, {
    error: 'must be a list of cosign / keyless / awsSigner / notation entries',
  })
  .check(
    z.minLength(1, 'must list at least one entry; omit the field to require no signature'),
    z.maxLength(MAX_ENTRIES, `at most ${MAX_ENTRIES} entries`),
  );

export type SignatureEntry = z.infer<typeof entrySchema>;
export type SignatureRequirement = z.infer<typeof requireSignatureSchema>;

/** Keys the entries' sub-objects accept, for "did you mean" hints. */
export const SIGNATURE_ENTRY_KEYS: readonly string[] = KINDS;

/** What an entry is, for messages: `cosign key #1`, `keyless https://… / subject`. */
export function describeEntry(entry: SignatureEntry): string {
  if (entry.cosign) return `cosign (${entry.cosign.publicKeys.length} key(s))`;
  if (entry.keyless) return `keyless ${entry.keyless.issuer} ${entry.keyless.subject}`;
  if (entry.awsSigner) return `AWS Signer ${entry.awsSigner.profileArns.join(', ')}`;
  if (entry.notation) return `Notation ${entry.notation.trustedIdentities.join('; ')}`;
  return 'unknown entry';
}
