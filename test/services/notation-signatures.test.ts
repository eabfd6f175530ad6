/**
 * Notation signatures end to end: stored as OCI referrers in the loopback registry, found by
 * the real client, verified by the verifier for `notation` entries (trust store + x509.subject
 * identities) and for `awsSigner` entries outside ECR (signing authority + signing profile),
 * with the right violation for each way a signature can be wrong or missing.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DescribeImageSigningStatusCommand, ECRClient } from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../lambdas/adapters/oci/client.ts';
import { EcrSigningStatus } from '../../lambdas/adapters/signatures/aws-signer.ts';
import { VerdictCache } from '../../lambdas/adapters/signatures/cache.ts';
import { compileAllowlist } from '../../lambdas/core/allowlist/index.ts';
import type { SignatureEntry } from '../../lambdas/core/signatures/schema.ts';
import { SignatureVerifier } from '../../lambdas/services/signatures.ts';
import {
  certPem,
  type EnvelopeOptions,
  NOTATION_FIXTURES,
  notationCoseEnvelope,
  notationEnvelope,
  pushNotationSignature,
  targetOf,
} from '../helpers/notation.ts';
import { OCI_MANIFEST, pushImage, TestRegistry } from '../helpers/oci-registry.ts';

const LATER = new Date('2030-01-01T00:00:00Z');
const SIGNED = new Date('2029-12-31T00:00:00Z');
const BUILDER = 'x509.subject: C=US, ST=WA, O=regwatch-test, OU=release, CN=builder';
const PROFILE = 'arn:aws:signer:eu-central-1:123456789012:/signing-profiles/release';
const VERSION = `${PROFILE}/a1b2C3d4E5`;

let registry: TestRegistry;
beforeAll(async () => {
  registry = await new TestRegistry().start();
});
afterAll(async () => {
  await registry.close();
});

let seed = 0;
/** A fresh image in `repo` and its digest. */
function image(repo = 'apps/api'): string {
  seed++;
  return pushImage(registry, repo, `v${seed}`, `notation-${seed}`);
}

function decide(entry: SignatureEntry, digest: string, repo = 'apps/api', now = LATER) {
  const allowlist = compileAllowlist({
    version: 1,
    rules: [{ id: 'signed', registry: registry.host, requireSignature: [entry] }],
  });
  const verifier = new SignatureVerifier({ registry: new RegistryClient() });
  return verifier.decide(allowlist, `${registry.host}/${repo}@${digest}`, {}, now);
}

const notation = (
  extra: Partial<NonNullable<SignatureEntry['notation']>> = {},
): SignatureEntry => ({
  notation: { trustedCertificates: [certPem('root')], trustedIdentities: [BUILDER], ...extra },
});

async function signedWith(options: EnvelopeOptions, entry: SignatureEntry = notation()) {
  const digest = image();
  pushNotationSignature(registry, 'apps/api', digest, { signingTime: SIGNED, ...options });
  return decide(entry, digest);
}

describe('notation entries', () => {
  it('a Notation JWS signature by a trusted identity verifies; the verdict names the signer', async () => {
    const decision = await signedWith({});
    expect(decision.allowed).toBe(true);
    expect(decision.signature).toMatchObject({
      status: 'verified',
      signer: expect.stringMatching(
        /^notation x509\.subject: C=US, ST=WA, L=Seattle, O=regwatch-test, OU=release, CN=builder \(referrer sha256:/,
      ),
    });
    const rsa = await signedWith(
      { chain: ['leaf-rsa', 'intermediate', 'root'] },
      notation({
        trustedIdentities: ['x509.subject: C=US, ST=WA, O=regwatch-test, CN=rsa-builder'],
      }),
    );
    expect(rsa.allowed).toBe(true);
    const anyone = await signedWith({}, notation({ trustedIdentities: ['*'] }));
    expect(anyone.allowed).toBe(true);
  });

  it.each([
    ['a tampered payload', { tamper: true }, 'does not verify'],
    [
      'a payload naming another digest',
      { target: { digest: `sha256:${'e'.repeat(64)}` } },
      'payload signs sha256:eeee',
    ],
    ['a payload lying about the manifest size', { target: { size: 1 } }, 'payload names size 1'],
    [
      'an untrusted root',
      { chain: ['other-leaf', 'other-root'] },
      'does not lead to a certificate the entry trusts',
    ],
    [
      'an expired certificate',
      {
        chain: ['leaf-expired', 'intermediate', 'root'],
        signingTime: new Date('2020-06-01T00:00:00Z'),
      },
      'CN=expired is not valid at verification time',
    ],
    [
      'a serverAuth EKU',
      { chain: ['leaf-serverauth', 'intermediate', 'root'] },
      'extendedKeyUsage serverAuth',
    ],
    [
      'an unknown critical header',
      { extra: { 'com.example.mustUnderstand': true } },
      'unknown critical header com.example.mustUnderstand',
    ],
    ['a passed expiry', { expiry: new Date('2029-12-31T06:00:00Z') }, 'the signature expired'],
    [
      'a signing-authority scheme against a CA trust store',
      { scheme: 'notary.x509.signingAuthority' },
      'needs a signingAuthority trust store',
    ],
  ] as const)('%s is signature-invalid', async (_name, options, message) => {
    const decision = await signedWith(options as EnvelopeOptions);
    expect(decision.allowed).toBe(false);
    expect(decision.violations).toEqual([
      expect.objectContaining({
        rule: 'signature-invalid',
        severity: 'high',
        message: expect.stringContaining(message),
      }),
    ]);
  });

  it('a trusted chain but another identity is signature-invalid', async () => {
    const decision = await signedWith(
      {},
      notation({
        trustedIdentities: ['x509.subject: C=US, ST=WA, O=regwatch-test, CN=someone-else'],
      }),
    );
    expect(decision.violations[0]).toMatchObject({
      rule: 'signature-invalid',
      message: expect.stringContaining(
        "CN=builder, which is not one of the entry's trusted identities",
      ),
    });
  });

  it("a copy of another image's valid signature, pushed as this digest's referrer, is refused", async () => {
    const original = image();
    const copy = image();
    const envelope = notationEnvelope(targetOf(registry, 'apps/api', original), {
      signingTime: SIGNED,
    });
    pushNotationSignature(registry, 'apps/api', copy, envelope);
    const decision = await decide(notation(), copy);
    expect(decision.violations[0]).toMatchObject({
      rule: 'signature-invalid',
      message: expect.stringContaining(`payload signs ${original}, not ${copy}`),
    });
  });

  it('no Notation signature is unsigned-image; one valid signature among bad ones verifies', async () => {
    const bare = image();
    expect((await decide(notation(), bare)).violations[0]).toMatchObject({
      rule: 'unsigned-image',
      message: expect.stringContaining(`no Notation signature for ${bare}`),
    });
    const mixed = image();
    pushNotationSignature(registry, 'apps/api', mixed, { signingTime: SIGNED, tamper: true });
    pushNotationSignature(registry, 'apps/api', mixed, { signingTime: SIGNED });
    expect((await decide(notation(), mixed)).allowed).toBe(true);
  });

  it('a COSE envelope verifies like a JWS one, and fails the same ways', async () => {
    const cose = async (options: EnvelopeOptions) => {
      const digest = image();
      const envelope = notationCoseEnvelope(targetOf(registry, 'apps/api', digest), {
        signingTime: SIGNED,
        ...options,
      });
      pushNotationSignature(registry, 'apps/api', digest, envelope, 'application/cose');
      return decide(notation(), digest);
    };
    expect((await cose({})).allowed).toBe(true);
    expect(
      (await cose({ chain: ['leaf-rsa', 'intermediate', 'root'] })).violations[0]?.message,
    ).toContain('CN=rsa-builder, which is not one of');
    expect((await cose({ tamper: true })).violations[0]?.message).toContain('does not verify');
    expect((await cose({ chain: ['other-leaf', 'other-root'] })).violations[0]?.message).toContain(
      'does not lead to a certificate the entry trusts',
    );
    expect((await cose({ extra: { 'com.example.x': 'y' } })).violations[0]?.message).toContain(
      'unknown critical header com.example.x',
    );
    expect(
      (await cose({ target: { digest: `sha256:${'e'.repeat(64)}` } })).violations[0],
    ).toMatchObject({
      rule: 'signature-invalid',
      message: expect.stringContaining('payload signs sha256:eeee'),
    });
  });
});

describe('a real notation-go signature served by the registry', () => {
  it('verifies byte-exact against its own certificate, and names alpine as the signer', async () => {
    // Prepare: the manifest and envelope exactly as notation-go's test data holds them.
    const dir = path.join(NOTATION_FIXTURES, 'notation-go');
    const manifest = readFileSync(path.join(dir, 'alpine-manifest.json'), 'utf8');
    const digest = registry.pushManifest('library/alpine', manifest, 'v2');
    const envelope = readFileSync(path.join(dir, 'jws_signature.sig'));
    pushNotationSignature(registry, 'library/alpine', digest, envelope);
    const x5c =
      (JSON.parse(envelope.toString()) as { header: { x5c: string[] } }).header.x5c[0] ?? '';
    const pem = `-----BEGIN CERTIFICATE-----\n${x5c}\n-----END CERTIFICATE-----\n`;
    const entry: SignatureEntry = {
      notation: {
        trustedCertificates: [pem],
        trustedIdentities: ['x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=alpine'],
      },
    };
    // Act
    const decision = await decide(
      entry,
      digest,
      'library/alpine',
      new Date('2026-12-01T00:00:00Z'),
    );
    const other = await decide(
      notation(),
      digest,
      'library/alpine',
      new Date('2026-12-01T00:00:00Z'),
    );
    // Assess
    expect(digest).toBe('sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0');
    expect(decision.signature).toMatchObject({
      status: 'verified',
      signer: expect.stringContaining('CN=alpine'),
    });
    expect(other.violations[0]?.rule).toBe('signature-invalid');
  });

  it('its COSE twin (cose_signature.sig, the same image) verifies byte-exact too', async () => {
    const dir = path.join(NOTATION_FIXTURES, 'notation-go');
    const manifest = readFileSync(path.join(dir, 'alpine-manifest.json'), 'utf8');
    const digest = registry.pushManifest('library/alpine-cose', manifest, 'v2');
    const cose = readFileSync(path.join(dir, 'cose_signature.sig'));
    pushNotationSignature(registry, 'library/alpine-cose', digest, cose, 'application/cose');
    const jws = JSON.parse(readFileSync(path.join(dir, 'jws_signature.sig'), 'utf8')) as {
      header: { x5c: string[] };
    };
    const entry: SignatureEntry = {
      notation: {
        trustedCertificates: [
          `-----BEGIN CERTIFICATE-----\n${jws.header.x5c[0]}\n-----END CERTIFICATE-----\n`,
        ],
        trustedIdentities: ['x509.subject: C=US, ST=WA, O=Notary, CN=alpine'],
      },
    };
    const at = new Date('2026-12-01T00:00:00Z');
    const decision = await decide(entry, digest, 'library/alpine-cose', at);
    expect(decision.signature).toMatchObject({
      status: 'verified',
      signer: expect.stringContaining('CN=alpine'),
    });
  });
});

describe('awsSigner entries outside ECR (Notation signatures by a signing authority)', () => {
  const signerOptions = (version = VERSION): EnvelopeOptions => ({
    chain: ['signer-leaf', 'signer-root'],
    scheme: 'notary.x509.signingAuthority',
    extra: {
      'io.cncf.notary.verificationPlugin': 'com.amazonaws.signer.notation.plugin',
      'com.amazonaws.signer.signingProfileVersion': version,
      'com.amazonaws.signer.signingJob':
        'arn:aws:signer:eu-central-1:123456789012:/signing-jobs/5808635f-05de-4207-a891-c95f827b50f4',
    },
  });
  const aws = (
    profileArns = [PROFILE],
    trustedRoots: string[] | null = [certPem('signer-root')],
  ): SignatureEntry => ({
    awsSigner: { profileArns, ...(trustedRoots ? { trustedRoots } : {}) },
  });

  it('the signing profile (or that exact version) verifies against the configured root', async () => {
    const decision = await signedWith(signerOptions(), aws());
    expect(decision.signature).toMatchObject({
      status: 'verified',
      signer: expect.stringContaining(`AWS Signer ${VERSION} (Notation signature`),
    });
    expect((await signedWith(signerOptions(), aws([VERSION]))).allowed).toBe(true);
  });

  it('another profile, a profile merely sharing a prefix, the shipped roots, a CA scheme: signature-invalid', async () => {
    const other = await signedWith(signerOptions(`${PROFILE}x/a1b2C3d4E5`), aws());
    expect(other.violations[0]).toMatchObject({
      rule: 'signature-invalid',
      message: expect.stringContaining(`profile ${PROFILE}x/a1b2C3d4E5, not one the rule names`),
    });
    // Without trustedRoots the shipped AWS Signer roots are the trust store: the test root is not one.
    const shipped = await signedWith(signerOptions(), aws([PROFILE], null));
    expect(shipped.violations[0]).toMatchObject({
      rule: 'signature-invalid',
      message: expect.stringContaining('does not lead to a certificate the entry trusts'),
    });
    const x509 = await signedWith({ ...signerOptions(), scheme: 'notary.x509' }, aws());
    expect(x509.violations[0]?.message).toContain('needs a ca trust store');
    const noProfile = await signedWith({ ...signerOptions(), extra: {} }, aws());
    expect(noProfile.violations[0]?.message).toContain(
      'no critical com.amazonaws.signer.signingProfileVersion',
    );
  });

  it('a notation entry with a signingAuthority trust store verifies a plain signing-authority signature', async () => {
    const decision = await signedWith(
      { chain: ['signer-leaf', 'signer-root'], scheme: 'notary.x509.signingAuthority' },
      notation({
        trustedCertificates: [certPem('signer-root')],
        trustedIdentities: ['x509.subject: C=US, ST=WA, O=regwatch-test, CN=Test Signer'],
        trustStoreType: 'signingAuthority',
      }),
    );
    expect(decision.signature).toMatchObject({
      status: 'verified',
      signer: expect.stringContaining('CN=Test Signer'),
    });
  });

  it('a notation entry does not run the AWS Signer plugin: its signature is refused there', async () => {
    const decision = await signedWith(
      signerOptions(),
      notation({
        trustedCertificates: [certPem('signer-root')],
        trustedIdentities: ['*'],
        trustStoreType: 'signingAuthority',
      }),
    );
    expect(decision.violations[0]?.message).toContain(
      'requires the Notation verification plugin "com.amazonaws.signer.notation.plugin", which regwatch does not run',
    );
  });

  it('nothing stored is unsigned-image', async () => {
    const digest = image();
    expect((await decide(aws(), digest)).violations[0]).toMatchObject({ rule: 'unsigned-image' });
  });
});

describe('awsSigner on ECR: Notation referrers when managed signing reports nothing', () => {
  const ecrMock = mockClient(ECRClient);
  afterAll(() => ecrMock.restore());
  const ECR = '123456789012.dkr.ecr.eu-central-1.amazonaws.com';

  async function onEcr(statuses: { signingProfileArn: string; status: string }[], signed: boolean) {
    ecrMock.reset();
    ecrMock.on(DescribeImageSigningStatusCommand).resolves({ signingStatuses: statuses as never });
    const digest = image('team/api');
    if (signed) {
      pushNotationSignature(registry, 'team/api', digest, {
        signingTime: SIGNED,
        chain: ['signer-leaf', 'signer-root'],
        scheme: 'notary.x509.signingAuthority',
        extra: {
          'io.cncf.notary.verificationPlugin': 'com.amazonaws.signer.notation.plugin',
          'com.amazonaws.signer.signingProfileVersion': VERSION,
        },
      });
    }
    const allowlist = compileAllowlist({
      version: 1,
      rules: [
        {
          id: 'ecr',
          registry: ECR,
          requireSignature: [
            { awsSigner: { profileArns: [PROFILE], trustedRoots: [certPem('signer-root')] } },
          ],
        },
      ],
    });
    const verifier = new SignatureVerifier({
      registry: new RegistryClient({ endpoints: { [ECR]: `http://${registry.host}` } }),
      awsSigner: new EcrSigningStatus(() => new ECRClient({ region: 'eu-central-1' })),
    });
    return verifier.decide(allowlist, `${ECR}/team/api@${digest}`, {}, LATER);
  }

  it('no status and a Notation signature by the profile: verified', async () => {
    const decision = await onEcr([], true);
    expect(decision.signature).toMatchObject({
      status: 'verified',
      signer: expect.stringContaining(`AWS Signer ${VERSION} (Notation signature`),
    });
  });

  it('no status and nothing stored: unsigned-image naming both', async () => {
    const decision = await onEcr([], false);
    expect(decision.violations[0]).toMatchObject({
      rule: 'unsigned-image',
      message: expect.stringContaining('ECR reports no signing status'),
    });
    expect(decision.violations[0]?.message).toContain('no Notation signature');
  });

  it('a managed-signing status decides alone (IN_PROGRESS stays unsigned-image)', async () => {
    const decision = await onEcr([{ signingProfileArn: PROFILE, status: 'IN_PROGRESS' }], true);
    expect(decision.violations[0]).toMatchObject({
      rule: 'unsigned-image',
      message: expect.stringContaining('in progress'),
    });
  });
});

describe('the verdict cache and Notation validity', () => {
  it('a verified verdict is not reused past the signature expiry', async () => {
    // Prepare: a cache whose clock the test moves; the signature expires an hour after LATER.
    let clock = LATER.getTime();
    const cache = new VerdictCache({ now: () => clock });
    const verifier = new SignatureVerifier({ registry: new RegistryClient(), cache });
    const digest = image();
    pushNotationSignature(registry, 'apps/api', digest, {
      signingTime: SIGNED,
      expiry: new Date(LATER.getTime() + 3600_000),
    });
    const allowlist = compileAllowlist({
      version: 1,
      rules: [{ id: 'signed', registry: registry.host, requireSignature: [notation()] }],
    });
    const ref = `${registry.host}/apps/api@${digest}`;
    // Act
    const first = await verifier.decide(allowlist, ref, {}, LATER);
    clock += 30 * 60_000;
    const halfHour = await verifier.decide(allowlist, ref, {}, new Date(clock));
    clock += 60 * 60_000;
    const after = await verifier.decide(allowlist, ref, {}, new Date(clock));
    // Assess: verified twice with one verification, then verified again and refused.
    expect([first.allowed, halfHour.allowed, after.allowed]).toEqual([true, true, false]);
    expect(verifier.verifications).toBe(2);
    expect(after.violations[0]?.message).toContain('the signature expired');
  });
});

describe('legacy signature manifests', () => {
  it('a signature marked by config.mediaType (OCI 1.0 registries) is found too', async () => {
    const digest = image();
    const target = targetOf(registry, 'apps/api', digest);
    const layer = registry.pushBlob('apps/api', notationEnvelope(target, { signingTime: SIGNED }));
    const config = registry.pushBlob('apps/api', '{}');
    registry.pushManifest('apps/api', {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.cncf.notary.signature', ...config },
      layers: [{ mediaType: 'application/jose+json', ...layer }],
      subject: { mediaType: target.mediaType, digest, size: target.size },
    });
    expect((await decide(notation(), digest)).allowed).toBe(true);
  });
});
