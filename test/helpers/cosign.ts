/**
 * Signs images in the tests the way `cosign sign --key` stores them: a simple-signing payload
 * blob, an OCI config blob, and a manifest whose one layer carries the base64 signature in
 * the `dev.cosignproject.cosign/signature` annotation — at the `sha256-<hex>.sig` tag, or
 * (cosign's OCI 1.1 mode) as a referrer with artifactType
 * `application/vnd.dev.cosign.artifact.sig.v1+json` and a `subject`.
 */
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { OCI_MANIFEST, type TestRegistry } from './oci-registry.ts';

export interface KeyPair {
  privateKey: KeyObject;
  publicPem: string;
}

export function keyPair(kind: 'p256' | 'p384' | 'rsa' | 'ed25519' = 'p256'): KeyPair {
  const pair =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : kind === 'ed25519'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('ec', { namedCurve: kind === 'p256' ? 'P-256' : 'P-384' });
  return {
    privateKey: pair.privateKey,
    publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** cosign's payload, byte for byte as its Go marshaller writes it. */
export function simpleSigningPayload(repository: string, digest: string): string {
  return `{"critical":{"identity":{"docker-reference":"${repository}"},"image":{"docker-manifest-digest":"${digest}"},"type":"cosign container image signature"},"optional":null}`;
}

/** A signature as cosign makes it: ECDSA/RSA over SHA-256 (DER), Ed25519 pure. */
export function signBytes(key: KeyObject, data: Uint8Array): string {
  const algorithm = key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  return sign(algorithm, data, key).toString('base64');
}

export interface SignOptions {
  mode?: 'tag' | 'referrer';
  /** The digest the payload names (default: the image's). */
  payloadDigest?: string;
  /** Changes the payload after signing (a tampered payload). */
  tamper?: boolean;
  /** Extra layer annotations (certificate, bundle). */
  annotations?: Record<string, string>;
}

export function cosignSign(
  registry: TestRegistry,
  repo: string,
  digest: string,
  key: KeyObject,
  options: SignOptions = {},
): string {
  const payload = simpleSigningPayload(`${registry.host}/${repo}`, options.payloadDigest ?? digest);
  const signature = signBytes(key, Buffer.from(payload));
  const stored = options.tamper
    ? payload.replace('"optional":null', '"optional":{"x":"1"}')
    : payload;
  const payloadBlob = registry.pushBlob(repo, stored);
  const config = registry.pushBlob(
    repo,
    JSON.stringify({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: [{ created: '0001-01-01T00:00:00Z' }],
      os: '',
      rootfs: { type: 'layers', diff_ids: [payloadBlob.digest] },
      config: {},
    }),
  );
  const referrer = options.mode === 'referrer';
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    ...(referrer ? { artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' } : {}),
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [
      {
        mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
        ...payloadBlob,
        annotations: { 'dev.cosignproject.cosign/signature': signature, ...options.annotations },
      },
    ],
    ...(referrer ? { subject: { mediaType: OCI_MANIFEST, digest, size: 0 } } : {}),
  };
  return registry.pushManifest(
    repo,
    manifest,
    referrer ? undefined : `${digest.replace(':', '-')}.sig`,
  );
}

/**
 * cosign v3's form with a key: a Sigstore bundle (v0.3) as a referrer, its DSSE envelope
 * signing an in-toto statement of predicate `https://sigstore.dev/cosign/sign/v1`.
 */
export function cosignBundleSign(
  registry: TestRegistry,
  repo: string,
  digest: string,
  key: KeyObject,
  options: { subjectDigest?: string; predicateType?: string } = {},
): string {
  const statement = JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [
      {
        name: `${registry.host}/${repo}`,
        digest: { sha256: (options.subjectDigest ?? digest).slice('sha256:'.length) },
      },
    ],
    predicateType: options.predicateType ?? 'https://sigstore.dev/cosign/sign/v1',
    predicate: {},
  });
  const payloadType = 'application/vnd.in-toto+json';
  const payload = Buffer.from(statement);
  const type = Buffer.from(payloadType);
  const pae = Buffer.concat([
    Buffer.from(`DSSEv1 ${type.byteLength} `),
    type,
    Buffer.from(` ${payload.byteLength} `),
    payload,
  ]);
  const bundle = {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { publicKey: { hint: 'test-key' }, tlogEntries: [] },
    dsseEnvelope: {
      payload: payload.toString('base64'),
      payloadType,
      signatures: [{ sig: signBytes(key, pae), keyid: '' }],
    },
  };
  const layer = registry.pushBlob(repo, JSON.stringify(bundle));
  const empty = registry.pushBlob(repo, '{}');
  return registry.pushManifest(repo, {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', ...empty },
    layers: [{ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', ...layer }],
    subject: { mediaType: OCI_MANIFEST, digest, size: 0 },
  });
}
