/**
 * AWS Signer through ECR managed signing: ECR signs pushed images with the repository's
 * signing profile and reports, per profile, `IN_PROGRESS`, `COMPLETE` or `FAILED` through
 * `DescribeImageSigningStatus`. A rule's `awsSigner` entry holds when one of its profiles is
 * `COMPLETE` for the digest. Only ECR hosts (`ACCOUNT.dkr.ecr.REGION.amazonaws.com`) apply.
 */
import { DescribeImageSigningStatusCommand, type ECRClient } from '@aws-sdk/client-ecr';
import type { SignatureEntry } from '../../core/signatures/schema.ts';
import type { EntryOutcome } from '../../core/signatures/verdict.ts';

const ECR_HOST = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;

export interface EcrImage {
  account: string;
  region: string;
  repositoryName: string;
}

/** The ECR account, region and repository of a host + path, or null for other registries. */
export function ecrImageOf(host: string, path: string): EcrImage | null {
  const m = ECR_HOST.exec(host);
  return m ? { account: m[1] ?? '', region: m[2] ?? '', repositoryName: path } : null;
}

export interface SigningStatus {
  profileArn: string;
  status: string;
  failureReason?: string | undefined;
}

/** What the verifier needs of ECR for managed signing. */
export interface AwsSignerPort {
  signingStatuses(image: EcrImage, digest: string): Promise<SigningStatus[]>;
}

export class EcrSigningStatus implements AwsSignerPort {
  readonly #clientFor: (region: string) => ECRClient;
  constructor(clientFor: (region: string) => ECRClient) {
    this.#clientFor = clientFor;
  }

  async signingStatuses(image: EcrImage, digest: string): Promise<SigningStatus[]> {
    const out = await this.#clientFor(image.region).send(
      new DescribeImageSigningStatusCommand({
        registryId: image.account,
        repositoryName: image.repositoryName,
        imageId: { imageDigest: digest },
      }),
    );
    return (out.signingStatuses ?? []).map((s) => ({
      profileArn: s.signingProfileArn ?? '',
      status: s.status ?? '',
      failureReason: s.failureReason,
    }));
  }
}

/** A profile ARN without a version matches every version of that profile. */
function profileMatches(wanted: string, actual: string): boolean {
  return actual === wanted || actual.startsWith(`${wanted}/`);
}

export function awsSignerOutcome(
  entry: NonNullable<SignatureEntry['awsSigner']>,
  statuses: readonly SigningStatus[],
  digest: string,
): EntryOutcome {
  const ours = statuses.filter((s) =>
    entry.profileArns.some((arn) => profileMatches(arn, s.profileArn)),
  );
  const complete = ours.find((s) => s.status === 'COMPLETE');
  if (complete)
    return {
      status: 'verified',
      signer: `AWS Signer ${complete.profileArn} (ECR managed signing)`,
    };
  const progress = ours.find((s) => s.status === 'IN_PROGRESS');
  if (progress)
    return {
      status: 'absent',
      reason: `ECR signing with ${progress.profileArn} is still in progress`,
    };
  const failed = ours.find((s) => s.status === 'FAILED');
  if (failed) {
    return {
      status: 'absent',
      reason: `ECR signing with ${failed.profileArn} FAILED${failed.failureReason ? `: ${failed.failureReason}` : ''}`,
    };
  }
  const others = statuses.filter((s) => s.status === 'COMPLETE');
  if (others.length > 0) {
    return {
      status: 'rejected',
      reason: `${digest} is signed by ${others.map((s) => s.profileArn).join(', ')}, not by a profile the rule names`,
    };
  }
  return { status: 'absent', reason: `ECR reports no signing status for ${digest}` };
}
