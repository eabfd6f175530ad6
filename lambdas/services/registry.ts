/**
 * The registry path: ECR pushes, scan results (ECR basic, Inspector2 enhanced) and scan
 * checks. All I/O goes through the ports in `RegistryDeps`, so the Lambdas (DynamoDB, ECR,
 * SQS) and local mode (dynalite, in-process scheduler) run the same code.
 *
 * Idempotency: findings are keyed by fingerprint and counted once per event id (the store
 * remembers recent ids); image records are merges (tags accumulate, older scans never replace
 * newer); a redelivered push does not start a second chain of scan checks.
 */
import { DEFAULT_SEVERITIES } from '../core/allowlist/schema.ts';
import type {
  EcrPushEvent,
  EcrRepositoryRef,
  InspectorFindingEvent,
  RegistryEvent,
  ScanCompletedEvent,
} from '../core/registry/events.ts';
import {
  pushCandidates,
  pushedReference,
  type RegistrySubject,
  registryCandidate,
  SCAN_CONTAINER,
} from '../core/registry/identity.ts';
import {
  nextScanCheck,
  SCAN_CHECK_TYPE,
  type ScanCheckMessage,
  scanCheckRepository,
} from '../core/registry/schedule.ts';
import { vulnerabilityVerdict } from '../core/registry/vulnerability.ts';
import type {
  FindingCandidate,
  ImageRecord,
  ScanSeverity,
  ScanStatus,
  Severity,
  SeverityCounts,
  UpsertResult,
} from '../core/types.ts';
import type { AllowlistPort, FindingsPort, SignaturesPort } from './ports.ts';
import {
  DEFAULT_SIGNATURE_GRACE_SECONDS,
  deferredSignatures,
  handleSignatureCheck,
  SIGNATURE_CHECK_PURPOSE,
  signatureTagDigest,
} from './registry-signatures.ts';

/** What the registry path needs of the Images table (`ImagesStore` fits). */
export interface ImagesPort {
  get(repository: string, digest: string): Promise<ImageRecord | undefined>;
  recordPush(input: {
    repository: string;
    digest: string;
    tag: string | null;
    pushedAt: string;
    tagMutability?: 'MUTABLE' | 'IMMUTABLE' | null;
  }): Promise<ImageRecord>;
  recordScan(input: {
    repository: string;
    digest: string;
    status: ScanStatus;
    severityCounts?: Partial<SeverityCounts> | null;
    completedAt?: string | null;
    source: string;
    observedAt: string;
  }): Promise<{ applied: boolean; record: ImageRecord }>;
}

/** What a registry API says about one image's scan. */
export type ScanLookup =
  | { state: 'complete'; counts: SeverityCounts; completedAt: string | null; source: string }
  | { state: 'failed' | 'unsupported'; reason: string; source: string }
  | { state: 'pending'; reason: string; source: string }
  /** The image or its repository was deleted since the push. */
  | { state: 'gone'; reason: string; source: string };

export interface EcrPort {
  /** The repository's tag mutability; null when it cannot be told. */
  tagMutability(repo: EcrRepositoryRef): Promise<'MUTABLE' | 'IMMUTABLE' | null>;
  /** ECR `DescribeImageScanFindings`: basic and enhanced (Inspector) scanning alike. */
  scanFindings(repo: EcrRepositoryRef, digest: string): Promise<ScanLookup>;
}

export interface ScanCheckScheduler {
  schedule(message: ScanCheckMessage, delaySeconds: number): Promise<void>;
}

/** Structured log lines; the handlers pass the Powertools logger's methods. */
export interface RegistryLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

export interface RegistryDeps {
  images: ImagesPort;
  findings: FindingsPort;
  /** Needed to judge pushes; scan handling works without it. */
  allowlist?: AllowlistPort | undefined;
  scheduler: ScanCheckScheduler;
  ecr?: EcrPort | undefined;
  clock: () => Date;
  scanTimeoutMinutes: number;
  vulnerableThreshold: Severity;
  ttlDays?: number | undefined;
  log?: RegistryLog | undefined;
  /** Verifies `requireSignature` after the grace period; without it such pushes fail closed. */
  signatures?: SignaturesPort | undefined;
  signatureGraceSeconds?: number | undefined;
  /** Told the digest a pushed `sha256-<hex>.sig` tag signs (drop its cached verdicts). */
  onSignaturePushed?: ((digest: string) => void) | undefined;
  /**
   * Told after a scan state is stored (result, failure, missing), so the reconciler can reach
   * every running workload of that digest at once (docs/reconciliation.md).
   */
  onScanRecorded?: ((record: ImageRecord) => Promise<void>) | undefined;
}

export interface RegistryOutcome {
  /** What happened, for logs and metrics: `judged`, `scan-recorded`, `scan-missing`, … */
  action: string;
  image?: ImageRecord | undefined;
  findings: UpsertResult[];
  scheduled?: { attempt: number; delaySeconds: number } | undefined;
  detail?: string | undefined;
}

/** The pushed image's allowlist verdict is judged against unscoped rules: a push runs nowhere. */
const PUSH_SCOPE = {} as const;

function subjectOf(repo: EcrRepositoryRef, digest: string, tag: string | null): RegistrySubject {
  return {
    account: repo.account,
    region: repo.region,
    repositoryName: repo.repositoryName,
    repository: repo.repository,
    digest,
    tag,
  };
}

function checkMessage(
  repo: EcrRepositoryRef,
  digest: string,
  tag: string | null,
  since: string,
  purpose: ScanCheckMessage['purpose'],
): ScanCheckMessage {
  return {
    type: SCAN_CHECK_TYPE,
    registryId: repo.account,
    region: repo.region,
    repositoryName: repo.repositoryName,
    imageDigest: digest,
    pushedAt: since,
    attempt: 1,
    imageTag: tag,
    purpose,
  };
}

async function upsertAll(
  candidates: readonly FindingCandidate[],
  deps: RegistryDeps,
): Promise<UpsertResult[]> {
  const out: UpsertResult[] = [];
  const now = deps.clock();
  for (const candidate of candidates) {
    out.push(
      await deps.findings.upsert(candidate, {
        now,
        ...(deps.ttlDays ? { ttlDays: deps.ttlDays } : {}),
      }),
    );
  }
  return out;
}

/* ------------------------------------------------------------------ pushes */

/**
 * A successful push: judge the pushed reference against the allowlist, record the push, and
 * start the scan-check chain unless this digest's push was already seen (a redelivery or a
 * second tag: its chain runs already).
 */
export async function handleEcrPush(
  event: EcrPushEvent,
  deps: RegistryDeps,
): Promise<RegistryOutcome> {
  if (!deps.allowlist) throw new Error('handleEcrPush needs an allowlist port');
  const now = deps.clock();
  const before = await deps.images.get(event.repository, event.digest);

  const decider = await deps.allowlist.current();
  const reference = pushedReference(event.repository, event.tag, event.digest);
  const signedDigest = signatureTagDigest(event.tag);
  if (signedDigest) deps.onSignaturePushed?.(signedDigest);
  // With a verifier, the signature is judged by a later check (signatures follow the image).
  const decision = decider.decide(
    reference,
    PUSH_SCOPE,
    now,
    deps.signatures ? deferredSignatures(event.digest) : undefined,
  );
  if (deps.signatures && decision.signatureChecks && signedDigest === null) {
    await deps.scheduler.schedule(
      checkMessage(event, event.digest, event.tag, event.time, SIGNATURE_CHECK_PURPOSE),
      Math.min(900, deps.signatureGraceSeconds ?? DEFAULT_SIGNATURE_GRACE_SECONDS),
    );
  }
  const findings = await upsertAll(
    pushCandidates(subjectOf(event, event.digest, event.tag), decision, {
      eventId: event.eventId,
      observedAt: event.time,
    }),
    deps,
  );

  // Scheduled before the push is recorded: a crash between the two repeats the schedule
  // (a harmless second chain) rather than losing it.
  let scheduled: RegistryOutcome['scheduled'];
  if (before === undefined || (before.pushedAt === null && before.scanStatus === 'PENDING')) {
    const elapsed = (now.getTime() - Date.parse(event.time)) / 1000;
    // A push delivered after its deadline still gets one immediate check.
    const next = nextScanCheck(1, deps.scanTimeoutMinutes, elapsed) ?? {
      attempt: 1,
      delaySeconds: 0,
    };
    await deps.scheduler.schedule(
      checkMessage(event, event.digest, event.tag, event.time, 'push'),
      next.delaySeconds,
    );
    scheduled = next;
  }

  let tagMutability: 'MUTABLE' | 'IMMUTABLE' | null = null;
  if (deps.ecr) {
    try {
      tagMutability = await deps.ecr.tagMutability(event);
    } catch (error) {
      // Mutability is context, not the verdict: record the push without it.
      deps.log?.warn('tag mutability unknown', {
        repository: event.repository,
        error: (error as Error).message,
      });
    }
  }
  const image = await deps.images.recordPush({
    repository: event.repository,
    digest: event.digest,
    tag: event.tag,
    pushedAt: event.time,
    tagMutability,
  });
  return {
    action: decision.allowed ? 'push-allowed' : 'push-violation',
    image,
    findings,
    scheduled,
    detail: decision.violations.map((v) => v.rule).join(',') || undefined,
  };
}

/* ------------------------------------------------------------------ scan results */

function vulnerabilityCandidates(
  image: ImageRecord,
  repo: EcrRepositoryRef,
  tag: string | null,
  cause: { eventId: string; observedAt: string; source: FindingCandidate['source'] },
  deps: RegistryDeps,
): FindingCandidate[] {
  const verdict = vulnerabilityVerdict(image, deps.vulnerableThreshold);
  if (!verdict) return [];
  return [
    registryCandidate(subjectOf(repo, image.digest, tag), SCAN_CONTAINER, {
      ...verdict,
      matchedRule: null,
      ...cause,
    }),
  ];
}

function scanMissingCandidate(
  repo: EcrRepositoryRef,
  digest: string,
  tag: string | null,
  message: string,
  cause: { eventId: string; observedAt: string; source: FindingCandidate['source'] },
): FindingCandidate {
  return registryCandidate(subjectOf(repo, digest, tag), SCAN_CONTAINER, {
    rule: 'scan-missing',
    severity: DEFAULT_SEVERITIES['scan-missing'],
    message,
    matchedRule: null,
    ...cause,
  });
}

function firstTag(tags: readonly string[]): string | null {
  return [...tags].sort()[0] ?? null;
}

/** A completed or failed scan from an `ECR Image Scan` or `Inspector2 Scan` event. */
export async function handleScanEvent(
  event: ScanCompletedEvent,
  deps: RegistryDeps,
): Promise<RegistryOutcome> {
  const source = event.scanner === 'ecr-basic' ? 'ecr-scan-event' : 'inspector2-event';
  const { applied, record } = await deps.images.recordScan({
    repository: event.repository,
    digest: event.digest,
    status: event.status,
    severityCounts: event.counts,
    completedAt: event.time,
    source,
    observedAt: event.time,
  });
  if (!applied) {
    return { action: 'scan-stale', image: record, findings: [], detail: 'a newer scan is stored' };
  }
  await deps.onScanRecorded?.(record);
  const cause = {
    eventId: event.eventId,
    observedAt: event.time,
    source: event.scanner === 'ecr-basic' ? ('ecr' as const) : ('inspector' as const),
  };
  const tag = firstTag(event.tags.length > 0 ? event.tags : record.tags);
  const candidates =
    event.status === 'FAILED'
      ? [
          scanMissingCandidate(
            event,
            event.digest,
            tag,
            `scan of ${event.repository}@${event.digest} failed (${event.rawStatus}): the image has no vulnerability data`,
            cause,
          ),
        ]
      : vulnerabilityCandidates(record, event, tag, cause, deps);
  return {
    action: event.status === 'FAILED' ? 'scan-failed' : 'scan-recorded',
    image: record,
    findings: await upsertAll(candidates, deps),
  };
}

/**
 * One Inspector2 finding (one CVE). Inspector sends these, not a new `Inspector2 Scan`, when a
 * continuous rescan finds something new; so a finding the stored counts do not reflect
 * (no count at its severity yet) triggers a recount through a scan check. Others change
 * nothing: the scan event or a check already counted them.
 */
export async function handleInspectorFinding(
  event: InspectorFindingEvent,
  deps: RegistryDeps,
): Promise<RegistryOutcome> {
  if (event.status !== 'ACTIVE') {
    return { action: 'finding-ignored', findings: [], detail: `status ${event.status}` };
  }
  const record = await deps.images.get(event.repository, event.digest);
  const severity =
    event.severity.toUpperCase() === 'UNTRIAGED' ? 'UNDEFINED' : event.severity.toUpperCase();
  const counted =
    record?.severityCounts != null && (record.severityCounts[severity as ScanSeverity] ?? 0) > 0;
  if (record === undefined || record.scanStatus === 'PENDING' || counted) {
    // Unknown image: no push seen and no scan recorded; a pending one has its chain running.
    return {
      action: 'finding-noted',
      image: record,
      findings: [],
      detail:
        record === undefined ? 'image not known' : counted ? 'already counted' : 'scan pending',
    };
  }
  const message = checkMessage(event, event.digest, firstTag(event.tags), event.time, 'recount');
  await deps.scheduler.schedule(message, 0);
  return {
    action: 'recount-scheduled',
    image: record,
    findings: [],
    scheduled: { attempt: 1, delaySeconds: 0 },
  };
}

export async function handleInspectorEvent(
  event: ScanCompletedEvent | InspectorFindingEvent,
  deps: RegistryDeps,
): Promise<RegistryOutcome> {
  return event.kind === 'scan' ? handleScanEvent(event, deps) : handleInspectorFinding(event, deps);
}

/** Dispatches any parsed registry event. */
export async function handleRegistryEvent(
  event: RegistryEvent,
  deps: RegistryDeps,
): Promise<RegistryOutcome> {
  return event.kind === 'ecr-push' ? handleEcrPush(event, deps) : handleInspectorEvent(event, deps);
}

/* ------------------------------------------------------------------ scan checks */

async function lookupScan(
  repo: EcrRepositoryRef,
  digest: string,
  deps: RegistryDeps,
): Promise<ScanLookup> {
  if (!deps.ecr) return { state: 'pending', reason: 'no scanner port configured', source: 'none' };
  return deps.ecr.scanFindings(repo, digest);
}

/**
 * A scheduled check: ask the registry for the scan result; record it, or check again later,
 * or, past the deadline, record a `scan-missing` coverage gap. A check for an image whose scan
 * is already stored does nothing, unless it is a recount (then the counts are refreshed).
 */
export async function handleScanCheck(
  message: ScanCheckMessage,
  deps: RegistryDeps,
): Promise<RegistryOutcome> {
  if (message.purpose === SIGNATURE_CHECK_PURPOSE) return handleSignatureCheck(message, deps);
  const now = deps.clock();
  const repo = scanCheckRepository(message);
  const digest = message.imageDigest;
  const before = await deps.images.get(repo.repository, digest);
  const recount = message.purpose === 'recount' && before !== undefined;
  if (before && before.scanStatus !== 'PENDING' && !recount) {
    return {
      action: 'check-done',
      image: before,
      findings: [],
      detail: `scan ${before.scanStatus}`,
    };
  }

  const lookup = await lookupScan(repo, digest, deps);
  const eventId = `scan-check:${repo.repository}@${digest}#${message.pushedAt}#${message.attempt}`;
  const cause = { eventId, observedAt: now.toISOString(), source: 'ecr' as const };
  const tag = message.imageTag ?? firstTag(before?.tags ?? []);

  if (lookup.state === 'complete') {
    const { applied, record } = await deps.images.recordScan({
      repository: repo.repository,
      digest,
      status: 'COMPLETE',
      severityCounts: lookup.counts,
      completedAt: lookup.completedAt,
      source: lookup.source,
      observedAt: now.toISOString(),
    });
    const findings = applied
      ? await upsertAll(vulnerabilityCandidates(record, repo, tag, cause, deps), deps)
      : [];
    if (applied) await deps.onScanRecorded?.(record);
    return { action: recount ? 'check-recounted' : 'check-complete', image: record, findings };
  }
  if (recount) {
    // The stored result stands; a recount that finds nothing better changes nothing.
    return { action: 'check-done', image: before, findings: [], detail: lookup.reason };
  }

  if (lookup.state === 'gone') {
    // Deleted before any scan: nothing runs it from this registry any more; the chain ends.
    return { action: 'check-image-gone', image: before, findings: [], detail: lookup.reason };
  }
  if (lookup.state === 'failed' || lookup.state === 'unsupported') {
    const status = lookup.state === 'failed' ? 'FAILED' : 'UNSUPPORTED';
    const { record } = await deps.images.recordScan({
      repository: repo.repository,
      digest,
      status,
      source: lookup.source,
      observedAt: now.toISOString(),
    });
    await deps.onScanRecorded?.(record);
    const findings = await upsertAll(
      [
        scanMissingCandidate(
          repo,
          digest,
          tag,
          `${repo.repository}@${digest} cannot be scanned (${status}: ${lookup.reason}): the image has no vulnerability data`,
          cause,
        ),
      ],
      deps,
    );
    return { action: `check-${lookup.state}`, image: record, findings, detail: lookup.reason };
  }

  const elapsed = (now.getTime() - Date.parse(message.pushedAt)) / 1000;
  const next = nextScanCheck(message.attempt + 1, deps.scanTimeoutMinutes, elapsed);
  if (next !== null) {
    await deps.scheduler.schedule({ ...message, attempt: next.attempt }, next.delaySeconds);
    return {
      action: 'check-rescheduled',
      image: before,
      findings: [],
      scheduled: next,
      detail: lookup.reason,
    };
  }

  const { record } = await deps.images.recordScan({
    repository: repo.repository,
    digest,
    status: 'MISSING',
    source: 'scan-check',
    observedAt: now.toISOString(),
  });
  await deps.onScanRecorded?.(record);
  const findings = await upsertAll(
    [
      scanMissingCandidate(
        repo,
        digest,
        tag,
        `no scan result for ${repo.repository}@${digest} within ${deps.scanTimeoutMinutes} minutes of its push (${lookup.reason})`,
        // One scan-missing sighting per image however many checks or redeliveries end here.
        {
          ...cause,
          eventId: `scan-missing:${repo.repository}@${digest}#${message.pushedAt}`,
        },
      ),
    ],
    deps,
  );
  return { action: 'scan-missing', image: record, findings, detail: lookup.reason };
}
