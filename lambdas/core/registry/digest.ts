/**
 * Digest checks for registry events. AWS's own documentation samples carry digests that no
 * real image can have (`sha256:` + 60 hex, or a hash ending in `EXAMPLE`); they are rejected
 * with a reason that says so, instead of being stored under a key no pod can ever match.
 */

const EXPECTED_HEX: Readonly<Record<string, number>> = { sha256: 64, sha512: 128 };

export type DigestCheck = { ok: true; digest: string } | { ok: false; reason: string };

export function checkDigest(value: unknown, what = 'digest'): DigestCheck {
  if (typeof value !== 'string' || value === '') {
    return { ok: false, reason: `${what} is missing` };
  }
  const colon = value.indexOf(':');
  const algorithm = colon > 0 ? value.slice(0, colon) : '';
  const encoded = colon > 0 ? value.slice(colon + 1) : value;
  if (/EXAMPLE$/i.test(encoded)) {
    return {
      ok: false,
      reason: `${what} ${value} ends in "EXAMPLE": an AWS documentation sample, not a real image`,
    };
  }
  const expected = Object.hasOwn(EXPECTED_HEX, algorithm) ? EXPECTED_HEX[algorithm] : undefined;
  if (expected === undefined) {
    return { ok: false, reason: `${what} ${value} does not use sha256 or sha512` };
  }
  if (!/^[0-9a-f]*$/.test(encoded)) {
    return { ok: false, reason: `${what} ${value} is not lower-case hex after "${algorithm}:"` };
  }
  if (encoded.length !== expected) {
    return {
      ok: false,
      reason: `${what} is not a valid ${algorithm} (${encoded.length} hex chars, expected ${expected}): sample event?`,
    };
  }
  return { ok: true, digest: value };
}
