/**
 * ECR pushes to repositories a `requireSignature` rule covers: judged at once for all but the
 * signature, the signature checked after the grace period (cosign in the loopback registry
 * standing in for ECR's OCI API; AWS Signer through a mocked DescribeImageSigningStatus).
 */
import { DescribeImageSigningStatusCommand, ECRClient } from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FindingsStore } from '../../lambdas/adapters/dynamodb/findings.ts';
import { ImagesStore } from '../../lambdas/adapters/dynamodb/images.ts';
import { RegistryClient } from '../../lambdas/adapters/oci/client.ts';
import { EcrSigningStatus } from '../../lambdas/adapters/signatures/aws-signer.ts';
import { compileAllowlist } from '../../lambdas/core/allowlist/index.ts';
import {
  type EcrPushEvent,
  ecrRepositoryName,
  type ScanCheckMessage,
} from '../../lambdas/core/registry/index.ts';
import type { Finding } from '../../lambdas/core/types.ts';
import {
  handleEcrPush,
  handleScanCheck,
  type RegistryDeps,
} from '../../lambdas/services/registry.ts';
import { SignatureVerifier } from '../../lambdas/services/signatures.ts';
import { cosignSign, keyPair } from '../helpers/cosign.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';
import { pushImage, TestRegistry } from '../helpers/oci-registry.ts';

const ACCOUNT = '111122223333';
const REGION = 'eu-west-1';
const HOST = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
const PROFILE = `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-profiles/release`;
const key = keyPair('p256');
const ecrMock = mockClient(ECRClient);

let dynamo: LocalDynamo;
let registry: TestRegistry;
let findings: FindingsStore;
let images: ImagesStore;
let scheduled: { message: ScanCheckMessage; delaySeconds: number }[];
let verifier: SignatureVerifier;

const allowlist = compileAllowlist({
  version: 1,
  rules: [
    {
      id: 'cosigned',
      registry: HOST,
      repository: 'apps/**',
      requireSignature: [{ cosign: { publicKeys: [key.publicPem] } }],
    },
    {
      id: 'aws-signed',
      registry: HOST,
      repository: 'managed/**',
      requireSignature: [{ awsSigner: { profileArns: [PROFILE] } }],
    },
    { id: 'plain', registry: HOST, repository: 'tools/**' },
  ],
});

beforeAll(async () => {
  dynamo = await startDynalite();
  registry = await new TestRegistry().start();
});
afterAll(async () => {
  ecrMock.restore();
  await registry.close();
  await dynamo.stop();
});
beforeEach(async () => {
  const names = await freshTables(dynamo);
  findings = new FindingsStore(dynamo.doc, names.findings);
  images = new ImagesStore(dynamo.doc, names.images);
  scheduled = [];
  ecrMock.reset();
  verifier = new SignatureVerifier({
    registry: new RegistryClient({ endpoints: { [HOST]: `http://${registry.host}` } }),
    awsSigner: new EcrSigningStatus(() => new ECRClient({ region: REGION })),
    failClosedOnError: true,
  });
});

function deps(): RegistryDeps {
  return {
    images,
    findings,
    allowlist: { current: async () => allowlist },
    scheduler: {
      schedule: async (message, delaySeconds) => void scheduled.push({ message, delaySeconds }),
    },
    clock: () => new Date('2026-11-25T10:05:00Z'),
    scanTimeoutMinutes: 30,
    vulnerableThreshold: 'high',
    signatures: verifier,
    signatureGraceSeconds: 120,
    onSignaturePushed: (digest) => verifier.cache.invalidate(digest),
  };
}

function push(repositoryName: string, digest: string, tag: string | null): EcrPushEvent {
  return {
    kind: 'ecr-push',
    eventId: `push-${repositoryName}-${tag}`,
    time: '2026-11-25T10:00:00Z',
    digest,
    tag,
    account: ACCOUNT,
    region: REGION,
    repositoryName,
    repository: ecrRepositoryName(ACCOUNT, REGION, repositoryName),
  };
}

async function stored(): Promise<Finding[]> {
  const out: Finding[] = [];
  for await (const f of findings.query({})) out.push(f);
  return out;
}

const signatureChecks = () => scheduled.filter((s) => s.message.purpose === 'signature');

describe('ECR pushes with requireSignature', () => {
  it('defers the signature to a check after the grace period, which records nothing when signed', async () => {
    // Prepare
    const digest = pushImage(registry, 'apps/web', '1.0', 'web');
    // Act: the push, then the signature arrives, then the check runs
    const atPush = await handleEcrPush(push('apps/web', digest, '1.0'), deps());
    cosignSign(registry, 'apps/web', digest, key.privateKey);
    const [check] = signatureChecks();
    const outcome = await handleScanCheck(check?.message as ScanCheckMessage, deps());
    // Assess
    expect(atPush.findings).toEqual([]);
    expect(signatureChecks()).toHaveLength(1);
    expect(check?.delaySeconds).toBe(120);
    expect(check?.message).toMatchObject({
      imageDigest: digest,
      imageTag: '1.0',
      purpose: 'signature',
    });
    expect(outcome).toMatchObject({ action: 'signature-verified', findings: [] });
    expect(await stored()).toEqual([]);
  });

  it('records a registry-side unsigned-image finding per digest when the check finds none', async () => {
    const digest = pushImage(registry, 'apps/api', '1.0', 'api');
    await handleEcrPush(push('apps/api', digest, '1.0'), deps());
    const [check] = signatureChecks();
    const outcome = await handleScanCheck(check?.message as ScanCheckMessage, deps());
    const again = await handleScanCheck(check?.message as ScanCheckMessage, deps());
    expect(outcome.action).toBe('signature-violation');
    expect(again.findings[0]?.counted).toBe(false);
    expect(
      (await stored()).map((f) => [f.cluster, f.namespace, f.container, f.rule, f.digest]),
    ).toEqual([[`ecr:${ACCOUNT}:${REGION}`, 'apps/api', 'push', 'unsigned-image', digest]]);
  });

  it('schedules nothing for repositories no signature rule covers, and for pushed signatures', async () => {
    const tool = pushImage(registry, 'tools/jq', '1.0', 'jq');
    await handleEcrPush(push('tools/jq', tool, '1.0'), deps());
    const digest = pushImage(registry, 'apps/sig', '1.0', 'sig');
    const sigManifest = cosignSign(registry, 'apps/sig', digest, key.privateKey);
    const [check] =
      allowlist.decide(`${HOST}/apps/sig@${digest}`, {}, new Date()).signatureChecks ?? [];
    if (!check) throw new Error('expected a signature check');
    expect((await verifier.verdict(check, digest)).status).toBe('verified');
    const cachedBefore = verifier.cache.stats().size;
    await handleEcrPush(push('apps/sig', sigManifest, `${digest.replace(':', '-')}.sig`), deps());
    expect(signatureChecks()).toEqual([]);
    expect(cachedBefore).toBe(1);
    expect(verifier.cache.stats().size).toBe(0);
    expect(await stored()).toEqual([]);
  });

  it('checks AWS Signer managed signing: COMPLETE passes, IN_PROGRESS / FAILED / another profile do not', async () => {
    const cases = [
      { status: [{ signingProfileArn: PROFILE, status: 'COMPLETE' }], rule: null },
      { status: [{ signingProfileArn: PROFILE, status: 'IN_PROGRESS' }], rule: 'unsigned-image' },
      {
        status: [{ signingProfileArn: PROFILE, status: 'FAILED', failureReason: 'denied' }],
        rule: 'unsigned-image',
      },
      {
        status: [
          {
            signingProfileArn: `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-profiles/dev`,
            status: 'COMPLETE',
          },
        ],
        rule: 'signature-invalid',
      },
    ];
    for (const [i, c] of cases.entries()) {
      ecrMock
        .on(DescribeImageSigningStatusCommand)
        .resolves({ signingStatuses: c.status as never });
      const digest = `sha256:${String(i).repeat(64)}`;
      await handleEcrPush(push(`managed/app${i}`, digest, 'v1'), deps());
      const check = signatureChecks().at(-1);
      const outcome = await handleScanCheck(check?.message as ScanCheckMessage, deps());
      expect(outcome.findings.map((f) => f.finding.rule)).toEqual(c.rule ? [c.rule] : []);
    }
  });

  it('without a verifier, a push fails closed at once', async () => {
    const digest = pushImage(registry, 'apps/nosig', '1.0', 'nosig');
    const outcome = await handleEcrPush(push('apps/nosig', digest, '1.0'), {
      ...deps(),
      signatures: undefined,
    });
    expect(outcome.findings.map((f) => f.finding.rule)).toEqual(['unsigned-image']);
    expect(signatureChecks()).toEqual([]);
  });
});
