/**
 * Real Sigstore bundles from sigstore-conformance (see the fixtures' SOURCE.md), verified
 * offline with regwatch's keyless verifier and its shipped trusted root.
 */
import { createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../../lambdas/adapters/oci/client.ts';
import { dssePae, verifyRaw } from '../../../lambdas/adapters/signatures/cosign.ts';
import { discoverSignatures } from '../../../lambdas/adapters/signatures/discover.ts';
import {
  legacyBundle,
  SigstoreTrust,
  statementSigns,
  verifyKeyless,
  verifySigstoreBundle,
} from '../../../lambdas/adapters/signatures/keyless.ts';
import { ConfigError } from '../../../lambdas/core/errors.ts';
import { OCI_MANIFEST, TestRegistry } from '../../helpers/oci-registry.ts';

const DIR = path.resolve(import.meta.dirname, '../../fixtures/signatures/sigstore-conformance');
const read = (file: string) => readFileSync(path.join(DIR, file));
const json = (file: string): unknown => JSON.parse(read(file).toString('utf8'));

const BEACON = {
  issuer: 'https://token.actions.githubusercontent.com',
  subject:
    'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main',
};

const trust = new SigstoreTrust();

describe('verifySigstoreBundle with real conformance bundles', () => {
  it('verifies a DSSE bundle offline and returns the signed statement', () => {
    // Act
    const result = verifySigstoreBundle(
      trust,
      json('happy-path-intoto-in-dsse-v3/bundle.sigstore.json'),
      BEACON,
    );
    // Assess
    expect(result).toMatchObject({ ok: true, identity: BEACON.subject, issuer: BEACON.issuer });
    if (!result.ok || !result.dssePayload) throw new Error('expected a DSSE payload');
    expect(JSON.parse(result.dssePayload.toString()).subject[0].name).toBe('a.txt');
  });

  it('verifies a message-signature bundle over its exact artifact bytes only', () => {
    const bundle = json('happy-path-v0.3/bundle.sigstore.json');
    expect(verifySigstoreBundle(trust, bundle, BEACON, read('a.txt'))).toMatchObject({ ok: true });
    const changed = Buffer.concat([read('a.txt'), Buffer.from('!')]);
    expect(verifySigstoreBundle(trust, bundle, BEACON, changed)).toMatchObject({
      ok: false,
      kind: 'invalid',
    });
  });

  it('refuses the wrong identity: another subject, another issuer, a broader glob is still exact', () => {
    const bundle = json('happy-path-intoto-in-dsse-v3/bundle.sigstore.json');
    expect(
      verifySigstoreBundle(trust, bundle, {
        ...BEACON,
        subject: 'https://github.com/acme/*/.github/workflows/*@refs/heads/main',
      }),
    ).toMatchObject({ ok: false, kind: 'identity' });
    expect(
      verifySigstoreBundle(trust, bundle, { ...BEACON, issuer: 'https://accounts.google.com' }),
    ).toMatchObject({
      ok: false,
      kind: 'identity',
    });
    expect(
      verifySigstoreBundle(trust, bundle, {
        ...BEACON,
        subject:
          'https://github.com/sigstore-conformance/*/.github/workflows/*.yml@refs/heads/main',
      }),
    ).toMatchObject({ ok: true });
  });

  it('refuses a tampered DSSE signature', () => {
    expect(
      verifySigstoreBundle(trust, json('dsse-invalid-sig_fail/bundle.sigstore.json'), BEACON),
    ).toMatchObject({
      ok: false,
      kind: 'invalid',
    });
  });

  it('refuses a certificate issued outside its CA validity (expired)', () => {
    const own = new SigstoreTrust(
      json('intoto-expired-certificate_fail/trusted_root.json'),
      'test root',
    );
    const result = verifySigstoreBundle(
      own,
      json('intoto-expired-certificate_fail/bundle.sigstore.json'),
      {
        issuer: BEACON.issuer,
        subject: '**',
      },
    );
    expect(result).toMatchObject({ ok: false, kind: 'invalid' });
    if (!result.ok) expect(result.error).toMatch(/certificate chain/);
  });

  it('uses a replaced trusted root: a private instance fails with the shipped root and passes with its own', () => {
    const bundle = json('intoto-with-custom-trust-root/bundle.sigstore.json');
    const any = { issuer: BEACON.issuer, subject: '**' };
    expect(verifySigstoreBundle(trust, bundle, any)).toMatchObject({ ok: false, kind: 'invalid' });
    const own = new SigstoreTrust(
      json('intoto-with-custom-trust-root/trusted_root.json'),
      'test root',
    );
    expect(verifySigstoreBundle(own, bundle, BEACON)).toMatchObject({
      ok: true,
      identity: BEACON.subject,
    });
  });

  it('refuses an unusable trusted root with a named error', () => {
    expect(() => new SigstoreTrust({ mediaType: 'x' }, 'bad.json')).toThrow(ConfigError);
  });
});

describe('cosign key signatures against real sigstore data', () => {
  it('verifies the managed-key conformance signature over a.txt with verifyRaw', () => {
    const key = createPublicKey(read('managed-key-happy-path/key.pub'));
    const bundle = json('managed-key-happy-path/bundle.sigstore.json') as {
      messageSignature: { signature: string };
    };
    const signature = Buffer.from(bundle.messageSignature.signature, 'base64');
    expect(verifyRaw(key, read('a.txt'), signature)).toBe(true);
    expect(verifyRaw(key, Buffer.from('other'), signature)).toBe(false);
  });
});

describe('DSSE pre-authentication encoding against a real envelope', () => {
  it('the conformance DSSE signature verifies over dssePae with its certificate key', () => {
    const bundle = json('happy-path-intoto-in-dsse-v3/bundle.sigstore.json') as {
      verificationMaterial: { certificate: { rawBytes: string } };
      dsseEnvelope: { payload: string; payloadType: string; signatures: { sig: string }[] };
    };
    const cert = new X509Certificate(
      Buffer.from(bundle.verificationMaterial.certificate.rawBytes, 'base64'),
    );
    const { payload, payloadType, signatures } = bundle.dsseEnvelope;
    const pae = dssePae(payloadType, Buffer.from(payload, 'base64'));
    const sig = Buffer.from(signatures[0]?.sig ?? '', 'base64');
    expect(verifyRaw(cert.publicKey, pae, sig)).toBe(true);
    expect(
      verifyRaw(cert.publicKey, dssePae('text/plain', Buffer.from(payload, 'base64')), sig),
    ).toBe(false);
  });
});

describe('statements as image signatures', () => {
  const digest = `sha256:${'c'.repeat(64)}`;
  const statement = (predicateType: string, hex = 'c'.repeat(64)) =>
    Buffer.from(
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ name: 'img', digest: { sha256: hex } }],
        predicateType,
        predicate: {},
      }),
    );

  it('accepts only a cosign sign statement naming the digest', () => {
    expect(statementSigns(statement('https://sigstore.dev/cosign/sign/v1'), digest)).toBeNull();
    expect(statementSigns(statement('https://slsa.dev/provenance/v1'), digest)).toMatch(
      /not a cosign signature/,
    );
    expect(
      statementSigns(statement('https://sigstore.dev/cosign/sign/v1', 'd'.repeat(64)), digest),
    ).toMatch(/do not include/);
  });
});

describe('keyless signatures found in a registry', () => {
  let registry: TestRegistry | null = null;
  afterEach(async () => {
    await registry?.close();
    registry = null;
  });

  it('finds a Sigstore bundle referrer, verifies it, and refuses an attestation as a signature', async () => {
    // Prepare: the conformance DSSE bundle stored as cosign v3 stores bundles, for the digest
    // its statement names.
    registry = await new TestRegistry().start();
    const digest = `sha256:${'a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf'}`;
    const bundle = registry.pushBlob(
      'apps/api',
      read('happy-path-intoto-in-dsse-v3/bundle.sigstore.json'),
    );
    const empty = registry.pushBlob('apps/api', '{}');
    registry.pushManifest('apps/api', {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', ...empty },
      layers: [{ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', ...bundle }],
      subject: { mediaType: OCI_MANIFEST, digest, size: 1 },
    });
    const found = await discoverSignatures(
      new RegistryClient(),
      { host: registry.host, path: 'apps/api' },
      digest,
    );
    // Act
    const outcome = await verifyKeyless(found, BEACON, trust);
    const absent = await verifyKeyless({ ...found, bundles: [] }, BEACON, trust);
    // Assess
    expect(found.bundles).toHaveLength(1);
    expect(outcome).toEqual({
      status: 'rejected',
      reason: expect.stringContaining(
        '"https://slsa.dev/provenance/v1" attestation, not a cosign signature',
      ),
    });
    expect(absent.status).toBe('absent');
  });
});

describe('cosign v2 keyless annotations (certificate + Rekor bundle on the layer)', () => {
  // The real v0.1 conformance bundle, taken apart into the annotations cosign v2 writes.
  const v01 = json('happy-path-v0.1/bundle.sigstore.json') as {
    verificationMaterial: {
      x509CertificateChain: { certificates: { rawBytes: string }[] };
      tlogEntries: {
        logIndex: string;
        logId: { keyId: string };
        integratedTime: string;
        inclusionPromise: { signedEntryTimestamp: string };
        canonicalizedBody: string;
      }[];
    };
    messageSignature: { signature: string };
  };
  const entry = v01.verificationMaterial.tlogEntries[0];
  const raw = v01.verificationMaterial.x509CertificateChain.certificates[0]?.rawBytes ?? '';
  const certificate = new X509Certificate(Buffer.from(raw, 'base64')).toString();
  const rekorBundle = (set = entry?.inclusionPromise.signedEntryTimestamp) =>
    JSON.stringify({
      SignedEntryTimestamp: set,
      Payload: {
        body: entry?.canonicalizedBody,
        integratedTime: Number(entry?.integratedTime),
        logIndex: Number(entry?.logIndex),
        logID: Buffer.from(entry?.logId.keyId ?? '', 'base64').toString('hex'),
      },
    });

  it('rebuilds a bundle that verifies offline over the exact payload bytes', () => {
    const payload = read('a.txt');
    const bundle = legacyBundle(
      certificate,
      rekorBundle(),
      v01.messageSignature.signature,
      payload,
    );
    expect(verifySigstoreBundle(trust, bundle, BEACON, payload)).toMatchObject({
      ok: true,
      identity: BEACON.subject,
    });
    const forged = legacyBundle(
      certificate,
      rekorBundle(`${'A'.repeat(40)}==`),
      v01.messageSignature.signature,
      payload,
    );
    expect(verifySigstoreBundle(trust, forged, BEACON, payload)).toMatchObject({
      ok: false,
      kind: 'invalid',
    });
  });

  it('in a registry: verified signature, then the simple-signing payload check decides', async () => {
    // Prepare: a.txt stands as the payload; it verifies but is not a cosign payload.
    const registry = await new TestRegistry().start();
    try {
      const digest = `sha256:${'9'.repeat(64)}`;
      const payload = registry.pushBlob('apps/api', read('a.txt'));
      const config = registry.pushBlob('apps/api', '{}');
      const layer = (annotations: Record<string, string>) => ({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [
          {
            mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
            ...payload,
            annotations,
          },
        ],
      });
      registry.pushManifest(
        'apps/api',
        layer({
          'dev.cosignproject.cosign/signature': v01.messageSignature.signature,
          'dev.sigstore.cosign/certificate': certificate,
          'dev.sigstore.cosign/bundle': rekorBundle(),
        }),
        `${digest.replace(':', '-')}.sig`,
      );
      const found = await discoverSignatures(
        new RegistryClient(),
        { host: registry.host, path: 'apps/api' },
        digest,
      );
      // Act
      const right = await verifyKeyless(found, BEACON, trust);
      const wrongIdentity = await verifyKeyless(
        found,
        { ...BEACON, subject: 'https://github.com/acme/**' },
        trust,
      );
      // Assess
      expect(right).toEqual({
        status: 'rejected',
        reason: expect.stringContaining(
          `signed by ${BEACON.subject} but payload is not UTF-8 JSON`,
        ),
      });
      expect(wrongIdentity).toEqual({
        status: 'rejected',
        reason: expect.stringContaining('certificate identity error'),
      });
    } finally {
      await registry.close();
    }
  });
});
