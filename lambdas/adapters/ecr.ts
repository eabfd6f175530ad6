/**
 * ECR for the registry path: a repository's tag mutability (`DescribeRepositories`) and one
 * image's scan result (`DescribeImageScanFindings`, which answers for basic scans and gives
 * the summary of enhanced ones). Clients come from a factory per region, so tests inject mocks.
 */
import {
  DescribeImageScanFindingsCommand,
  type DescribeImageScanFindingsCommandOutput,
  DescribeRepositoriesCommand,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import type { EcrRepositoryRef } from '../core/registry/events.ts';
import { SCAN_SEVERITIES, type SeverityCounts } from '../core/types.ts';
import type { EcrPort, ScanLookup } from '../services/registry.ts';

export const ECR_API_SOURCE = 'ecr-api';

/** Builds the counts every consumer expects from whatever subset the API returned. */
export function countsFrom(raw: Record<string, number | undefined> | undefined): SeverityCounts {
  const out = Object.fromEntries(SCAN_SEVERITIES.map((s) => [s, 0])) as SeverityCounts;
  for (const [key, value] of Object.entries(raw ?? {})) {
    const upper = key.toUpperCase() === 'UNTRIAGED' ? 'UNDEFINED' : key.toUpperCase();
    if (upper in out && typeof value === 'number') out[upper as keyof SeverityCounts] += value;
  }
  return out;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : '';
}

export class EcrAdapter implements EcrPort {
  readonly #clientFor: (region: string) => ECRClient;

  constructor(clientFor: (region: string) => ECRClient) {
    this.#clientFor = clientFor;
  }

  async tagMutability(repo: EcrRepositoryRef): Promise<'MUTABLE' | 'IMMUTABLE' | null> {
    const out = await this.#clientFor(repo.region).send(
      new DescribeRepositoriesCommand({
        registryId: repo.account,
        repositoryNames: [repo.repositoryName],
      }),
    );
    const setting = out.repositories?.[0]?.imageTagMutability;
    // *_WITH_EXCLUSION: mutability depends on the tag's match against filters; not claimed.
    return setting === 'MUTABLE' || setting === 'IMMUTABLE' ? setting : null;
  }

  async scanFindings(repo: EcrRepositoryRef, digest: string): Promise<ScanLookup> {
    let out: DescribeImageScanFindingsCommandOutput;
    try {
      out = await this.#clientFor(repo.region).send(
        new DescribeImageScanFindingsCommand({
          registryId: repo.account,
          repositoryName: repo.repositoryName,
          imageId: { imageDigest: digest },
          // Only the summary is read; one finding per page keeps the answer small.
          maxResults: 1,
        }),
      );
    } catch (error) {
      const name = errorName(error);
      if (name === 'ScanNotFoundException') {
        return { state: 'pending', reason: 'ECR has no scan of the image', source: ECR_API_SOURCE };
      }
      if (name === 'ImageNotFoundException' || name === 'RepositoryNotFoundException') {
        return { state: 'gone', reason: `ECR: ${name}`, source: ECR_API_SOURCE };
      }
      throw error;
    }
    const status = out.imageScanStatus?.status ?? 'UNKNOWN';
    const why = `ECR scan status ${status}${out.imageScanStatus?.description ? `: ${out.imageScanStatus.description}` : ''}`;
    switch (status) {
      case 'COMPLETE':
      case 'ACTIVE':
        return {
          state: 'complete',
          counts: countsFrom(out.imageScanFindings?.findingSeverityCounts),
          completedAt: out.imageScanFindings?.imageScanCompletedAt?.toISOString() ?? null,
          source: ECR_API_SOURCE,
        };
      case 'FAILED':
      case 'LIMIT_EXCEEDED':
        return { state: 'failed', reason: why, source: ECR_API_SOURCE };
      case 'UNSUPPORTED_IMAGE':
      case 'SCAN_ELIGIBILITY_EXPIRED':
      case 'IMAGE_ARCHIVED':
        return { state: 'unsupported', reason: why, source: ECR_API_SOURCE };
      default:
        // IN_PROGRESS, PENDING, FINDINGS_UNAVAILABLE, and anything new: not an answer yet.
        return { state: 'pending', reason: why, source: ECR_API_SOURCE };
    }
  }
}
