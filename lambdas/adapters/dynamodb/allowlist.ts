/**
 * The Allowlist table: one item per rule (`id` = rule id, the rule's fields as attributes,
 * plus its `position` in the document, since file order breaks specificity ties) and one
 * `#meta` item holding the document settings and a `version` counter.
 *
 * Every change runs inside a short lock on `#meta` that bumps `version` when it starts and
 * again when it ends, so a reader that sees the same version before and after its Scan, with
 * no writer in between, has read a consistent rule set (a sequence lock). The local emulator
 * has no transactions, and an import can exceed the 100 items one transaction can hold.
 *
 * Loading the whole rule set is a paginated Scan: it reads every item of a small table by
 * design; no query path of the other tables scans.
 */
import { randomUUID } from 'node:crypto';
import {
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { CompiledAllowlist } from '../../core/allowlist/compile.ts';
// The modules themselves, not the barrel: it would bundle the YAML reader into every Lambda.
import { compileAllowlist } from '../../core/allowlist/compile-allowlist.ts';
import {
  ALLOWLIST_VERSION,
  type AllowlistDocument,
  type AllowlistRule,
  validateAllowlist,
  validateRule,
} from '../../core/allowlist/schema.ts';
import { AllowlistError, ConflictError, NotFoundError } from '../../core/errors.ts';
import { dropUndefined, isConditionalCheckFailed, retryPause } from './common.ts';

/** Id of the settings/version item; rule ids start with a letter or digit, so never this. */
export const META_ID = '#meta';

/** A writer's lock older than this is taken to belong to a crashed writer. */
export const STALE_LOCK_MS = 60_000;
const MAX_ATTEMPTS = 20;
const BATCH = 25;

/** Attributes of a rule item that are bookkeeping, not rule fields. */
const BOOKKEEPING = ['position', 'updatedAt'] as const;

export interface AllowlistDiff {
  added: string[];
  /** Rules whose content changed. */
  changed: string[];
  removed: string[];
  /** Rules whose only change is their place in the document (it breaks specificity ties). */
  reordered: string[];
  /** Whether `severities` or `pullThroughCache` changed. */
  settingsChanged: boolean;
}

export interface AllowlistSnapshot {
  document: AllowlistDocument;
  /** The store's change counter when the snapshot was read. */
  version: number;
}

export interface AllowlistStoreOptions {
  /** Clock for lock times; injected in tests. */
  now?: () => Date;
}

interface Meta {
  version: number;
  nextPosition: number;
  writer?: string | undefined;
  lockedAt?: number | undefined;
  severities?: AllowlistDocument['severities'];
  pullThroughCache?: AllowlistDocument['pullThroughCache'];
}

interface StoredRule {
  rule: AllowlistRule;
  position: number;
}

/** Canonical JSON of a value: object keys sorted, so equal content compares equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

export class AllowlistStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #now: () => Date;

  constructor(doc: DynamoDBDocumentClient, tableName: string, options: AllowlistStoreOptions = {}) {
    this.#doc = doc;
    this.#table = tableName;
    this.#now = options.now ?? (() => new Date());
  }

  /** The change counter: 0 for a table never written, larger after every change. */
  async version(): Promise<number> {
    return (await this.#meta()).version;
  }

  /** The whole allowlist, validated; a bad stored rule is an `AllowlistError` naming it. */
  async loadAll(): Promise<AllowlistDocument> {
    return (await this.load()).document;
  }

  /** `loadAll` with the version it was read at (what `CachedAllowlist` keeps). */
  async load(): Promise<AllowlistSnapshot> {
    const { meta, rules } = await this.#readConsistent();
    return { document: this.#assemble(meta, rules), version: meta.version };
  }

  /** Adds a rule at the end, or replaces the rule with the same id in its place. */
  async put(rule: AllowlistRule): Promise<void> {
    const valid = validateRule(rule);
    await this.#change(1, async (first) => {
      const existing = await this.#doc.send(
        new GetCommand({ TableName: this.#table, Key: { id: valid.id }, ConsistentRead: true }),
      );
      const position = typeof existing.Item?.position === 'number' ? existing.Item.position : first;
      await this.#doc.send(
        new PutCommand({ TableName: this.#table, Item: this.#ruleItem(valid, position) }),
      );
    });
  }

  /** Removes a rule; `NotFoundError` when there is none with that id. */
  async remove(id: string): Promise<void> {
    if (id === META_ID) throw new NotFoundError(`no allowlist rule ${JSON.stringify(id)}`);
    await this.#change(0, async () => {
      try {
        await this.#doc.send(
          new DeleteCommand({
            TableName: this.#table,
            Key: { id },
            ConditionExpression: 'attribute_exists(id)',
          }),
        );
      } catch (error) {
        if (isConditionalCheckFailed(error)) {
          throw new NotFoundError(`no allowlist rule ${JSON.stringify(id)}`);
        }
        throw error;
      }
    });
  }

  /**
   * Makes the stored allowlist equal to `doc` (an import), writing only what differs. The
   * document is validated first: an invalid one changes nothing.
   */
  async applyDiff(
    doc: AllowlistDocument,
    options: { dryRun?: boolean } = {},
  ): Promise<AllowlistDiff> {
    const valid = validateAllowlist(doc, 'imported allowlist');
    if (options.dryRun) {
      // Raw items, not validated: an import that replaces a broken stored rule must still diff.
      const { meta, rules } = await this.#readConsistent();
      return diffAgainst(valid, meta, rules).diff;
    }
    return this.#change(
      0,
      async () => {
        const { diff, changed } = diffAgainst(valid, await this.#meta(), await this.#scanRules());
        await this.#batchWrite(
          changed.map((change) =>
            change.rule
              ? { PutRequest: { Item: this.#ruleItem(change.rule, change.position) } }
              : { DeleteRequest: { Key: { id: change.id } } },
          ),
        );
        return diff;
      },
      { severities: valid.severities, pullThroughCache: valid.pullThroughCache },
      valid.rules.length,
    );
  }

  /* -------------------------------------------------------------- internals */

  /** Settings and raw rules as of one version: no change ran while they were read. */
  async #readConsistent(): Promise<{ meta: Meta; rules: StoredRule[] }> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const before = await this.#meta();
      if (this.#lockHeld(before)) {
        await retryPause(attempt + 4);
        continue;
      }
      const rules = await this.#scanRules();
      const after = await this.#meta();
      if (after.version !== before.version) continue; // a change ran during the Scan
      return { meta: before, rules };
    }
    throw new ConflictError('the allowlist kept changing while it was being read; try again');
  }

  #lockHeld(meta: Meta): boolean {
    return (
      meta.writer !== undefined &&
      meta.lockedAt !== undefined &&
      meta.lockedAt > this.#now().getTime() - STALE_LOCK_MS
    );
  }

  async #meta(): Promise<Meta> {
    const out = await this.#doc.send(
      new GetCommand({ TableName: this.#table, Key: { id: META_ID }, ConsistentRead: true }),
    );
    const item = out.Item ?? {};
    const number = (v: unknown) => (typeof v === 'number' ? v : 0);
    return {
      version: number(item.version),
      nextPosition: number(item.nextPosition),
      writer: typeof item.writer === 'string' ? item.writer : undefined,
      lockedAt: typeof item.lockedAt === 'number' ? item.lockedAt : undefined,
      severities: item.severities as Meta['severities'],
      pullThroughCache: item.pullThroughCache as Meta['pullThroughCache'],
    };
  }

  /**
   * Runs `work` holding the lock. Bumps `version` on entry and exit, reserves `positions`
   * new rule positions (passed to `work` as the first), and writes the document settings
   * when given. `positionBase` resets the position counter (an import renumbers everything).
   */
  async #change<T>(
    positions: number,
    work: (firstPosition: number) => Promise<T>,
    settings?: Pick<AllowlistDocument, 'severities' | 'pullThroughCache'>,
    positionBase?: number,
  ): Promise<T> {
    const token = randomUUID();
    let first = 0;
    for (let attempt = 0; ; attempt++) {
      const now = this.#now().getTime();
      try {
        const out = await this.#doc.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: { id: META_ID },
            UpdateExpression: 'SET #w = :w, #at = :now ADD #v :one, #next :n',
            ConditionExpression: 'attribute_not_exists(#w) OR #at < :stale',
            ExpressionAttributeNames: {
              '#w': 'writer',
              '#at': 'lockedAt',
              '#v': 'version',
              '#next': 'nextPosition',
            },
            ExpressionAttributeValues: {
              ':w': token,
              ':now': now,
              ':stale': now - STALE_LOCK_MS,
              ':one': 1,
              ':n': positions,
            },
            ReturnValues: 'ALL_NEW',
          }),
        );
        first = Number(out.Attributes?.nextPosition ?? positions) - positions;
        break;
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
        if (attempt + 1 >= MAX_ATTEMPTS) {
          throw new ConflictError('another allowlist change is in progress; try again');
        }
        await retryPause(attempt + 4);
      }
    }

    try {
      return await work(first);
    } finally {
      await this.#unlock(token, settings, positionBase);
    }
  }

  async #unlock(
    token: string,
    settings: Pick<AllowlistDocument, 'severities' | 'pullThroughCache'> | undefined,
    positionBase: number | undefined,
  ): Promise<void> {
    const names: Record<string, string> = { '#w': 'writer', '#at': 'lockedAt', '#v': 'version' };
    const values: Record<string, unknown> = { ':w': token, ':one': 1 };
    const set: string[] = [];
    const remove = ['#w', '#at'];
    if (settings) {
      names['#sev'] = 'severities';
      names['#ptc'] = 'pullThroughCache';
      if (settings.severities !== undefined) {
        set.push('#sev = :sev');
        values[':sev'] = dropUndefined(settings.severities);
      } else remove.push('#sev');
      if (settings.pullThroughCache !== undefined) {
        set.push('#ptc = :ptc');
        values[':ptc'] = settings.pullThroughCache;
      } else remove.push('#ptc');
    }
    if (positionBase !== undefined) {
      names['#next'] = 'nextPosition';
      values[':base'] = positionBase;
      set.push('#next = :base');
    }
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { id: META_ID },
          UpdateExpression: `${set.length > 0 ? `SET ${set.join(', ')} ` : ''}REMOVE ${remove.join(', ')} ADD #v :one`,
          ConditionExpression: '#w = :w',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      throw new ConflictError(
        'the allowlist change took longer than the lock allows and another writer took over; check the result',
      );
    }
  }

  #ruleItem(rule: AllowlistRule, position: number): Record<string, unknown> {
    return dropUndefined({ ...rule, position, updatedAt: this.#now().toISOString() });
  }

  async #scanRules(): Promise<StoredRule[]> {
    const rules: StoredRule[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.#doc.send(
        new ScanCommand({
          TableName: this.#table,
          ConsistentRead: true,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of out.Items ?? []) {
        if (item.id === META_ID) continue;
        const { position, ...fields } = item;
        for (const key of BOOKKEEPING) delete fields[key];
        rules.push({
          // Validated in #assemble, where every bad rule is reported together.
          rule: fields as AllowlistRule,
          position: typeof position === 'number' ? position : Number.POSITIVE_INFINITY,
        });
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return rules;
  }

  #assemble(meta: Meta, stored: StoredRule[]): AllowlistDocument {
    // Document order; a rule written by hand without a position goes last, by id.
    stored.sort((a, b) => a.position - b.position || a.rule.id.localeCompare(b.rule.id));
    const issues: { path: string; message: string }[] = [];
    const rules: AllowlistRule[] = [];
    for (const { rule } of stored) {
      try {
        rules.push(validateRule(rule, 'stored rule'));
      } catch (error) {
        if (!(error instanceof AllowlistError)) throw error;
        const id = JSON.stringify(rule.id);
        issues.push(
          ...error.issues.map((i) => ({ path: `rule ${id}.${i.path}`, message: i.message })),
        );
      }
    }
    if (issues.length > 0) {
      const names = [...new Set(issues.map((i) => i.path.split('.')[0]))].join(', ');
      throw new AllowlistError(
        `stored allowlist has invalid rules (${names}); nothing was loaded:\n${issues
          .map((i) => `  ${i.path}: ${i.message}`)
          .join('\n')}`,
        issues,
      );
    }
    const doc: Record<string, unknown> = { version: ALLOWLIST_VERSION, rules };
    if (meta.severities !== undefined) doc.severities = meta.severities;
    if (meta.pullThroughCache !== undefined) doc.pullThroughCache = meta.pullThroughCache;
    return validateAllowlist(doc, 'stored allowlist');
  }

  async #batchWrite(requests: Record<string, unknown>[]): Promise<void> {
    for (let i = 0; i < requests.length; i += BATCH) {
      let pending: Record<string, unknown>[] = requests.slice(i, i + BATCH);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= MAX_ATTEMPTS) {
          throw new ConflictError(`allowlist write: ${pending.length} items stayed unprocessed`);
        }
        const out = await this.#doc.send(
          new BatchWriteCommand({ RequestItems: { [this.#table]: pending as never } }),
        );
        pending = (out.UnprocessedItems?.[this.#table] ?? []) as Record<string, unknown>[];
        if (pending.length > 0) await retryPause(attempt + 4);
      }
    }
  }
}

/** What importing `doc` over the stored state changes, and the rule items to write or delete. */
function diffAgainst(
  doc: AllowlistDocument,
  meta: Meta,
  stored: StoredRule[],
): { diff: AllowlistDiff; changed: { id: string; rule?: AllowlistRule; position: number }[] } {
  const current = new Map(stored.map((r) => [r.rule.id, r]));
  const diff: AllowlistDiff = {
    added: [],
    changed: [],
    removed: [],
    reordered: [],
    settingsChanged:
      canonical(meta.severities ?? null) !== canonical(doc.severities ?? null) ||
      canonical(meta.pullThroughCache ?? null) !== canonical(doc.pullThroughCache ?? null),
  };
  const changed: { id: string; rule?: AllowlistRule; position: number }[] = [];
  doc.rules.forEach((rule, position) => {
    const old = current.get(rule.id);
    current.delete(rule.id);
    if (!old) diff.added.push(rule.id);
    else if (canonical(old.rule) !== canonical(rule)) diff.changed.push(rule.id);
    else if (old.position !== position) diff.reordered.push(rule.id);
    else return;
    changed.push({ id: rule.id, rule, position });
  });
  for (const id of current.keys()) {
    diff.removed.push(id);
    changed.push({ id, position: -1 });
  }
  return { diff, changed };
}

/* ------------------------------------------------------------------ cache */

export interface CachedAllowlistOptions {
  /** How long a compiled matcher is used before the version item is checked again. */
  ttlMs: number;
  /** Milliseconds clock; injected in tests. */
  now?: () => number;
  /** Told when a reload fails while an older matcher is kept in use. */
  onError?: (error: unknown) => void;
}

/**
 * The compiled matcher for a Lambda: reused for `ttlMs`, then the cheap `#meta` item is read
 * and the rules are reloaded and recompiled only when its version moved. So a change is in
 * effect within `ttlMs`. When a reload fails (e.g. someone stored an invalid rule) the last
 * good matcher stays in use and `onError` hears of it; with no good matcher yet, it throws.
 */
export class CachedAllowlist {
  readonly #store: AllowlistStore;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #onError: ((error: unknown) => void) | undefined;
  #current: { compiled: CompiledAllowlist; version: number; checkedAt: number } | undefined;
  #inFlight: Promise<CompiledAllowlist> | undefined;
  /** How many times rules were loaded and compiled (for metrics and tests). */
  compilations = 0;

  constructor(store: AllowlistStore, options: CachedAllowlistOptions) {
    this.#store = store;
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError;
  }

  async get(): Promise<CompiledAllowlist> {
    const current = this.#current;
    if (current && this.#now() - current.checkedAt < this.#ttlMs) return current.compiled;
    // Concurrent callers share one refresh.
    this.#inFlight ??= this.#refresh().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  /** Drops the cached matcher so the next `get` reloads. */
  invalidate(): void {
    this.#current = undefined;
  }

  async #refresh(): Promise<CompiledAllowlist> {
    const checkedAt = this.#now();
    const current = this.#current;
    try {
      if (current && (await this.#store.version()) === current.version) {
        current.checkedAt = checkedAt;
        return current.compiled;
      }
      const snapshot = await this.#store.load();
      const compiled = compileAllowlist(snapshot.document);
      this.compilations += 1;
      this.#current = { compiled, version: snapshot.version, checkedAt };
      return compiled;
    } catch (error) {
      if (!current) throw error;
      this.#onError?.(error);
      current.checkedAt = checkedAt; // try again after another TTL, not on every call
      return current.compiled;
    }
  }
}
