/**
 * The Notary Project signature format, the pure parts: the JWS protected header (what must be
 * there, what is critical, which signing scheme), the payload (which artifact it signs), and
 * trust-policy identities (`x509.subject: C=…, ST=…, O=…`). The envelope's signature and the
 * certificate chain are checked by the adapter (node:crypto). Specifications:
 * notaryproject/specifications specs/signature-specification.md, signature-envelope-jws.md,
 * trust-store-trust-policy.md.
 */

export const NOTATION_PAYLOAD_TYPE = 'application/vnd.cncf.notary.payload.v1+json';
export const NOTATION_JWS = 'application/jose+json';
export const NOTATION_COSE = 'application/cose';

export const SIGNING_SCHEMES = ['notary.x509', 'notary.x509.signingAuthority'] as const;
export type SigningScheme = (typeof SIGNING_SCHEMES)[number];

/** JWS `alg` values the Notary Project allows, and what each means for node:crypto. */
export const JWS_ALGORITHMS = {
  PS256: { family: 'rsa', hash: 'sha256', bits: 2048 },
  PS384: { family: 'rsa', hash: 'sha384', bits: 3072 },
  PS512: { family: 'rsa', hash: 'sha512', bits: 4096 },
  ES256: { family: 'ec', hash: 'sha256', curve: 'prime256v1' },
  ES384: { family: 'ec', hash: 'sha384', curve: 'secp384r1' },
  ES512: { family: 'ec', hash: 'sha512', curve: 'secp521r1' },
} as const;
export type JwsAlgorithm = keyof typeof JWS_ALGORITHMS;

const H = {
  scheme: 'io.cncf.notary.signingScheme',
  signingTime: 'io.cncf.notary.signingTime',
  authenticSigningTime: 'io.cncf.notary.authenticSigningTime',
  expiry: 'io.cncf.notary.expiry',
  plugin: 'io.cncf.notary.verificationPlugin',
  pluginMinVersion: 'io.cncf.notary.verificationPluginMinVersion',
} as const;
export const NOTATION_HEADERS = H;

/** Registered JWS headers (RFC 7515 §4.1): they must not be listed in `crit`. */
const REGISTERED = new Set([
  'alg',
  'jku',
  'jwk',
  'kid',
  'x5u',
  'x5c',
  'x5t',
  'x5t#S256',
  'typ',
  'cty',
  'crit',
]);
/** Notary Project headers a verifier always processes when they are critical. */
const ALWAYS_UNDERSTOOD = new Set<string>([H.scheme, H.authenticSigningTime, H.expiry]);

export interface NotationHeader {
  alg: JwsAlgorithm;
  scheme: SigningScheme;
  /** `signingTime` (notary.x509, unauthenticated) or `authenticSigningTime` (signingAuthority). */
  signingTime: Date;
  expiry: Date | null;
  /** Every protected header, for attributes a caller understands (AWS Signer's profile). */
  fields: Record<string, unknown>;
  crit: string[];
}

/** RFC 3339 date-time (seconds; fractions tolerated), or null. */
export function parseRfc3339(value: unknown): Date | null {
  if (typeof value !== 'string') return null;
  const m =
    /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/.exec(
      value,
    );
  if (!m) return null;
  const ms = Date.parse(value.toUpperCase());
  return Number.isNaN(ms) ? null : new Date(ms);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Checks a JWS protected header as a Notary Project verifier must: `alg` one of the allowed
 * asymmetric algorithms, `cty` the Notary payload, `crit` present with the signing scheme and
 * every critical header present and understood, the scheme's time attribute, `expiry` (if
 * any) critical and after the signing time. `understood` names extra critical headers the
 * caller processes (AWS Signer's signed attributes); any other critical header fails, as the
 * specification requires.
 */
export function checkProtectedHeader(
  value: unknown,
  understood: ReadonlySet<string> = new Set(),
): { ok: true; header: NotationHeader } | { ok: false; error: string } {
  if (!isRecord(value)) return { ok: false, error: 'the protected header is not a JSON object' };
  const alg = value.alg;
  if (typeof alg !== 'string' || !Object.hasOwn(JWS_ALGORITHMS, alg)) {
    return {
      ok: false,
      error: `alg ${JSON.stringify(alg)} is not one of ${Object.keys(JWS_ALGORITHMS).join(', ')}`,
    };
  }
  if (value.cty !== NOTATION_PAYLOAD_TYPE) {
    return {
      ok: false,
      error: `cty ${JSON.stringify(value.cty)} is not ${NOTATION_PAYLOAD_TYPE}`,
    };
  }
  const crit = value.crit;
  if (!Array.isArray(crit) || crit.length === 0 || crit.length > 32) {
    return { ok: false, error: 'crit is missing or not a list' };
  }
  const names: string[] = [];
  for (const name of crit) {
    if (typeof name !== 'string') return { ok: false, error: 'crit lists a non-string' };
    if (REGISTERED.has(name)) {
      return { ok: false, error: `crit lists the registered header ${name}` };
    }
    if (names.includes(name)) return { ok: false, error: `crit lists ${name} twice` };
    if (!Object.hasOwn(value, name)) {
      return { ok: false, error: `crit lists ${name}, which the header does not have` };
    }
    if (!ALWAYS_UNDERSTOOD.has(name) && !understood.has(name)) {
      if (name === H.plugin) {
        return {
          ok: false,
          error: `the signature requires the Notation verification plugin ${JSON.stringify(value[name])}, which regwatch does not run`,
        };
      }
      return { ok: false, error: `unknown critical header ${name}` };
    }
    names.push(name);
  }
  if (!names.includes(H.scheme)) return { ok: false, error: `crit does not list ${H.scheme}` };
  const scheme = value[H.scheme];
  if (typeof scheme !== 'string' || !(SIGNING_SCHEMES as readonly string[]).includes(scheme)) {
    return { ok: false, error: `signing scheme ${JSON.stringify(scheme)} is not supported` };
  }
  let signingTime: Date | null;
  if (scheme === 'notary.x509') {
    if (Object.hasOwn(value, H.authenticSigningTime)) {
      return { ok: false, error: `${H.authenticSigningTime} is not valid with notary.x509` };
    }
    signingTime = parseRfc3339(value[H.signingTime]);
    if (!signingTime) return { ok: false, error: `${H.signingTime} is missing or not RFC 3339` };
  } else {
    if (!names.includes(H.authenticSigningTime)) {
      return { ok: false, error: `crit does not list ${H.authenticSigningTime}` };
    }
    signingTime = parseRfc3339(value[H.authenticSigningTime]);
    if (!signingTime) {
      return { ok: false, error: `${H.authenticSigningTime} is missing or not RFC 3339` };
    }
  }
  let expiry: Date | null = null;
  if (Object.hasOwn(value, H.expiry)) {
    if (!names.includes(H.expiry)) return { ok: false, error: `${H.expiry} is not critical` };
    expiry = parseRfc3339(value[H.expiry]);
    if (!expiry) return { ok: false, error: `${H.expiry} is not RFC 3339` };
    if (expiry.getTime() <= signingTime.getTime()) {
      return { ok: false, error: 'the expiry is not after the signing time' };
    }
  }
  return {
    ok: true,
    header: {
      alg: alg as JwsAlgorithm,
      scheme: scheme as SigningScheme,
      signingTime,
      expiry,
      fields: value,
      crit: names,
    },
  };
}

export interface TargetDescriptor {
  digest: string;
  mediaType: string;
  size: number;
}

/**
 * The payload must be a Notary payload whose `targetArtifact` names exactly the image
 * manifest: its digest, media type and size (a signature copied from another image, or one
 * that lies about the manifest's type or length, is refused).
 */
export function checkNotationPayload(
  bytes: Uint8Array,
  target: TargetDescriptor,
): { ok: true } | { ok: false; error: string } {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return { ok: false, error: 'the payload is not UTF-8 JSON' };
  }
  const artifact = isRecord(value) ? value.targetArtifact : undefined;
  if (!isRecord(artifact)) return { ok: false, error: 'the payload has no targetArtifact' };
  const { digest, mediaType, size } = artifact;
  if (typeof digest !== 'string' || typeof mediaType !== 'string' || typeof size !== 'number') {
    return { ok: false, error: 'targetArtifact lacks mediaType, digest or size' };
  }
  if (digest !== target.digest) {
    return { ok: false, error: `payload signs ${digest}, not ${target.digest}` };
  }
  if (mediaType !== target.mediaType) {
    return {
      ok: false,
      error: `payload names media type ${mediaType}, the manifest is ${target.mediaType}`,
    };
  }
  if (size !== target.size) {
    return { ok: false, error: `payload names size ${size}, the manifest is ${target.size} bytes` };
  }
  return { ok: true };
}

/** A parsed `trustedIdentities` item: anyone the trusted roots vouch for, or a subject DN. */
export type TrustedIdentity =
  | { kind: 'any' }
  | { kind: 'subject'; attributes: Map<string, string> };

const MANDATORY = ['C', 'ST', 'O'] as const;

/**
 * Splits an RFC 4514 distinguished name into attribute type → value, with the trust policy's
 * rules: `S` is `ST`, each attribute once, single-valued RDNs only, no `#hex` values, and
 * `\,` `\;` `\\` `\ ` (and `\+`, `\=`, `\"`, `\<`, `\>`, `\#`) escapes.
 */
export function parseDistinguishedName(
  text: string,
): { ok: true; attributes: Map<string, string> } | { ok: false; error: string } {
  const attributes = new Map<string, string>();
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (c === '\\') {
      const next = text[i + 1];
      if (next === undefined || !',;\\ +="<>#'.includes(next)) {
        return { ok: false, error: `bad escape at position ${i}` };
      }
      current += `\\${next}`;
      i++;
    } else if (c === ',' || c === ';') {
      parts.push(current);
      current = '';
    } else if (c === '+') {
      return { ok: false, error: 'multi-valued RDNs are not supported' };
    } else current += c;
  }
  parts.push(current);
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq <= 0) return { ok: false, error: `${JSON.stringify(part.trim())} is not TYPE=value` };
    let type = part.slice(0, eq).trim().toUpperCase();
    if (type === 'S') type = 'ST';
    if (!/^(?:[A-Z][A-Z0-9-]*|\d+(?:\.\d+)+)$/.test(type)) {
      return { ok: false, error: `${JSON.stringify(type)} is not an attribute type` };
    }
    const raw = part.slice(eq + 1).replace(/^ +/, '');
    if (raw.startsWith('#')) return { ok: false, error: '#hex values are not supported' };
    // Unescaped trailing spaces are not part of the value; escaped ones are.
    const trimmed = raw.replace(/(?<!\\) +$/, '');
    const value = trimmed.replace(/\\(.)/g, '$1');
    if (value === '') return { ok: false, error: `${type} has an empty value` };
    if (attributes.has(type)) return { ok: false, error: `${type} appears twice` };
    attributes.set(type, value);
  }
  return { ok: true, attributes };
}

/** A `trustedIdentities` item as the trust policy writes it, or why it is refused. */
export function parseTrustedIdentity(
  text: string,
): { ok: true; identity: TrustedIdentity } | { ok: false; error: string } {
  if (text.trim() === '*') return { ok: true, identity: { kind: 'any' } };
  const m = /^x509\.subject:(.*)$/s.exec(text.trim());
  if (!m) return { ok: false, error: 'must be "*" or start with "x509.subject:"' };
  const parsed = parseDistinguishedName(m[1] ?? '');
  if (!parsed.ok) return parsed;
  const missing = MANDATORY.filter((type) => !parsed.attributes.has(type));
  if (missing.length > 0) {
    return {
      ok: false,
      error: `must name at least C, ST (or S) and O; ${missing.join(', ')} missing`,
    };
  }
  return { ok: true, identity: { kind: 'subject', attributes: parsed.attributes } };
}

/**
 * Two subject identities overlap when one certificate could match both (no attribute they
 * both name differs); the trust policy calls such a list invalid.
 */
export function identitiesOverlap(a: TrustedIdentity, b: TrustedIdentity): boolean {
  if (a.kind !== 'subject' || b.kind !== 'subject') return false;
  for (const [type, value] of a.attributes) {
    const other = b.attributes.get(type);
    if (other !== undefined && other !== value) return false;
  }
  return true;
}

/** Whether a certificate subject (attribute → value) satisfies one trusted identity. */
export function identityMatches(
  identity: TrustedIdentity,
  subject: ReadonlyMap<string, string>,
): boolean {
  if (identity.kind === 'any') return true;
  for (const [type, value] of identity.attributes) {
    if (subject.get(type) !== value) return false;
  }
  return true;
}

/** A subject for messages: `C=US, ST=WA, O=acme, CN=builder`, escaped as RFC 4514 wants. */
export function formatSubject(subject: ReadonlyMap<string, string>): string {
  return [...subject]
    .map(([type, value]) => `${type}=${value.replace(/([,;\\+="<>])/g, '\\$1')}`)
    .join(', ');
}
