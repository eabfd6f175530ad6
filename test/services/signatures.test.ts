import { DescribeImageSigningStatusCommand, ECRClient } from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../lambdas/adapters/oci/client.ts';
import { EcrSigningStatus } from '../../lambdas/adapters/signatures/aws-signer.ts';
import { VerdictCache } from '../../lambdas/adapters/signatures/cache.ts';
import { type AllowlistDocument, compileAllowlist } from '../../lambdas/core/allowlist/index.ts';
import { RegistryUnreachableError } from '../../lambdas/core/errors.ts';
import { SignatureVerifier } from '../../lambdas/services/signatures.ts';
import { cosignBundleSign, cosignSign, type KeyPair, keyPair } from '../helpers/cosign.ts';
import { pushImage, TestRegistry } from '../helpers/oci-registry.ts';

const NOW = new Date('2026-12-01T00:00:00Z');
const REPO = 'apps/api';
const alice = keyPair('p256');
const mallory = keyPair('p256');

let registry: TestRegistry;
beforeEach(async () => {
  registry = await new TestRegistry().start();
});
afterEach(async () => {
  await registry.close();
});

function allowlistFor(host: string, keys: KeyPair[] = [alice]) {
  const doc: AllowlistDocument = {
    version: 1,
    rules: [
      {
        id: 'signed-apps',
        registry: host,
        repository: 'apps/**',
        requireSignature: [{ cosign: { publicKeys: keys.map((k) => k.publicPem) } }],
      },
    ],
  };
  return compileAllowlist(doc);
}

function verifier(extra: Partial<ConstructorParameters<typeof SignatureVerifier>[0]> = {}) {
  return new SignatureVerifier({ registry: new RegistryClient(), ...extra });
}

async function judge(
  image: string,
  v = verifier(),
  keys?: KeyPair[],
  digest: string | null = null,
) {
  return v.decide(allowlistFor(registry.host, keys), image, {}, NOW, digest);
}

describe('cosign key signatures through the loopback registry', () => {
  for (const kind of ['p256', 'p384', 'rsa', 'ed25519'] as const) {
    it(`verifies a ${kind} signature at the .sig tag`, async () => {
      // Prepare
      const key = keyPair(kind);
      const digest = pushImage(registry, REPO, '1.0');
      cosignSign(registry, REPO, digest, key.privateKey);
      // Act
      const decision = await judge(`${registry.host}/${REPO}@${digest}`, verifier(), [key]);
      // Assess
      expect(decision).toMatchObject({ allowed: true, matchedRule: 'signed-apps' });
      expect(decision.signature).toMatchObject({ status: 'verified', digest });
      expect(decision.signature?.status === 'verified' && decision.signature.signer).toMatch(
        /^cosign key sha256:[0-9a-f]{16} \(tag sha256-[0-9a-f]{64}\.sig\)$/,
      );
    });
  }

  it('verifies a signature stored as a referrer, through the API and through the tag fallback', async () => {
    for (const referrersApi of [true, false]) {
      // Prepare
      const r = await new TestRegistry({ referrersApi }).start();
      try {
        const digest = pushImage(r, REPO, '1.0');
        cosignSign(r, REPO, digest, alice.privateKey, { mode: 'referrer' });
        // Act
        const decision = await verifier().decide(
          allowlistFor(r.host),
          `${r.host}/${REPO}@${digest}`,
          {},
          NOW,
        );
        // Assess
        expect(decision.allowed).toBe(true);
        expect(decision.signature?.status === 'verified' && decision.signature.signer).toContain(
          'referrer sha256:',
        );
      } finally {
        await r.close();
      }
    }
  });

  it('verifies a pod by the digest that ran (imageID), not by its tag', async () => {
    const digest = pushImage(registry, REPO, '1.0');
    cosignSign(registry, REPO, digest, alice.privateKey);
    const decision = await judge(`${registry.host}/${REPO}:1.0`, verifier(), undefined, digest);
    expect(decision.allowed).toBe(true);
  });

  it('is unsigned-image when no signature exists', async () => {
    const digest = pushImage(registry, REPO, '1.0');
    const decision = await judge(`${registry.host}/${REPO}@${digest}`);
    expect(decision.violations).toEqual([
      expect.objectContaining({
        rule: 'unsigned-image',
        severity: 'high',
        message: expect.stringContaining('no cosign signature'),
      }),
    ]);
  });

  it('is unsigned-image when the digest cannot be determined (a tag, no imageID)', async () => {
    pushImage(registry, REPO, '1.0');
    const v = verifier();
    const decision = await judge(`${registry.host}/${REPO}:1.0`, v);
    expect(decision.violations).toEqual([
      expect.objectContaining({
        rule: 'unsigned-image',
        message: expect.stringContaining('digest of'),
      }),
    ]);
    expect(registry.requests).toEqual([]);
  });

  it('is signature-invalid for a tampered payload, a payload naming another digest, or another key', async () => {
    // Prepare
    const tampered = pushImage(registry, REPO, 'a', 'a');
    cosignSign(registry, REPO, tampered, alice.privateKey, { tamper: true });
    const redirected = pushImage(registry, REPO, 'b', 'b');
    const other = pushImage(registry, REPO, 'c', 'c');
    cosignSign(registry, REPO, redirected, alice.privateKey, { payloadDigest: other });
    const foreign = pushImage(registry, REPO, 'd', 'd');
    cosignSign(registry, REPO, foreign, mallory.privateKey);
    // Act
    const results = await Promise.all(
      [tampered, redirected, foreign].map((d) => judge(`${registry.host}/${REPO}@${d}`)),
    );
    // Assess
    expect(results.map((d) => d.violations.map((v) => v.rule))).toEqual([
      ['signature-invalid'],
      ['signature-invalid'],
      ['signature-invalid'],
    ]);
    expect(results[0]?.violations[0]?.message).toContain('does not verify');
    expect(results[1]?.violations[0]?.message).toContain(`payload signs ${other}`);
    expect(results[2]?.violations[0]?.message).toContain('does not verify');
  });

  it("copying another image's valid signature under this digest's .sig tag is refused", async () => {
    // Prepare: a signature of `good`, replayed at the `.sig` tag of `evil`.
    const good = pushImage(registry, REPO, 'good', 'good');
    const evil = pushImage(registry, REPO, 'evil', 'evil');
    const manifest = cosignSign(registry, REPO, good, alice.privateKey);
    const r = registry as unknown as { pushManifest: TestRegistry['pushManifest'] };
    const res = await fetch(`http://${registry.host}/v2/${REPO}/manifests/${manifest}`);
    r.pushManifest(REPO, await res.text(), `${evil.replace(':', '-')}.sig`);
    // Act
    const decision = await judge(`${registry.host}/${REPO}@${evil}`);
    // Assess
    expect(decision.violations[0]).toMatchObject({ rule: 'signature-invalid' });
    expect(decision.violations[0]?.message).toContain(`payload signs ${good}`);
  });

  it('ignores a referrer whose manifest names another subject', async () => {
    const digest = pushImage(registry, REPO, '1.0');
    const other = pushImage(registry, REPO, '2.0', 'other');
    cosignSign(registry, REPO, other, alice.privateKey, { mode: 'referrer' });
    const decision = await judge(`${registry.host}/${REPO}@${digest}`);
    expect(decision.violations.map((v) => v.rule)).toEqual(['unsigned-image']);
  });

  it('one broken artifact hides no other: a garbled referrer is skipped, a lost payload fails alone', async () => {
    // Prepare: a valid tag signature next to a referrer whose manifest is served corrupted,
    // and an image whose only signature payload blob is missing.
    const digest = pushImage(registry, REPO, '1.0');
    cosignSign(registry, REPO, digest, alice.privateKey);
    const bad = cosignSign(registry, REPO, digest, mallory.privateKey, { mode: 'referrer' });
    registry.fail({ match: `/manifests/${bad}`, status: 500, times: 10 });
    const lost = pushImage(registry, REPO, '2.0', 'lost');
    const manifest = cosignSign(registry, REPO, lost, alice.privateKey);
    const res = await fetch(`http://${registry.host}/v2/${REPO}/manifests/${manifest}`);
    const payloadDigest =
      ((await res.json()) as { layers: { digest: string }[] }).layers[0]?.digest ?? '';
    registry.fail({ match: `/blobs/${payloadDigest}`, status: 404, times: 10 });
    // Act
    const ok = await judge(`${registry.host}/${REPO}@${digest}`);
    const broken = await judge(`${registry.host}/${REPO}@${lost}`);
    // Assess
    expect(ok.allowed).toBe(true);
    expect(broken.violations[0]).toMatchObject({
      rule: 'signature-invalid',
      message: expect.stringContaining('not found'),
    });
  });

  it('accepts when any key of the entry verifies', async () => {
    const digest = pushImage(registry, REPO, '1.0');
    cosignSign(registry, REPO, digest, alice.privateKey);
    const decision = await judge(`${registry.host}/${REPO}@${digest}`, verifier(), [
      mallory,
      alice,
    ]);
    expect(decision.allowed).toBe(true);
  });

  it('throws a named error when the registry is down, or fails closed when asked to', async () => {
    // Prepare
    const digest = `sha256:${'e'.repeat(64)}`;
    const down = compileAllowlist({
      version: 1,
      rules: [
        {
          id: 'r',
          registry: 'down.example',
          requireSignature: [{ cosign: { publicKeys: [alice.publicPem] } }],
        },
      ],
    });
    const client = new RegistryClient({ endpoints: { 'down.example': 'http://127.0.0.1:1' } });
    const strict = new SignatureVerifier({ registry: client });
    const closed = new SignatureVerifier({ registry: client, failClosedOnError: true });
    // Act / Assess
    await expect(strict.decide(down, `down.example/app@${digest}`, {}, NOW)).rejects.toBeInstanceOf(
      RegistryUnreachableError,
    );
    const decision = await closed.decide(down, `down.example/app@${digest}`, {}, NOW);
    expect(decision.violations).toEqual([
      expect.objectContaining({
        rule: 'unsigned-image',
        message: expect.stringContaining('could not be checked'),
      }),
    ]);
    expect(closed.cache.stats().size).toBe(0);
  });

  it('gives up on a registry that keeps answering 429 with a named error', async () => {
    const digest = pushImage(registry, REPO, '1.0');
    registry.fail({ match: '.sig', status: 429, headers: { 'retry-after': '0' }, times: 10 });
    await expect(judge(`${registry.host}/${REPO}@${digest}`)).rejects.toMatchObject({
      name: 'RegistryError',
      status: 429,
    });
  });
});

describe('cosign v3 bundles signed with a key', () => {
  it('verifies the DSSE statement naming the digest, and refuses the wrong key, subject or predicate', async () => {
    // Prepare
    const good = pushImage(registry, REPO, 'a', 'a');
    cosignBundleSign(registry, REPO, good, alice.privateKey);
    const foreign = pushImage(registry, REPO, 'b', 'b');
    cosignBundleSign(registry, REPO, foreign, mallory.privateKey);
    const moved = pushImage(registry, REPO, 'c', 'c');
    cosignBundleSign(registry, REPO, moved, alice.privateKey, { subjectDigest: good });
    const attested = pushImage(registry, REPO, 'd', 'd');
    cosignBundleSign(registry, REPO, attested, alice.privateKey, {
      predicateType: 'https://slsa.dev/provenance/v1',
    });
    // Act
    const [a, b, c, d] = await Promise.all(
      [good, foreign, moved, attested].map((digest) => judge(`${registry.host}/${REPO}@${digest}`)),
    );
    // Assess
    expect(a?.allowed).toBe(true);
    expect(a?.signature?.status === 'verified' && a.signature.signer).toContain('referrer sha256:');
    expect(b?.violations[0]).toMatchObject({
      rule: 'signature-invalid',
      message: expect.stringContaining('does not verify'),
    });
    expect(c?.violations[0]).toMatchObject({
      rule: 'signature-invalid',
      message: expect.stringContaining('do not include'),
    });
    expect(d?.violations[0]).toMatchObject({
      rule: 'signature-invalid',
      message: expect.stringContaining('not a cosign signature'),
    });
  });
});

describe('the verdict cache', () => {
  it('costs one verification per digest and rule; a new signature push invalidates', async () => {
    // Prepare
    const digest = pushImage(registry, REPO, '1.0');
    const v = verifier();
    const image = `${registry.host}/${REPO}@${digest}`;
    // Act: unsigned first, then many sightings
    const before = await judge(image, v);
    const requestsAfterFirst = registry.requests.length;
    for (let i = 0; i < 20; i++) await judge(image, v);
    const requestsAfterRepeat = registry.requests.length;
    cosignSign(registry, REPO, digest, alice.privateKey);
    const stale = await judge(image, v);
    v.cache.invalidate(digest);
    const fresh = await judge(image, v);
    // Assess
    expect(before.violations[0]?.rule).toBe('unsigned-image');
    expect(requestsAfterRepeat).toBe(requestsAfterFirst);
    expect(stale.allowed).toBe(false);
    expect(fresh.allowed).toBe(true);
    expect(v.verifications).toBe(2);
  });

  it('shares one verification between concurrent misses, and never reuses a verdict for an edited rule', async () => {
    // Prepare
    const digest = pushImage(registry, REPO, '1.0');
    cosignSign(registry, REPO, digest, alice.privateKey);
    const v = verifier();
    const image = `${registry.host}/${REPO}@${digest}`;
    // Act
    const all = await Promise.all(Array.from({ length: 10 }, () => judge(image, v)));
    const edited = await judge(image, v, [mallory]);
    // Assess
    expect(all.every((d) => d.allowed)).toBe(true);
    expect(edited.violations[0]?.rule).toBe('signature-invalid');
    expect(v.verifications).toBe(2);
  });

  it('expires negative verdicts quickly and positive ones slowly', async () => {
    let now = 0;
    const cache = new VerdictCache({ now: () => now, negativeTtlMs: 1000, verifiedTtlMs: 100_000 });
    const digest = `sha256:${'f'.repeat(64)}`;
    const requirement = [{ cosign: { publicKeys: [alice.publicPem] } }];
    let computed = 0;
    const unsigned = async () => {
      computed++;
      return { status: 'unsigned' as const, digest, reason: 'none' };
    };
    await cache.get(digest, 'r', requirement, unsigned);
    now = 999;
    await cache.get(digest, 'r', requirement, unsigned);
    now = 1000;
    await cache.get(digest, 'r', requirement, unsigned);
    expect(computed).toBe(2);
    const bounded = new VerdictCache({ maxEntries: 3 });
    for (let i = 0; i < 10; i++)
      await bounded.get(`sha256:${String(i).repeat(64)}`, 'r', requirement, unsigned);
    expect(bounded.stats().size).toBe(3);
  });
});

describe('AWS Signer through ECR managed signing', () => {
  const ecrMock = mockClient(ECRClient);
  afterEach(() => {
    ecrMock.reset();
  });
  const PROFILE = 'arn:aws:signer:eu-central-1:123456789012:/signing-profiles/release';
  const OTHER = 'arn:aws:signer:eu-central-1:123456789012:/signing-profiles/dev';
  const host = '123456789012.dkr.ecr.eu-central-1.amazonaws.com';
  const digest = `sha256:${'1'.repeat(64)}`;
  const allowlist = compileAllowlist({
    version: 1,
    rules: [
      { id: 'ecr', registry: host, requireSignature: [{ awsSigner: { profileArns: [PROFILE] } }] },
    ],
  });

  async function withStatus(
    statuses: { signingProfileArn: string; status: string; failureReason?: string }[],
  ) {
    ecrMock.on(DescribeImageSigningStatusCommand).resolves({ signingStatuses: statuses as never });
    const v = new SignatureVerifier({
      // Without a managed-signing status the referrers are read: the ECR host is the loopback registry.
      registry: new RegistryClient({ endpoints: { [host]: `http://${registry.host}` } }),
      awsSigner: new EcrSigningStatus(() => new ECRClient({ region: 'eu-central-1' })),
    });
    return v.decide(allowlist, `${host}/team/api@${digest}`, {}, NOW);
  }

  it('COMPLETE for the profile (or a version of it) allows', async () => {
    expect((await withStatus([{ signingProfileArn: PROFILE, status: 'COMPLETE' }])).allowed).toBe(
      true,
    );
    expect(
      (await withStatus([{ signingProfileArn: `${PROFILE}/abcdefghij`, status: 'COMPLETE' }]))
        .allowed,
    ).toBe(true);
    const call = ecrMock.commandCalls(DescribeImageSigningStatusCommand)[0]?.args[0].input;
    expect(call).toEqual({
      registryId: '123456789012',
      repositoryName: 'team/api',
      imageId: { imageDigest: digest },
    });
  });

  it('IN_PROGRESS and FAILED are unsigned-image; another profile is signature-invalid', async () => {
    const progress = await withStatus([{ signingProfileArn: PROFILE, status: 'IN_PROGRESS' }]);
    const failed = await withStatus([
      { signingProfileArn: PROFILE, status: 'FAILED', failureReason: 'KMS denied' },
    ]);
    const other = await withStatus([{ signingProfileArn: OTHER, status: 'COMPLETE' }]);
    const none = await withStatus([]);
    expect(progress.violations[0]).toMatchObject({
      rule: 'unsigned-image',
      message: expect.stringContaining('in progress'),
    });
    expect(failed.violations[0]).toMatchObject({
      rule: 'unsigned-image',
      message: expect.stringContaining('FAILED: KMS denied'),
    });
    expect(other.violations[0]).toMatchObject({
      rule: 'signature-invalid',
      message: expect.stringContaining(OTHER),
    });
    expect(none.violations[0]).toMatchObject({ rule: 'unsigned-image' });
  });

  it('a profile name is not a prefix match of another profile', async () => {
    const decision = await withStatus([{ signingProfileArn: `${PROFILE}x`, status: 'COMPLETE' }]);
    expect(decision.violations[0]?.rule).toBe('signature-invalid');
  });
});
