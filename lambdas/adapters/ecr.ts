/**
 * ECR for the registry path: a repository's tag mutability (`DescribeRepositories`) and one
 * image's scan result (`DescribeImageScanFindings`). That one API answers for basic scanning
 * and for enhanced scanning (Amazon Inspector) alike, so the scan check needs no Inspector2
 * client. Clients come from a factory per region, so tests inject mocks.
 */
import {
  DescribeImageScanFindingsCommand,
  type DescribeImageScanFindingsCommandOutput,
  DescribeRepositoriesCommand,
  type ECRClient,
  type EnhancedImageScanFinding,
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

/** DescribeImageScanFindings' largest page, for the rare walk over every enhanced finding. */
const FINDINGS_PAGE_SIZE = 1000;

/**
 * Enhanced findings that no longer apply (Inspector's `SUPPRESSED`, `CLOSED`) are not counted,
 * as Inspector's own active-findings view would not. A finding without a status is counted: it
 * is not known to be closed, and a missed vulnerability costs more than a spare count.
 */
function isActive(finding: EnhancedImageScanFinding): boolean {
  return finding.status === undefined || finding.status === 'ACTIVE';
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
      // Only the summary is read first; one finding per page keeps the answer small.
      out = await this.#page(repo, digest, 1);
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
      // COMPLETE: a basic scan's result; ACTIVE: enhanced scanning has scanned the image and
      // keeps rescanning it.
      case 'COMPLETE':
      case 'ACTIVE': {
        const found = out.imageScanFindings;
        const counts =
          found?.findingSeverityCounts === undefined &&
          (found?.enhancedFindings?.length || out.nextToken)
            ? await this.#countEnhanced(repo, digest)
            : countsFrom(found?.findingSeverityCounts);
        return {
          state: 'complete',
          counts,
          completedAt: found?.imageScanCompletedAt?.toISOString() ?? null,
          source: ECR_API_SOURCE,
        };
      }
      case 'FAILED':
      case 'LIMIT_EXCEEDED':
        return { state: 'failed', reason: why, source: ECR_API_SOURCE };
      // Enhanced scanning's SCAN_ELIGIBILITY_EXPIRED is Inspector coverage INACTIVE for that
      // reason: the image will not be scanned again as things stand.
      case 'UNSUPPORTED_IMAGE':
      case 'SCAN_ELIGIBILITY_EXPIRED':
      case 'IMAGE_ARCHIVED':
        return { state: 'unsupported', reason: why, source: ECR_API_SOURCE };
      default:
        // IN_PROGRESS, PENDING, FINDINGS_UNAVAILABLE, and anything new: not an answer yet; the
        // check comes back, and past the deadline the image is recorded as missing its scan.
        return { state: 'pending', reason: why, source: ECR_API_SOURCE };
    }
  }

  #page(
    repo: EcrRepositoryRef,
    digest: string,
    maxResults: number,
    nextToken?: string,
  ): Promise<DescribeImageScanFindingsCommandOutput> {
    return this.#clientFor(repo.region).send(
      new DescribeImageScanFindingsCommand({
        registryId: repo.account,
        repositoryName: repo.repositoryName,
        imageId: { imageDigest: digest },
        maxResults,
        ...(nextToken ? { nextToken } : {}),
      }),
    );
  }

  /**
   * An enhanced result without `findingSeverityCounts`: the active findings are counted by
   * severity over every page, from the first (the summary page's token was issued for pages of
   * one finding).
   */
  async #countEnhanced(repo: EcrRepositoryRef, digest: string): Promise<SeverityCounts> {
    // Null prototype: a severity string from the API is a key here, never an inherited member.
    const tally: Record<string, number> = Object.create(null);
    let nextToken: string | undefined;
    do {
      const page = await this.#page(repo, digest, FINDINGS_PAGE_SIZE, nextToken);
      for (const finding of page.imageScanFindings?.enhancedFindings ?? []) {
        if (!isActive(finding)) continue;
        const severity = finding.severity ?? 'UNDEFINED';
        tally[severity] = (tally[severity] ?? 0) + 1;
      }
      nextToken = page.nextToken;
    } while (nextToken);
    return countsFrom(tally);
  }
}
