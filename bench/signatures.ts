/**
 * Signature verdicts: how many decisions per second the verdict cache answers (a busy cluster
 * seeing the same digests), and how many cold verifications per second reach the loopback
 * registry (manifest at the .sig tag, referrers, payload blob, ECDSA P-256 check). Baselines
 * from the same run: plain allowlist decisions (no signature) for the cached path, and bare
 * node:crypto verifications of the same payloads for the cold path. Notation: cold
 * verifications of JWS envelopes (referrer, image manifest for the descriptor, envelope blob,
 * x5c chain leaf → intermediate → root, ES256) against the cosign cold path of the same run.
 */
import { createPublicKey, verify } from 'node:crypto';
import { RegistryClient } from '../lambdas/adapters/oci/client.ts';
import { compileAllowlist } from '../lambdas/core/allowlist/index.ts';
import { SignatureVerifier } from '../lambdas/services/signatures.ts';
import { cosignSign, keyPair, signBytes, simpleSigningPayload } from '../test/helpers/cosign.ts';
import { certPem, pushNotationSignature } from '../test/helpers/notation.ts';
import { pushImage, TestRegistry } from '../test/helpers/oci-registry.ts';
import { type BenchResult, consume, median, throughput, versus } from './lib.ts';

const IMAGES = 200;

async function rate(count: number, fn: () => Promise<unknown>, runs = 3): Promise<number> {
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    consume(await fn());
    rates.push((count * 1000) / (performance.now() - start));
  }
  return median(rates);
}

export async function run(): Promise<BenchResult[]> {
  const registry = await new TestRegistry().start();
  try {
    const key = keyPair('p256');
    const digests: string[] = [];
    for (let i = 0; i < IMAGES; i++) {
      const digest = pushImage(registry, 'apps/api', `v${i}`, `seed-${i}`);
      cosignSign(registry, 'apps/api', digest, key.privateKey);
      digests.push(digest);
    }
    const images = digests.map((d) => `${registry.host}/apps/api@${d}`);
    const allowlist = compileAllowlist({
      version: 1,
      rules: [
        {
          id: 'signed',
          registry: registry.host,
          repository: 'apps/**',
          requireSignature: [{ cosign: { publicKeys: [key.publicPem] } }],
        },
      ],
    });
    const plain = compileAllowlist({
      version: 1,
      rules: [{ id: 'plain', registry: registry.host, repository: 'apps/**' }],
    });
    const now = new Date();

    // Cold: a fresh cache per run, every digest verified through the registry.
    const cold = await rate(IMAGES, async () => {
      const verifier = new SignatureVerifier({ registry: new RegistryClient() });
      let allowed = 0;
      for (const image of images) {
        if ((await verifier.decide(allowlist, image, {}, now)).allowed) allowed++;
      }
      if (allowed !== IMAGES) throw new Error(`only ${allowed} of ${IMAGES} verified`);
      return allowed;
    });
    const payloads = digests.map((d) => {
      const payload = Buffer.from(simpleSigningPayload(`${registry.host}/apps/api`, d));
      return { payload, signature: Buffer.from(signBytes(key.privateKey, payload), 'base64') };
    });
    const publicKey = createPublicKey(key.publicPem);
    const crypto = throughput(payloads, (p) => verify('sha256', p.payload, publicKey, p.signature));

    // Warm: one verifier, every verdict cached; decisions repeat as a busy cluster's would.
    const warm = new SignatureVerifier({ registry: new RegistryClient() });
    for (const image of images) await warm.decide(allowlist, image, {}, now);
    const requestsBefore = registry.requests.length;
    const cached = await rate(IMAGES * 50, async () => {
      let n = 0;
      for (let round = 0; round < 50; round++) {
        for (const image of images) if ((await warm.decide(allowlist, image, {}, now)).allowed) n++;
      }
      return n;
    });
    if (registry.requests.length !== requestsBefore)
      throw new Error('the cache asked the registry');
    const bare = throughput(images, (image) => plain.decide(image, {}, now));

    // Notation: the same number of digests, each with one Notation JWS referrer.
    const notationImages: string[] = [];
    for (let i = 0; i < IMAGES; i++) {
      const digest = pushImage(registry, 'notation/api', `v${i}`, `notation-seed-${i}`);
      pushNotationSignature(registry, 'notation/api', digest);
      notationImages.push(`${registry.host}/notation/api@${digest}`);
    }
    const notationAllowlist = compileAllowlist({
      version: 1,
      rules: [
        {
          id: 'notation',
          registry: registry.host,
          repository: 'notation/**',
          requireSignature: [
            {
              notation: {
                trustedCertificates: [certPem('root')],
                trustedIdentities: ['x509.subject: C=US, ST=WA, O=regwatch-test, CN=builder'],
              },
            },
          ],
        },
      ],
    });
    const notationCold = await rate(IMAGES, async () => {
      const verifier = new SignatureVerifier({ registry: new RegistryClient() });
      let allowed = 0;
      for (const image of notationImages) {
        if ((await verifier.decide(notationAllowlist, image, {}, new Date())).allowed) allowed++;
      }
      if (allowed !== IMAGES)
        throw new Error(`only ${allowed} of ${IMAGES} Notation images verified`);
      return allowed;
    });

    return [
      versus(
        'cold verifications (loopback registry)',
        cold,
        'verifications/s',
        {
          name: 'node:crypto ECDSA verify alone',
          value: crypto,
        },
        `${IMAGES} digests, each: .sig manifest + referrers + payload blob + verify`,
      ),
      versus(
        'cached verdict decisions',
        cached,
        'decisions/s',
        {
          name: 'allowlist decisions without a signature',
          value: bare,
        },
        'no registry request after the first verification',
      ),
      versus('cached vs cold', cached, 'decisions/s', { name: 'cold verifications', value: cold }),
      versus(
        'cold Notation verifications (loopback registry)',
        notationCold,
        'verifications/s',
        { name: 'cold cosign verifications', value: cold },
        `${IMAGES} digests, each: referrers + signature manifest + image manifest + JWS envelope + 3-certificate chain + ES256`,
      ),
    ];
  } finally {
    await registry.close();
  }
}
