/**
 * Inspector2 for the registry path: is the image covered by enhanced scanning
 * (`ListCoverage`), and how many active findings of each severity it has (`ListFindings`).
 */
import {
  type Inspector2Client,
  ListCoverageCommand,
  ListFindingsCommand,
} from '@aws-sdk/client-inspector2';
import type { EcrRepositoryRef } from '../core/registry/events.ts';
import type { InspectorPort, ScanLookup } from '../services/registry.ts';
import { countsFrom } from './ecr.ts';

export const INSPECTOR_API_SOURCE = 'inspector2-api';

/** Coverage reasons that mean "this image will never be scanned as things stand". */
const FAILED_REASONS = new Set(['INTERNAL_ERROR']);
const PENDING_REASONS = new Set([
  'PENDING_INITIAL_SCAN',
  'SCAN_IN_PROGRESS',
  'PENDING_REVIVAL_SCAN',
]);

export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/** Inspector's resource id of an ECR image: the repository ARN, `/`, the digest. */
export function imageResourceId(repo: EcrRepositoryRef, digest: string): string {
  return `arn:${partitionOf(repo.region)}:ecr:${repo.region}:${repo.account}:repository/${repo.repositoryName}/${digest}`;
}

const eq = (value: string) => [{ comparison: 'EQUALS' as const, value }];

export class InspectorAdapter implements InspectorPort {
  readonly #clientFor: (region: string) => Inspector2Client;

  constructor(clientFor: (region: string) => Inspector2Client) {
    this.#clientFor = clientFor;
  }

  async scanFindings(repo: EcrRepositoryRef, digest: string): Promise<ScanLookup> {
    const client = this.#clientFor(repo.region);
    const resourceId = imageResourceId(repo, digest);
    const coverage = await client.send(
      new ListCoverageCommand({
        filterCriteria: {
          accountId: eq(repo.account),
          resourceType: eq('AWS_ECR_CONTAINER_IMAGE'),
          ecrRepositoryName: eq(repo.repositoryName),
          resourceId: eq(resourceId),
        },
        maxResults: 10,
      }),
    );
    const covered = coverage.coveredResources?.find((r) => r.resourceId === resourceId);
    if (!covered) {
      return {
        state: 'pending',
        reason: 'Inspector has no coverage record for the image',
        source: INSPECTOR_API_SOURCE,
      };
    }
    const code = covered.scanStatus?.statusCode ?? 'UNKNOWN';
    const reason = covered.scanStatus?.reason ?? 'UNKNOWN';
    const why = `Inspector coverage ${code}/${reason}`;
    if (code === 'INACTIVE') {
      return {
        state: FAILED_REASONS.has(reason) ? 'failed' : 'unsupported',
        reason: why,
        source: INSPECTOR_API_SOURCE,
      };
    }
    if (code !== 'ACTIVE' || PENDING_REASONS.has(reason) || !covered.lastScannedAt) {
      return { state: 'pending', reason: why, source: INSPECTOR_API_SOURCE };
    }

    const tally: Record<string, number> = {};
    let nextToken: string | undefined;
    do {
      const page = await client.send(
        new ListFindingsCommand({
          filterCriteria: {
            awsAccountId: eq(repo.account),
            ecrImageRepositoryName: eq(repo.repositoryName),
            ecrImageHash: eq(digest),
            findingStatus: eq('ACTIVE'),
          },
          maxResults: 100,
          ...(nextToken ? { nextToken } : {}),
        }),
      );
      for (const finding of page.findings ?? []) {
        const severity = finding.severity ?? 'UNDEFINED';
        tally[severity] = (tally[severity] ?? 0) + 1;
      }
      nextToken = page.nextToken;
    } while (nextToken);
    return {
      state: 'complete',
      counts: countsFrom(tally),
      completedAt: covered.lastScannedAt.toISOString(),
      source: INSPECTOR_API_SOURCE,
    };
  }
}
