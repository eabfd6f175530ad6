/**
 * The reconciler: keeps findings equal to "what runs now, judged by the allowlist in force
 * now". It re-judges inventory entries (all of them, or the ones a change can affect), opens
 * findings for new violations (alerting as new / reopened), auto-resolves findings whose
 * violation is gone (`now-allowed`) or whose entry left the inventory (`no-longer-running`,
 * `workload-deleted`). The same code runs in local mode (in-process) and behind the reconcile
 * Lambda. Pure decisions live in `core/inventory.ts` and `core/lifecycle.ts`.
 */
import type { AppliedPlan, InventoryPage, StoredEntry } from '../adapters/dynamodb/inventory.ts';
import { type AllowlistRule, DEFAULT_SEVERITIES, ruleTarget } from '../core/allowlist/schema.ts';
import type { Decider } from '../core/evaluate.ts';
import { fingerprint } from '../core/fingerprint.ts';
import {
  type InventoryEntry,
  type JudgedViolation,
  judgedRegistry,
  type Removal,
} from '../core/inventory.ts';
import { vulnerabilityVerdict } from '../core/registry/vulnerability.ts';
import {
  type AutoResolutionReason,
  type FindingCandidate,
  type ImageRecord,
  type Severity,
  VIOLATION_RULES,
  type Violation,
  type ViolationRule,
} from '../core/types.ts';
import { shouldAlert } from './alerting.ts';
import type { AlertPort, FindingsPort, FindingsResolverPort, ImagesPort } from './ports.ts';

/** What the reconciler needs of the Inventory table (`InventoryStore` fits). */
export interface InventoryPort {
  scanPage(
    next?: Record<string, unknown>,
    options?: { limit?: number; segment?: { index: number; total: number } },
  ): Promise<InventoryPage>;
  query(filter: { digest?: string; cluster?: string }): AsyncGenerator<StoredEntry>;
  byRegistry(host: string): AsyncGenerator<StoredEntry>;
  get(
    cluster: string,
    namespace: string,
    workload: InventoryEntry['workload'],
    key: Pick<InventoryEntry, 'container' | 'reference' | 'image'>,
  ): Promise<StoredEntry | undefined>;
  /**
   * Records a verdict on the entry at `rev` (false when it changed meanwhile); with
   * `registry` (not undefined), also the host it is now judged as (after a
   * `pullThroughCache` change).
   */
  setViolations(
    entry: InventoryEntry,
    rev: number,
    violations: readonly JudgedViolation[],
    registry?: string | null,
  ): Promise<boolean>;
}

/** The findings operations the reconciler uses (`FindingsStore` fits). */
export interface ReconcileFindingsPort extends FindingsPort, FindingsResolverPort {}

type ResolveDeps = { findings: FindingsResolverPort; clock: () => Date };

export interface ReconcileDeps {
  inventory: InventoryPort;
  findings: ReconcileFindingsPort;
  /** Told about new / reopened findings (local mode); absent on AWS (the findings stream alerts). */
  alerts?: AlertPort | undefined;
  minAlertSeverity: Severity;
  /** Scan state of digests; with `vulnerableThreshold`, running digests get scan findings. */
  images?: ImagesPort | undefined;
  vulnerableThreshold?: Severity | undefined;
  clock: () => Date;
  ttlDays?: number | undefined;
}

export interface ReconcileReport {
  /** Entries judged. */
  judged: number;
  /** Entries whose verdict changed (a healthy system's sweep changes none). */
  changed: number;
  opened: { new: number; reopened: number; repeat: number };
  resolved: Record<AutoResolutionReason, number>;
  /** Pages read in a full pass. */
  pages: number;
  /** Set when a bounded pass stopped early: pass it back to resume. */
  next?: Record<string, unknown> | undefined;
}

export function emptyReconcileReport(): ReconcileReport {
  return {
    judged: 0,
    changed: 0,
    opened: { new: 0, reopened: 0, repeat: 0 },
    resolved: { 'no-longer-running': 0, 'now-allowed': 0, 'workload-deleted': 0 },
    pages: 0,
  };
}

/** Adds `part` into `into` (for fan-out passes). */
export function mergeReconcileReports(into: ReconcileReport, part: ReconcileReport): void {
  into.judged += part.judged;
  into.changed += part.changed;
  into.pages += part.pages;
  for (const k of ['new', 'reopened', 'repeat'] as const) into.opened[k] += part.opened[k];
  for (const k of Object.keys(into.resolved) as AutoResolutionReason[])
    into.resolved[k] += part.resolved[k];
}

/** The fingerprint of an entry's finding for `rule` (the same identity ingest gives it). */
export function entryFingerprint(entry: InventoryEntry, rule: ViolationRule | string): string {
  return fingerprint({
    cluster: entry.cluster,
    namespace: entry.namespace,
    workload: entry.workload,
    container: entry.container,
    image: entry.reference ?? entry.image,
    rule,
  });
}

/** The digest an entry runs now: the last one seen, else the reference's pinned digest. */
export function currentDigest(entry: InventoryEntry): string | null {
  return entry.digests.at(-1) ?? /@(sha256:[a-f0-9]{64})$/.exec(entry.reference ?? '')?.[1] ?? null;
}

/**
 * What a running digest's scan state adds to its verdict: `vulnerable-image` at or over the
 * threshold; `scan-missing` when its scan went missing, failed or cannot be done. Null for a
 * clean or pending scan. Ingest and the reconciler both use it, so they never disagree.
 */
export function scanVerdict(record: ImageRecord, threshold: Severity): Violation | null {
  const vulnerable = vulnerabilityVerdict(record, threshold);
  if (vulnerable) return vulnerable;
  if (
    record.scanStatus === 'MISSING' ||
    record.scanStatus === 'FAILED' ||
    record.scanStatus === 'UNSUPPORTED'
  ) {
    return {
      rule: 'scan-missing',
      severity: DEFAULT_SEVERITIES['scan-missing'],
      message: `digest ${record.digest} has no vulnerability data (scan ${record.scanStatus})`,
    };
  }
  return null;
}

/**
 * The verdict for an entry now: the allowlist's decision plus what the Images table knows of
 * the digest it runs (`vulnerable-image` over the threshold; `scan-missing` when the scan
 * went missing, failed or cannot be done).
 */
export async function judgeEntry(
  entry: InventoryEntry,
  decider: Decider,
  deps: Pick<ReconcileDeps, 'images' | 'vulnerableThreshold'>,
  now: Date,
  imageCache?: Map<string, ImageRecord | undefined>,
): Promise<{
  violations: Violation[];
  matchedRule: string | null;
  digest: string | null;
  registry: string | null;
}> {
  const decision = decider.decide(
    entry.image,
    { cluster: entry.cluster, namespace: entry.namespace },
    now,
  );
  const violations = [...decision.violations];
  const digest = currentDigest(entry);
  if (digest && deps.images && deps.vulnerableThreshold) {
    const key = `${digest}#${entry.repository ?? ''}`;
    let record = imageCache?.get(key);
    if (!imageCache?.has(key)) {
      record = await deps.images.lookup(digest, entry.repository);
      imageCache?.set(key, record);
    }
    const verdict = record ? scanVerdict(record, deps.vulnerableThreshold) : null;
    if (verdict) violations.push(verdict);
  }
  return {
    violations,
    matchedRule: decision.matchedRule,
    digest,
    registry: judgedRegistry(decision),
  };
}

function candidateFor(
  entry: InventoryEntry,
  violation: Violation,
  matchedRule: string | null,
  digest: string | null,
  now: Date,
  cause: string,
): FindingCandidate {
  return {
    fingerprint: entryFingerprint(entry, violation.rule),
    cluster: entry.cluster,
    namespace: entry.namespace,
    workload: entry.workload,
    container: entry.container,
    containerKind: entry.containerKind,
    image: entry.image,
    reference: entry.reference,
    repository: entry.repository,
    digest,
    rule: violation.rule,
    severity: violation.severity,
    message: violation.message,
    matchedRule,
    actor: null,
    source: entry.sources.includes('forwarder') ? 'forwarder' : 'audit',
    observedAt: now.toISOString(),
    // One sighting per entry, rule and cause: a retried pass counts once.
    eventId: `reconcile:${cause}:${violation.rule}`,
  };
}

const sameVerdict = (a: readonly JudgedViolation[], b: readonly JudgedViolation[]) =>
  a.length === b.length &&
  a.every((v) => b.some((w) => w.rule === v.rule && w.severity === v.severity));

/**
 * Re-judges one stored entry: opens findings for rules it newly violates, resolves the ones
 * it no longer violates (`now-allowed`), and records the verdict on the entry. Nothing is
 * written when the verdict is unchanged.
 */
export async function rejudgeEntry(
  stored: StoredEntry,
  decider: Decider,
  deps: ReconcileDeps,
  report: ReconcileReport,
  cause: string,
  imageCache?: Map<string, ImageRecord | undefined>,
): Promise<void> {
  const now = deps.clock();
  let current: StoredEntry | undefined = stored;
  for (let attempt = 0; attempt < 5 && current; attempt++) {
    const { entry, rev } = current;
    const verdict = await judgeEntry(entry, decider, deps, now, imageCache);
    if (attempt === 0) report.judged++;
    const next: JudgedViolation[] = verdict.violations.map((v) => ({
      rule: v.rule,
      severity: v.severity,
    }));
    // The host it is filed under follows `pullThroughCache`, or a later one-rule change
    // for the new host would not find it.
    const moved = verdict.registry !== entry.registry;
    if (sameVerdict(entry.violations, next) && !moved) return;
    for (const violation of verdict.violations) {
      if (entry.violations.some((v) => v.rule === violation.rule)) continue;
      const candidate = candidateFor(
        entry,
        violation,
        verdict.matchedRule,
        verdict.digest,
        now,
        cause,
      );
      const result = await deps.findings.upsert(candidate, {
        now,
        ...(deps.ttlDays === undefined ? {} : { ttlDays: deps.ttlDays }),
      });
      if (result.counted) report.opened[result.outcome]++;
      if (deps.alerts && shouldAlert(result, deps.minAlertSeverity))
        await deps.alerts.notify(result);
    }
    for (const old of entry.violations) {
      if (next.some((v) => v.rule === old.rule)) continue;
      if (await deps.findings.autoResolve(entryFingerprint(entry, old.rule), 'now-allowed', now))
        report.resolved['now-allowed']++;
    }
    if (
      await deps.inventory.setViolations(entry, rev, next, moved ? verdict.registry : undefined)
    ) {
      report.changed++;
      return;
    }
    // Changed meanwhile (a new sighting): judge what is stored now.
    current = await deps.inventory.get(entry.cluster, entry.namespace, entry.workload, entry);
  }
}

/**
 * Resolves the findings of entries that left the inventory. Every rule is tried, not just the
 * entry's last verdict, so a finding made before the entry was judged is not left behind.
 */
export async function resolveRemovals(
  removals: readonly Removal[],
  deps: ResolveDeps,
  report: ReconcileReport,
): Promise<void> {
  const now = deps.clock();
  for (const { entry, reason } of removals) {
    for (const rule of VIOLATION_RULES) {
      if (await deps.findings.autoResolve(entryFingerprint(entry, rule), reason, now))
        report.resolved[reason]++;
    }
  }
}

/**
 * After an ingest wrote an entry with a new verdict: rules the previous verdict had and this
 * one lacks are resolved (`now-allowed`), and removals are resolved by their reason.
 */
export async function settleAppliedPlan(
  applied: AppliedPlan,
  deps: ResolveDeps,
  report: ReconcileReport,
): Promise<void> {
  const now = deps.clock();
  for (const entry of applied.upserts) {
    const before = applied.before.get(`${entry.container}#${entry.reference ?? entry.image}`);
    if (!before) continue;
    for (const old of before.violations) {
      if (entry.violations.some((v) => v.rule === old.rule)) continue;
      if (await deps.findings.autoResolve(entryFingerprint(entry, old.rule), 'now-allowed', now))
        report.resolved['now-allowed']++;
    }
  }
  await resolveRemovals(applied.removals, deps, report);
}

export interface FullPassOptions {
  /** Resume point from a previous report's `next`. */
  start?: Record<string, unknown> | undefined;
  /** Stop after this many pages (a bounded Lambda invocation); the report's `next` resumes. */
  maxPages?: number | undefined;
  pageSize?: number | undefined;
  segment?: { index: number; total: number } | undefined;
  /** Names the pass in finding event ids (retries of one pass count once). */
  cause?: string | undefined;
}

/** Re-judges the whole inventory page by page; bounded and resumable. */
export async function reconcileAll(
  decider: Decider,
  deps: ReconcileDeps,
  options: FullPassOptions = {},
): Promise<ReconcileReport> {
  const report = emptyReconcileReport();
  const cause = options.cause ?? `sweep:${deps.clock().toISOString()}`;
  const cache = new Map<string, ImageRecord | undefined>();
  let next = options.start;
  do {
    const page = await deps.inventory.scanPage(next, {
      ...(options.pageSize ? { limit: options.pageSize } : {}),
      ...(options.segment ? { segment: options.segment } : {}),
    });
    report.pages++;
    for (const stored of page.items)
      await rejudgeEntry(stored, decider, deps, report, cause, cache);
    next = page.next;
    if (next && options.maxPages !== undefined && report.pages >= options.maxPages) {
      report.next = next;
      break;
    }
  } while (next);
  return report;
}

/** Re-judges every entry running `digest` (a scan result or a missing scan for it). */
export async function reconcileDigest(
  digest: string,
  decider: Decider,
  deps: ReconcileDeps,
  cause: string,
): Promise<ReconcileReport> {
  const report = emptyReconcileReport();
  for await (const stored of deps.inventory.query({ digest }))
    await rejudgeEntry(stored, decider, deps, report, cause);
  return report;
}

/**
 * The registry hosts a set of changed rules can affect, or null when one of them can match
 * hosts no index narrows (a wildcard host): then only a full pass is right.
 */
export function affectedRegistries(rules: readonly AllowlistRule[]): string[] | null {
  const hosts = new Set<string>();
  for (const rule of rules) {
    const host = exactHost(rule);
    if (host === null) return null;
    hosts.add(host);
  }
  return [...hosts];
}

/**
 * The one registry host a rule can match, or null when it matches many: a `*` label, `**`
 * (any host) or `**.example.com` (any depth). Only an exact host narrows to `byRegistry`.
 */
export function exactHost(rule: AllowlistRule): string | null {
  const { registry } = ruleTarget(rule);
  return registry.wildcards > 0 || registry.anyHost || registry.deep ? null : registry.source;
}

/**
 * Re-judges what a change of `rules` (added, removed or changed, in their before and after
 * forms) can affect: the entries of their registries through the registry index, or every
 * entry when a wildcard host (or a settings change) makes that impossible.
 */
export async function reconcileChange(
  rules: readonly AllowlistRule[],
  settingsChanged: boolean,
  decider: Decider,
  deps: ReconcileDeps,
  cause: string,
): Promise<ReconcileReport & { scope: 'full' | 'registries' }> {
  const hosts = settingsChanged ? null : affectedRegistries(rules);
  if (hosts === null) return { ...(await reconcileAll(decider, deps, { cause })), scope: 'full' };
  const report = emptyReconcileReport();
  for (const host of hosts) {
    for await (const stored of deps.inventory.byRegistry(host))
      await rejudgeEntry(stored, decider, deps, report, cause);
  }
  return { ...report, scope: 'registries' };
}
