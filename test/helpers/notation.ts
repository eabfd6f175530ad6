/**
 * Notation signatures made in the tests, in the Notary Project's exact on-registry form: a
 * flattened JWS JSON envelope (`application/jose+json`) whose protected header carries `alg`,
 * `cty`, `crit` and the `io.cncf.notary.*` attributes (keys sorted, as notation's Go
 * marshaller writes them), a payload `{"targetArtifact":{digest,mediaType,size}}`, the `x5c`
 * chain in the unprotected header; stored as a referrer manifest of artifactType
 * `application/vnd.cncf.notary.signature` with an empty config, the envelope as its one layer
 * and the `io.cncf.notary.x509chain.thumbprint#S256` annotation. Certificates and keys are the
 * fixed test ones in test/fixtures/signatures/notation/generated (make-certs.sh made them).
 */
import { constants, createHash, createPrivateKey, type KeyObject, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { OCI_MANIFEST, type TestRegistry } from './oci-registry.ts';

export const NOTATION_FIXTURES = path.resolve(
  import.meta.dirname,
  '../fixtures/signatures/notation',
);
const GENERATED = path.join(NOTATION_FIXTURES, 'generated');

export const NOTATION_ARTIFACT = 'application/vnd.cncf.notary.signature';
export const NOTATION_PAYLOAD = 'application/vnd.cncf.notary.payload.v1+json';

export type TestCertName =
  | 'root'
  | 'intermediate'
  | 'leaf'
  | 'leaf-rsa'
  | 'leaf-serverauth'
  | 'leaf-noncritical-ku'
  | 'leaf-expired'
  | 'other-root'
  | 'other-leaf'
  | 'signer-root'
  | 'signer-leaf';

export function certPem(name: TestCertName): string {
  return readFileSync(path.join(GENERATED, `${name}.pem`), 'utf8');
}

export function certDer(name: TestCertName): Buffer {
  const body = certPem(name)
    .replace(/-----(?:BEGIN|END) CERTIFICATE-----/g, '')
    .replace(/\s+/g, '');
  return Buffer.from(body, 'base64');
}

export function certKey(name: TestCertName): KeyObject {
  return createPrivateKey(readFileSync(path.join(GENERATED, `${name}.key`), 'utf8'));
}

export interface Target {
  digest: string;
  mediaType: string;
  size: number;
}

export interface EnvelopeOptions {
  /** Certificates in x5c, leaf first (default leaf → intermediate → root). */
  chain?: TestCertName[];
  /** The key that signs (default: the first certificate's). */
  key?: TestCertName;
  scheme?: 'notary.x509' | 'notary.x509.signingAuthority';
  signingTime?: Date;
  expiry?: Date;
  /** Protected headers added (and, when listed in `crit`, made critical). */
  extra?: Record<string, unknown>;
  crit?: string[];
  /** Overrides of the computed protected header (`alg`, `cty`, …; undefined removes one). */
  header?: Record<string, unknown>;
  /** The payload's target (default: the image's). */
  target?: Partial<Target>;
  /** Changes the payload after signing. */
  tamper?: boolean;
}

const sorted = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

function algOf(key: KeyObject): { alg: string; hash: string; ec: boolean } {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    const bits = { prime256v1: 256, secp384r1: 384, secp521r1: 512 }[d.namedCurve ?? ''] ?? 256;
    return { alg: `ES${bits}`, hash: `sha${bits}`, ec: true };
  }
  const bits = { 2048: 256, 3072: 384, 4096: 512 }[d.modulusLength ?? 0] ?? 256;
  return { alg: `PS${bits}`, hash: `sha${bits}`, ec: false };
}

/** A Notation JWS envelope over `target`, byte for byte as stored. */
export function notationEnvelope(target: Target, options: EnvelopeOptions = {}): Buffer {
  const chain = options.chain ?? ['leaf', 'intermediate', 'root'];
  const key = certKey(options.key ?? chain[0] ?? 'leaf');
  const { alg, hash, ec } = algOf(key);
  const scheme = options.scheme ?? 'notary.x509';
  const time = rfc3339(options.signingTime ?? new Date(Date.now() - 60_000));
  const crit = options.crit ?? [
    'io.cncf.notary.signingScheme',
    ...(scheme === 'notary.x509.signingAuthority' ? ['io.cncf.notary.authenticSigningTime'] : []),
    ...(options.expiry ? ['io.cncf.notary.expiry'] : []),
    ...Object.keys(options.extra ?? {}),
  ];
  const header: Record<string, unknown> = {
    alg,
    crit,
    cty: NOTATION_PAYLOAD,
    'io.cncf.notary.signingScheme': scheme,
    ...(scheme === 'notary.x509'
      ? { 'io.cncf.notary.signingTime': time }
      : { 'io.cncf.notary.authenticSigningTime': time }),
    ...(options.expiry ? { 'io.cncf.notary.expiry': rfc3339(options.expiry) } : {}),
    ...options.extra,
  };
  for (const [k, v] of Object.entries(options.header ?? {})) {
    if (v === undefined) delete header[k];
    else header[k] = v;
  }
  const payload = JSON.stringify({ targetArtifact: sorted({ ...target, ...options.target }) });
  const protectedB64 = Buffer.from(JSON.stringify(sorted(header))).toString('base64url');
  const payloadB64 = Buffer.from(payload).toString('base64url');
  const input = Buffer.from(`${protectedB64}.${payloadB64}`);
  const signature = ec
    ? sign(hash, input, { key, dsaEncoding: 'ieee-p1363' })
    : sign(hash, input, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      });
  const stored = options.tamper
    ? Buffer.from(payload.replace('"size":', '"size": ')).toString('base64url')
    : payloadB64;
  return Buffer.from(
    JSON.stringify({
      payload: stored,
      protected: protectedB64,
      header: {
        x5c: chain.map((name) => certDer(name).toString('base64')),
        'io.cncf.notary.signingAgent': 'regwatch-test/1.0',
      },
      signature: signature.toString('base64url'),
    }),
  );
}

/** Minimal CBOR encoding for the COSE envelopes the tests make (definite lengths). */
type Cbor =
  | number
  | string
  | Uint8Array
  | Cbor[]
  | Map<number | string, Cbor>
  | { tag: number; value: Cbor };

function cborHead(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}

export function cbor(value: Cbor): Buffer {
  if (value === null) return Buffer.from([0xf6]);
  if (typeof value === 'number') {
    return value >= 0 ? cborHead(0, value) : cborHead(1, -1 - value);
  }
  if (typeof value === 'string') {
    const bytes = Buffer.from(value);
    return Buffer.concat([cborHead(3, bytes.byteLength), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([cborHead(2, value.byteLength), value]);
  if (Array.isArray(value)) return Buffer.concat([cborHead(4, value.length), ...value.map(cbor)]);
  if (value instanceof Map) {
    return Buffer.concat([
      cborHead(5, value.size),
      ...[...value].flatMap(([k, v]) => [cbor(k), cbor(v)]),
    ]);
  }
  return Buffer.concat([cborHead(6, value.tag), cbor(value.value)]);
}

const COSE_ALG: Record<string, number> = {
  PS256: -37,
  PS384: -38,
  PS512: -39,
  ES256: -7,
  ES384: -35,
  ES512: -36,
};

/**
 * A Notation COSE_Sign1_Tagged envelope over `target`, as notation-core-go writes it: labels
 * 1 (alg), 2 (crit), 3 (content type) and the `io.cncf.notary.*` parameters (times as tag-1
 * epoch seconds) protected; x5chain (33) and the signing agent unprotected.
 */
export function notationCoseEnvelope(target: Target, options: EnvelopeOptions = {}): Buffer {
  const chain = options.chain ?? ['leaf', 'intermediate', 'root'];
  const key = certKey(options.key ?? chain[0] ?? 'leaf');
  const { alg, hash, ec } = algOf(key);
  const scheme = options.scheme ?? 'notary.x509';
  const seconds = (d: Date) => ({ tag: 1, value: Math.floor(d.getTime() / 1000) });
  const time = seconds(options.signingTime ?? new Date(Date.now() - 60_000));
  const crit = options.crit ?? [
    'io.cncf.notary.signingScheme',
    ...(scheme === 'notary.x509.signingAuthority' ? ['io.cncf.notary.authenticSigningTime'] : []),
    ...(options.expiry ? ['io.cncf.notary.expiry'] : []),
    ...Object.keys(options.extra ?? {}),
  ];
  const header = new Map<number | string, Cbor>([
    [1, COSE_ALG[alg] ?? 0],
    [2, crit],
    [3, NOTATION_PAYLOAD],
    ['io.cncf.notary.signingScheme', scheme],
    [
      scheme === 'notary.x509'
        ? 'io.cncf.notary.signingTime'
        : 'io.cncf.notary.authenticSigningTime',
      time,
    ],
  ]);
  if (options.expiry) header.set('io.cncf.notary.expiry', seconds(options.expiry));
  for (const [k, v] of Object.entries(options.extra ?? {})) header.set(k, v as Cbor);
  for (const [k, v] of Object.entries(options.header ?? {})) {
    const label = k === 'alg' ? 1 : k === 'crit' ? 2 : k === 'cty' ? 3 : k;
    if (v === undefined) header.delete(label);
    else header.set(label, (k === 'alg' && typeof v === 'string' ? (COSE_ALG[v] ?? 0) : v) as Cbor);
  }
  const protectedBytes = cbor(header);
  const payload = Buffer.from(
    JSON.stringify({ targetArtifact: sorted({ ...target, ...options.target }) }),
  );
  const toBeSigned = cbor(['Signature1', protectedBytes, new Uint8Array(0), payload]);
  const signature = ec
    ? sign(hash, toBeSigned, { key, dsaEncoding: 'ieee-p1363' })
    : sign(hash, toBeSigned, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      });
  const stored = options.tamper
    ? Buffer.from(payload.toString().replace('"size":', '"size": '))
    : payload;
  return cbor({
    tag: 18,
    value: [
      protectedBytes,
      new Map<number | string, Cbor>([
        [33, chain.map((name) => certDer(name))],
        ['io.cncf.notary.signingAgent', 'regwatch-test/1.0'],
      ]),
      stored,
      signature,
    ],
  });
}

/** The descriptor of an image manifest stored in the test registry. */
export function targetOf(registry: TestRegistry, repo: string, digest: string): Target {
  const stored = registry.manifestOf(repo, digest);
  if (!stored) throw new Error(`no manifest ${digest} in ${repo}`);
  return { digest, mediaType: stored.mediaType, size: stored.bytes.byteLength };
}

/** Stores an envelope (given, or made from `options`) as a Notation referrer of `digest`. */
export function pushNotationSignature(
  registry: TestRegistry,
  repo: string,
  digest: string,
  envelope: Buffer | EnvelopeOptions = {},
  layerMediaType = 'application/jose+json',
): string {
  const target = targetOf(registry, repo, digest);
  const bytes = Buffer.isBuffer(envelope) ? envelope : notationEnvelope(target, envelope);
  const layer = registry.pushBlob(repo, bytes);
  const empty = registry.pushBlob(repo, '{}');
  let x5c: string[] = [];
  try {
    x5c = (JSON.parse(bytes.toString()) as { header?: { x5c?: string[] } }).header?.x5c ?? [];
  } catch {
    // A COSE envelope: no thumbprints annotation worth computing here.
  }
  const thumbprints = x5c.map((c) =>
    createHash('sha256').update(Buffer.from(c, 'base64')).digest('hex').toUpperCase(),
  );
  return registry.pushManifest(repo, {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: NOTATION_ARTIFACT,
    config: { mediaType: 'application/vnd.oci.empty.v1+json', ...empty },
    layers: [{ mediaType: layerMediaType, ...layer }],
    subject: { mediaType: target.mediaType, digest, size: target.size },
    annotations: {
      'io.cncf.notary.x509chain.thumbprint#S256': JSON.stringify(thumbprints),
      'org.opencontainers.image.created': '2026-11-30T12:00:00Z',
    },
  });
}
