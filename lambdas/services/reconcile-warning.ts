/**
 * The expiry warning (issue 11): `warningDays` before a rule's `expiresAt`, one alert per rule
 * and expiry instant listing the containers the rule still allows. Sent at most once: a mark
 * (`WarningMarksPort`) is claimed before the alert goes out and records its delivery, so the
 * per-minute run, a retried run or a restarted local mode never repeats it. A rule nothing
 * depends on gets no alert (quiet unless something would break) and is searched again an
 * hour later, until its expiry.
 */
import type { StoredEntry } from '../adapters/dynamodb/inventory.ts';
import {
  type ExpiryDependent,
  type ExpiryWarning,
  expiryWarning,
  expiryWarningKey,
  inWarningWindow,
  MAX_LISTED_DEPENDENTS,
} from '../core/alerts/expiry-warning.ts';
import type { AllowlistDocument, AllowlistRule } from '../core/allowlist/schema.ts';
import type { Decider } from '../core/evaluate.ts';
import { exactHost, type InventoryPort } from './reconcile.ts';

/** Where warnings go (SNS on AWS; console and Slack in local mode). */
export interface ExpiryWarningNotifier {
  /** Returns a delivery id, or null when nothing was sent (below the minimum severity). */
  send(warning: ExpiryWarning): Promise<string | null>;
}

export interface WarningMark {
  /** The delivery id, or `below-minimum`. */
  delivered?: string | undefined;
  claimedAt?: number | undefined;
  /** When a search last found nothing depending on the rule (it is searched again later). */
  checkedAt?: number | undefined;
}

/** The once-only bookkeeping (`WarningMarks` in `adapters/dynamodb/warning-marks.ts` fits). */
export interface WarningMarksPort {
  get(key: string): Promise<WarningMark | undefined>;
  /** Claims the mark for this sender unless it is delivered or freshly claimed; false if not. */
  claim(key: string, now: Date, expiresAtEpoch: number): Promise<boolean>;
  delivered(key: string, id: string, now: Date): Promise<void>;
  /** Releases the claim: nothing depended on the rule at `now`. */
  nothingDepends(key: string, now: Date): Promise<void>;
}

/** Deliveries kept after the expiry, so a late run still finds the mark. */
const MARK_KEEP_DAYS = 14;
/**
 * A rule nothing depends on is searched again after this long: a workload deployed later in
 * the window still gets its warning, and a quiet rule costs one search an hour, not a minute.
 */
export const RECHECK_MS = 3_600_000;

/**
 * Sends `warning` unless its mark says it was sent (or is being sent). Returns what happened.
 */
export async function deliverExpiryWarning(
  warning: ExpiryWarning,
  deps: { marks: WarningMarksPort; notifier: ExpiryWarningNotifier },
  now: Date,
): Promise<'sent' | 'no-dependents' | 'below-minimum' | 'already-sent' | 'claimed-elsewhere'> {
  const key = expiryWarningKey(warning.rule);
  const mark = await deps.marks.get(key);
  if (mark?.delivered !== undefined) return 'already-sent';
  const keepUntil = Math.floor(Date.parse(warning.rule.expiresAt) / 1000) + MARK_KEEP_DAYS * 86_400;
  if (!(await deps.marks.claim(key, now, keepUntil))) return 'claimed-elsewhere';
  if (warning.total === 0) {
    await deps.marks.nothingDepends(key, now);
    return 'no-dependents';
  }
  const id = await deps.notifier.send(warning);
  await deps.marks.delivered(key, id ?? 'below-minimum', now);
  return id === null ? 'below-minimum' : 'sent';
}

/**
 * The containers `rule` still allows: the entries whose decision names it, found through
 * `byRegistry` for an exact host, else page by page over the whole table (at most
 * `maxPages`; past that the count is a floor and `complete` false).
 */
export async function dependentsOf(
  rule: AllowlistRule,
  decider: Decider,
  inventory: Pick<InventoryPort, 'byRegistry' | 'scanPage'>,
  now: Date,
  maxPages: number,
): Promise<{ dependents: ExpiryDependent[]; total: number; complete: boolean }> {
  const dependents: ExpiryDependent[] = [];
  let total = 0;
  const visit = ({ entry }: StoredEntry) => {
    const d = decider.decide(
      entry.image,
      { cluster: entry.cluster, namespace: entry.namespace },
      now,
    );
    if (d.matchedRule !== rule.id) return;
    total++;
    if (dependents.length < MAX_LISTED_DEPENDENTS)
      dependents.push({
        cluster: entry.cluster,
        namespace: entry.namespace,
        workload: { kind: entry.workload.kind, name: entry.workload.name },
        container: entry.container,
        image: entry.image,
      });
  };
  const host = exactHost(rule);
  if (host !== null) {
    for await (const s of inventory.byRegistry(host)) visit(s);
    return { dependents, total, complete: true };
  }
  let next: Record<string, unknown> | undefined;
  let pages = 0;
  do {
    const page = await inventory.scanPage(next);
    pages++;
    for (const s of page.items) visit(s);
    next = page.next;
  } while (next && pages < maxPages);
  return { dependents, total, complete: next === undefined };
}

export interface WarningRunDeps {
  inventory: Pick<InventoryPort, 'byRegistry' | 'scanPage'>;
  marks: WarningMarksPort;
  notifier: ExpiryWarningNotifier;
  clock: () => Date;
}

/** Every rule inside its warning window now gets its warning, once (the per-minute run). */
export async function sendDueExpiryWarnings(
  document: AllowlistDocument,
  decider: Decider,
  deps: WarningRunDeps,
  opts: { warningDays: number; maxPages: number },
): Promise<Record<string, string>> {
  const now = deps.clock();
  const outcomes: Record<string, string> = {};
  for (const rule of document.rules) {
    if (!inWarningWindow(rule, now, opts.warningDays)) continue;
    const key = expiryWarningKey(rule);
    // A cheap read first: a rule warned about costs one GetItem a minute, not a search.
    const mark = await deps.marks.get(key);
    if (mark?.delivered !== undefined) continue;
    if (mark?.checkedAt !== undefined && now.getTime() - mark.checkedAt < RECHECK_MS) continue;
    const found = await dependentsOf(rule, decider, deps.inventory, now, opts.maxPages);
    const warning = expiryWarning(rule, document, found, now, opts.warningDays);
    outcomes[key] = await deliverExpiryWarning(warning, deps, now);
  }
  return outcomes;
}
