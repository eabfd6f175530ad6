/**
 * The cosign "simple signing" payload: the bytes a cosign signature signs. Parsing and the
 * digest check are pure; the signature over the bytes is checked by the adapter.
 * Format: github.com/containers/image docs/containers-signature.5.md, as cosign writes it.
 */
const DIGEST = /^sha256:[a-f0-9]{64}$/;
export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';
const MAX_PAYLOAD = 64 * 1024;

export interface SimpleSigningPayload {
  digest: string;
  dockerReference: string | null;
}

/** Parses a payload and checks that it signs `expectedDigest`; a message says why not. */
export function checkSimpleSigningPayload(
  bytes: Uint8Array,
  expectedDigest: string,
): { ok: true; payload: SimpleSigningPayload } | { ok: false; error: string } {
  if (bytes.byteLength > MAX_PAYLOAD) {
    return { ok: false, error: `payload is larger than ${MAX_PAYLOAD} bytes` };
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return { ok: false, error: 'payload is not UTF-8 JSON' };
  }
  const critical = field(value, 'critical');
  const type = field(critical, 'type');
  if (type !== SIMPLE_SIGNING_TYPE) {
    return {
      ok: false,
      error: `payload type is ${JSON.stringify(type)}, not a cosign image signature`,
    };
  }
  const digest = field(field(critical, 'image'), 'docker-manifest-digest');
  if (typeof digest !== 'string' || !DIGEST.test(digest)) {
    return { ok: false, error: 'payload has no valid critical.image.docker-manifest-digest' };
  }
  if (digest !== expectedDigest) {
    return { ok: false, error: `payload signs ${digest}, not ${expectedDigest}` };
  }
  const reference = field(field(critical, 'identity'), 'docker-reference');
  return {
    ok: true,
    payload: { digest, dockerReference: typeof reference === 'string' ? reference : null },
  };
}

function field(value: unknown, key: string): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  return Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
}
