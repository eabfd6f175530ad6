/**
 * The reconciler's triggers in one process (local mode): a change of the stored allowlist
 * (its version counter, polled), each rule's `expiresAt` (a timer set for that instant), a
 * stored scan result (told by the registry path), and a periodic sweep. Runs are queued one
 * after another, so two passes never race each other. Timers do not keep the process alive.
 */
import type { AllowlistStore } from '../adapters/dynamodb/allowlist.ts';
import { type ExpiryWarning, expiryWarning } from '../core/alerts/expiry-warning.ts';
import { compileAllowlist } from '../core/allowlist/compile-allowlist.ts';
import type { AllowlistDocument, AllowlistRule } from '../core/allowlist/schema.ts';
import type { ImageRecord } from '../core/types.ts';
import {
  type ReconcileDeps,
  type ReconcileReport,
  reconcileAll,
  reconcileChange,
  reconcileDigest,
} from './reconcile.ts';
import {
  deliverExpiryWarning,
  dependentsOf,
  type ExpiryWarningNotifier,
  RECHECK_MS,
  type WarningMarksPort,
} from './reconcile-warning.ts';

/** The largest delay `setTimeout` takes; a later expiry is re-armed when this one fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ReconcileLoopOptions {
  deps: ReconcileDeps;
  allowlist: Pick<AllowlistStore, 'version' | 'load'>;
  /** How often the allowlist version is checked (ms). */
  pollMs?: number | undefined;
  /** Full sweep period (ms); 0 turns it off. */
  sweepMs?: number | undefined;
  /** Days before `expiresAt` the warning for a rule is given. */
  warningDays?: number | undefined;
  /** Told what each run did. */
  onRun?: ((what: string, report: ReconcileReport) => void) | undefined;
  /** Told N days before a rule expires, with the containers still depending on it. */
  onExpiryWarning?: ((warning: ExpiryWarning, outcome: string) => void) | undefined;
  /**
   * Where the warning alert goes, once per rule and expiry (marks stored in the findings
   * table, so a restart with `--data` does not repeat it). Without it only `onExpiryWarning`.
   */
  warnings?: { marks: WarningMarksPort; notifier: ExpiryWarningNotifier } | undefined;
  onError: (error: unknown, what: string) => void;
}

interface Known {
  version: number;
  document: AllowlistDocument;
}

/** Rules whose content differs between two documents (added, removed or changed), both forms. */
export function changedRules(
  before: AllowlistDocument,
  after: AllowlistDocument,
): {
  rules: AllowlistRule[];
  settingsChanged: boolean;
} {
  const key = (r: AllowlistRule) => JSON.stringify(r, Object.keys(r).sort());
  const old = new Map(before.rules.map((r) => [r.id, r]));
  const now = new Map(after.rules.map((r) => [r.id, r]));
  const rules: AllowlistRule[] = [];
  for (const [id, rule] of now) {
    const prev = old.get(id);
    if (!prev) rules.push(rule);
    else if (key(prev) !== key(rule)) rules.push(prev, rule);
  }
  for (const [id, rule] of old) if (!now.has(id)) rules.push(rule);
  const settingsChanged =
    JSON.stringify(before.severities ?? {}) !== JSON.stringify(after.severities ?? {}) ||
    JSON.stringify(before.pullThroughCache ?? []) !==
      JSON.stringify(after.pullThroughCache ?? []) ||
    // Rule order breaks specificity ties: a reorder of kept rules can change a verdict anywhere.
    before.rules
      .filter((r) => now.has(r.id))
      .map((r) => r.id)
      .join('\n') !==
      after.rules
        .filter((r) => old.has(r.id))
        .map((r) => r.id)
        .join('\n');
  return { rules, settingsChanged };
}

export class ReconcileLoop {
  readonly #o: ReconcileLoopOptions;
  #known: Known | undefined;
  #queue: Promise<void> = Promise.resolve();
  readonly #timers = new Set<NodeJS.Timeout>();
  #poller: NodeJS.Timeout | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Rule ids warned about, so each rule warns once per expiry time. */
  readonly #warned = new Set<string>();

  constructor(options: ReconcileLoopOptions) {
    this.#o = options;
  }

  /** Reads the allowlist as it is now and arms the timers. */
  async start(): Promise<void> {
    const snapshot = await this.#o.allowlist.load();
    this.#known = { version: snapshot.version, document: snapshot.document };
    this.#armExpiries(snapshot.document);
    const poll = this.#o.pollMs ?? 1000;
    this.#poller = setInterval(() => this.#enqueue('allowlist-poll', () => this.#poll()), poll);
    this.#poller.unref();
    const sweep = this.#o.sweepMs ?? 3_600_000;
    if (sweep > 0) {
      this.#sweeper = setInterval(() => this.#enqueue('sweep', () => this.#sweep()), sweep);
      this.#sweeper.unref();
    }
  }

  /** A scan state was stored for a digest: re-judge everything running it, now. */
  scanRecorded(record: ImageRecord): Promise<void> {
    return this.#enqueue('scan', async () => {
      const report = await reconcileDigest(
        record.digest,
        compileAllowlist(this.#document()),
        this.#o.deps,
        `scan:${record.digest}:${record.scanStatus}:${record.scanCompletedAt ?? ''}`,
      );
      this.#o.onRun?.(`scan of ${record.digest}`, report);
    });
  }

  /** Runs the whole reconciliation once (the sweep), waiting for it. */
  sweepNow(): Promise<void> {
    return this.#enqueue('sweep', () => this.#sweep());
  }

  /** Waits for queued runs (tests, shutdown). */
  idle(): Promise<void> {
    return this.#queue;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#poller) clearInterval(this.#poller);
    if (this.#sweeper) clearInterval(this.#sweeper);
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await this.#queue;
  }

  #document(): AllowlistDocument {
    return this.#known?.document ?? { version: 1, rules: [] };
  }

  #enqueue(what: string, run: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(async () => {
      if (this.#stopped) return;
      try {
        await run();
      } catch (error) {
        this.#o.onError(error, what);
      }
    });
    this.#queue = next;
    return next;
  }

  async #poll(): Promise<void> {
    const version = await this.#o.allowlist.version();
    if (this.#known && version === this.#known.version) return;
    const snapshot = await this.#o.allowlist.load();
    const before = this.#document();
    const compiled = compileAllowlist(snapshot.document);
    this.#known = { version: snapshot.version, document: snapshot.document };
    this.#armExpiries(snapshot.document);
    const { rules, settingsChanged } = changedRules(before, snapshot.document);
    if (rules.length === 0 && !settingsChanged) return;
    const report = await reconcileChange(
      rules,
      settingsChanged,
      compiled,
      this.#o.deps,
      `allowlist:${snapshot.version}`,
    );
    this.#o.onRun?.(
      `allowlist change (version ${snapshot.version}, ${rules.map((r) => r.id).join(', ') || 'settings'}; ${report.scope})`,
      report,
    );
  }

  async #sweep(): Promise<void> {
    const report = await reconcileAll(compileAllowlist(this.#document()), this.#o.deps);
    this.#o.onRun?.('sweep', report);
  }

  /** One timer per future `expiresAt` (and its warning); re-armed on every allowlist change. */
  #armExpiries(document: AllowlistDocument): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    const now = this.#o.deps.clock().getTime();
    const warnMs = (this.#o.warningDays ?? 7) * 86_400_000;
    for (const rule of document.rules) {
      if (rule.expiresAt === undefined) continue;
      const at = Date.parse(rule.expiresAt);
      if (Number.isNaN(at)) continue;
      if (at > now) this.#at(at, () => this.#expired(rule));
      const warnAt = at - warnMs;
      const warnKey = `${rule.id}@${rule.expiresAt}`;
      // 0 days: no warnings (as on AWS).
      if (warnMs > 0 && at > now && !this.#warned.has(warnKey)) {
        this.#at(Math.max(warnAt, now), () => this.#warn(rule, warnKey));
      }
    }
  }

  #at(time: number, run: () => Promise<void>): void {
    const delay = time - this.#o.deps.clock().getTime();
    const timer = setTimeout(
      () => {
        this.#timers.delete(timer);
        if (delay > MAX_TIMER_MS) this.#at(time, run);
        else void this.#enqueue('expiry', run);
      },
      // A few ms late, so the decider's clock is past the instant when it judges.
      Math.min(Math.max(delay + 5, 0), MAX_TIMER_MS),
    );
    timer.unref();
    this.#timers.add(timer);
  }

  async #expired(rule: AllowlistRule): Promise<void> {
    const report = await reconcileChange(
      [rule],
      false,
      compileAllowlist(this.#document()),
      this.#o.deps,
      `expiry:${rule.id}:${rule.expiresAt}`,
    );
    this.#o.onRun?.(`expiry of ${rule.id} at ${rule.expiresAt}`, report);
  }

  async #warn(rule: AllowlistRule, key: string): Promise<void> {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    const document = this.#document();
    const now = this.#o.deps.clock();
    const days = this.#o.warningDays ?? 7;
    const found = await dependentsOf(
      rule,
      compileAllowlist(document),
      this.#o.deps.inventory,
      now,
      Number.POSITIVE_INFINITY,
    );
    const warning = expiryWarning(rule, document, found, now, days);
    const outcome = this.#o.warnings
      ? await deliverExpiryWarning(warning, this.#o.warnings, now)
      : warning.total === 0
        ? 'no-dependents'
        : 'not-sent';
    this.#o.onExpiryWarning?.(warning, outcome);
    // Nothing depended on it yet (e.g. right after start): look again later in the window.
    const at = Date.parse(rule.expiresAt ?? '');
    if (outcome === 'no-dependents' && now.getTime() + RECHECK_MS < at) {
      this.#warned.delete(key);
      this.#at(now.getTime() + RECHECK_MS, () => this.#warn(rule, key));
    }
  }
}
