/**
 * The EventBridge events of the registry path, parsed with zod into one typed union.
 * Every input ends in exactly one outcome, with a reason for all but `ok`:
 * - `ok`: an event to act on;
 * - `ignored`: a valid event regwatch has no use for (an ECR DELETE, a repository-level event);
 * - `rejected`: well-formed, but it names an image that cannot exist (AWS's documentation
 *   samples: a 60-hex "sha256", a hash ending in `EXAMPLE`). No retry can help;
 * - `invalid`: the shape is not what AWS documents (a missing field, an unknown time format).
 *   A later fix of this parser could read it, so callers keep it (SQS DLQ) rather than drop it.
 */
import * as z from 'zod';
import type { SCAN_SEVERITIES, SeverityCounts } from '../types.ts';
import { checkDigest } from './digest.ts';
import { ecrRepositoryName } from './identity.ts';
import { AWS_TIME_FORMATS, parseAwsTime } from './time.ts';

export const ECR_SOURCE = 'aws.ecr';
export const INSPECTOR_SOURCE = 'aws.inspector2';
export const DETAIL_TYPES = {
  imageAction: 'ECR Image Action',
  imageScan: 'ECR Image Scan',
  inspectorScan: 'Inspector2 Scan',
  inspectorFinding: 'Inspector2 Finding',
} as const;

/** Where a repository lives: enough to call ECR and to build the finding identity. */
export interface EcrRepositoryRef {
  account: string;
  region: string;
  /** The ECR repository name, e.g. `team/app` (may contain slashes). */
  repositoryName: string;
  /** Normalised repository (`<account>.dkr.ecr.<region>.amazonaws.com/<name>`). */
  repository: string;
}

interface Base extends EcrRepositoryRef {
  /** The EventBridge event id: the idempotency key. */
  eventId: string;
  /** The envelope's time (ISO-8601). */
  time: string;
  digest: string;
}

export interface EcrPushEvent extends Base {
  kind: 'ecr-push';
  /** Null for a push by digest only. */
  tag: string | null;
}

/** ECR basic scanning (`ECR Image Scan`) or Inspector enhanced scanning (`Inspector2 Scan`). */
export interface ScanCompletedEvent extends Base {
  kind: 'scan';
  scanner: 'ecr-basic' | 'inspector2';
  status: 'COMPLETE' | 'FAILED';
  /** Every severity filled in (missing ones are 0); null when the scan failed. */
  counts: SeverityCounts | null;
  /** Inspector's `TOTAL` when given: it can exceed the sum of the listed severities. */
  reportedTotal: number | null;
  tags: string[];
  /** The scan status as AWS wrote it (`COMPLETE`, `INITIAL_SCAN_COMPLETE`, …). */
  rawStatus: string;
}

export interface InspectorFindingEvent extends Base {
  kind: 'inspector-finding';
  findingArn: string;
  /** Inspector severity (`CRITICAL` … `UNTRIAGED`). */
  severity: string;
  /** `ACTIVE`, `SUPPRESSED` or `CLOSED`. */
  status: string;
  title: string;
  vulnerabilityId: string | null;
  tags: string[];
  pushedAt: string | null;
  firstObservedAt: string;
  lastObservedAt: string;
  updatedAt: string;
}

export type RegistryEvent = EcrPushEvent | ScanCompletedEvent | InspectorFindingEvent;

export type ParseOutcome =
  | { status: 'ok'; event: RegistryEvent }
  | { status: 'ignored'; eventId: string | null; reason: string }
  | { status: 'rejected'; eventId: string | null; reason: string }
  | { status: 'invalid'; eventId: string | null; reason: string };

/* ------------------------------------------------------------------ schemas */

const envelope = z.object({
  version: z.string().optional(),
  id: z.string().min(1),
  'detail-type': z.string().min(1),
  source: z.string().min(1),
  account: z.string().regex(/^\d{12}$/, { message: 'expected a 12-digit account id' }),
  time: z.iso.datetime({ offset: true }),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { message: 'expected an AWS region' }),
  resources: z.array(z.string()).default([]),
  detail: z.record(z.string(), z.unknown()),
});

const imageActionDetail = z.object({
  'action-type': z.string(),
  result: z.string(),
  'repository-name': z.string().min(1),
  'image-digest': z.string(),
  'image-tag': z.string().optional().nullable(),
});

const counts = z.record(z.string(), z.number().int().nonnegative());

const imageScanDetail = z.object({
  'scan-status': z.string().min(1),
  'repository-name': z.string().min(1),
  'image-digest': z.string(),
  'image-tags': z.array(z.string()).default([]),
  'finding-severity-counts': counts.optional(),
});

const inspectorFindingDetail = z.object({
  findingArn: z.string().min(1),
  severity: z.string().min(1),
  status: z.string().min(1),
  title: z.string().default(''),
  type: z.string().optional(),
  firstObservedAt: z.union([z.string(), z.number()]),
  lastObservedAt: z.union([z.string(), z.number()]),
  updatedAt: z.union([z.string(), z.number()]),
  packageVulnerabilityDetails: z.object({ vulnerabilityId: z.string() }).partial().optional(),
  resources: z
    .array(
      z.object({
        type: z.string(),
        id: z.string().optional(),
        details: z
          .object({
            awsEcrContainerImage: z
              .object({
                imageHash: z.string(),
                imageTags: z.array(z.string()).default([]),
                pushedAt: z.string().optional(),
                registry: z.string().optional(),
                repositoryName: z.string().min(1),
              })
              .optional(),
          })
          .optional(),
      }),
    )
    .min(1),
});

/* ------------------------------------------------------------------ parsing */

function issuesText(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/** `arn:aws:ecr:<region>:<account>:repository/<name>` → its parts, or null. */
export function parseRepositoryArn(
  arn: string,
): { region: string; account: string; repositoryName: string } | null {
  const m = /^arn:aws[a-z-]*:ecr:([a-z0-9-]+):(\d{12}):repository\/(.+)$/.exec(arn);
  if (!m) return null;
  return { region: m[1] as string, account: m[2] as string, repositoryName: m[3] as string };
}

/**
 * Maps reported counts onto regwatch's severities: Inspector's `UNTRIAGED` is ECR's
 * `UNDEFINED`; `TOTAL` is kept apart (it is not the sum of the listed keys); unknown keys are
 * refused rather than dropped.
 */
export function normalizeCounts(
  raw: Record<string, number>,
): { ok: true; counts: SeverityCounts; total: number | null } | { ok: false; reason: string } {
  const out: SeverityCounts = {
    CRITICAL: 0,
    HIGH: 0,
    MEDIUM: 0,
    LOW: 0,
    INFORMATIONAL: 0,
    UNDEFINED: 0,
  };
  let total: number | null = null;
  for (const [key, value] of Object.entries(raw)) {
    const upper = key.toUpperCase();
    if (upper === 'TOTAL') total = value;
    else if (upper === 'UNTRIAGED') out.UNDEFINED += value;
    else if (upper in out) out[upper as (typeof SCAN_SEVERITIES)[number]] += value;
    else
      return {
        ok: false,
        reason: `unknown severity ${JSON.stringify(key)} in finding-severity-counts`,
      };
  }
  return { ok: true, counts: out, total };
}

function repositoryRef(account: string, region: string, repositoryName: string): EcrRepositoryRef {
  return {
    account,
    region,
    repositoryName,
    repository: ecrRepositoryName(account, region, repositoryName),
  };
}

/** Parses one EventBridge event of the registry path. Never throws. */
export function parseRegistryEvent(raw: unknown): ParseOutcome {
  const env = envelope.safeParse(raw);
  const rawId =
    raw !== null && typeof raw === 'object' && typeof (raw as { id?: unknown }).id === 'string'
      ? (raw as { id: string }).id
      : null;
  if (!env.success) {
    return {
      status: 'invalid',
      eventId: rawId,
      reason: `not an EventBridge event: ${issuesText(env.error)}`,
    };
  }
  const e = env.data;
  const type = e['detail-type'];
  const reject = (reason: string): ParseOutcome => ({
    status: 'rejected',
    eventId: e.id,
    reason: `${type} ${e.id}: ${reason}`,
  });
  const invalid = (reason: string): ParseOutcome => ({
    status: 'invalid',
    eventId: e.id,
    reason: `${type} ${e.id}: ${reason}`,
  });
  const time = new Date(Date.parse(e.time)).toISOString();

  if (e.source === ECR_SOURCE && type === DETAIL_TYPES.imageAction) {
    const d = imageActionDetail.safeParse(e.detail);
    if (!d.success) return invalid(issuesText(d.error));
    const action = d.data['action-type'];
    if (action !== 'PUSH' || d.data.result !== 'SUCCESS') {
      return {
        status: 'ignored',
        eventId: e.id,
        reason: `${type} ${action}/${d.data.result}: only successful pushes are judged`,
      };
    }
    const digest = checkDigest(d.data['image-digest'], 'image-digest');
    if (!digest.ok) return reject(digest.reason);
    const tag = d.data['image-tag'];
    return {
      status: 'ok',
      event: {
        kind: 'ecr-push',
        eventId: e.id,
        time,
        digest: digest.digest,
        tag: tag === undefined || tag === null || tag === '' ? null : tag,
        ...repositoryRef(e.account, e.region, d.data['repository-name']),
      },
    };
  }

  if (
    (e.source === ECR_SOURCE && type === DETAIL_TYPES.imageScan) ||
    (e.source === INSPECTOR_SOURCE && type === DETAIL_TYPES.inspectorScan)
  ) {
    if (e.source === INSPECTOR_SOURCE && e.detail['repository-name'] === undefined) {
      // Inspector2 also scans EC2 instances and Lambda functions; the stack's rule matches
      // only ECR images, so this is a rule changed by hand: acknowledged, counted, no retry.
      const about = Object.keys(e.detail)
        .filter((k) => k !== 'scan-status' && k !== 'finding-severity-counts')
        .slice(0, 3)
        .join(', ');
      return {
        status: 'ignored',
        eventId: e.id,
        reason: `${type}: not about an ECR container image (${about || 'no resource'})`,
      };
    }
    const d = imageScanDetail.safeParse(e.detail);
    if (!d.success) return invalid(issuesText(d.error));
    const scanner = e.source === ECR_SOURCE ? 'ecr-basic' : 'inspector2';
    // Inspector writes the repository ARN where ECR writes the bare name.
    let repoName = d.data['repository-name'];
    let account = e.account;
    let region = e.region;
    if (repoName.startsWith('arn:')) {
      const arn = parseRepositoryArn(repoName);
      if (!arn) return invalid(`repository-name ${repoName} is not an ECR repository ARN`);
      ({ repositoryName: repoName, account, region } = arn);
    }
    const digest = checkDigest(d.data['image-digest'], 'image-digest');
    if (!digest.ok) return reject(digest.reason);
    const rawStatus = d.data['scan-status'];
    const status = /COMPLETE$/.test(rawStatus)
      ? 'COMPLETE'
      : /FAIL/.test(rawStatus)
        ? 'FAILED'
        : null;
    if (status === null) {
      return {
        status: 'ignored',
        eventId: e.id,
        reason: `${type}: scan-status ${rawStatus} carries no result`,
      };
    }
    let severity: SeverityCounts | null = null;
    let total: number | null = null;
    if (status === 'COMPLETE') {
      const n = normalizeCounts(d.data['finding-severity-counts'] ?? {});
      if (!n.ok) return invalid(n.reason);
      severity = n.counts;
      total = n.total;
    }
    return {
      status: 'ok',
      event: {
        kind: 'scan',
        scanner,
        eventId: e.id,
        time,
        digest: digest.digest,
        status,
        counts: severity,
        reportedTotal: total,
        tags: d.data['image-tags'],
        rawStatus,
        ...repositoryRef(account, region, repoName),
      },
    };
  }

  if (e.source === INSPECTOR_SOURCE && type === DETAIL_TYPES.inspectorFinding) {
    const d = inspectorFindingDetail.safeParse(e.detail);
    if (!d.success) return invalid(issuesText(d.error));
    const resource = d.data.resources.find((r) => r.details?.awsEcrContainerImage);
    const image = resource?.details?.awsEcrContainerImage;
    if (!image) {
      return {
        status: 'ignored',
        eventId: e.id,
        reason: `${type}: not about an ECR container image (${d.data.resources[0]?.type})`,
      };
    }
    const digest = checkDigest(image.imageHash, 'imageHash');
    if (!digest.ok) return reject(digest.reason);
    const times: Record<string, string> = {};
    for (const key of ['firstObservedAt', 'lastObservedAt', 'updatedAt'] as const) {
      const iso = parseAwsTime(d.data[key]);
      if (iso === null) {
        return invalid(
          `${key} ${JSON.stringify(d.data[key])} is not a time (expected ${AWS_TIME_FORMATS})`,
        );
      }
      times[key] = iso;
    }
    const pushedAt = image.pushedAt === undefined ? null : parseAwsTime(image.pushedAt);
    // `registry` is the account id; the resource's own region is "N/A" in AWS's sample.
    const account = image.registry && /^\d{12}$/.test(image.registry) ? image.registry : e.account;
    return {
      status: 'ok',
      event: {
        kind: 'inspector-finding',
        eventId: e.id,
        time,
        digest: digest.digest,
        findingArn: d.data.findingArn,
        severity: d.data.severity,
        status: d.data.status,
        title: d.data.title,
        vulnerabilityId: d.data.packageVulnerabilityDetails?.vulnerabilityId ?? null,
        tags: image.imageTags,
        pushedAt,
        firstObservedAt: times.firstObservedAt as string,
        lastObservedAt: times.lastObservedAt as string,
        updatedAt: times.updatedAt as string,
        ...repositoryRef(account, e.region, image.repositoryName),
      },
    };
  }

  return {
    status: 'ignored',
    eventId: e.id,
    reason: `${e.source} ${type}: not an event of the registry path`,
  };
}
