/**
 * The Findings table. One item per fingerprint; every write is a read followed by a
 * conditional put on the item's revision (`rev`), so concurrent sightings and status changes
 * never overwrite each other and the first writer alone sees `new`. Every read path is a
 * Query on a GSI (no Scan); docs/data-model.md maps each index to its question.
 */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { ConflictError, NotFoundError, ValidationError } from '../../core/errors.ts';
import {
  applyStatusChange,
  autoResolve,
  foldSighting,
  newFinding,
  reopenReason,
  SIGHTINGS,
  STATUS_HISTORY,
  STATUS_TRANSITIONS,
  SYSTEM_ACTOR,
} from '../../core/lifecycle.ts';
import {
  type AutoResolutionReason,
  FINDING_STATUSES,
  type Finding,
  type FindingCandidate,
  type FindingStatus,
  SEVERITIES,
  type Severity,
  type StatusChange,
  type UpsertResult,
} from '../../core/types.ts';
import {
  dropUndefined,
  findingCandidateSchema,
  findingSchema,
  type InvalidItemHandler,
  isConditionalCheckFailed,
  normalizeTime,
  parseInput,
  retryPause,
  statusChangeSchema,
  zodIssues,
} from './common.ts';
import { FINDINGS_INDEX, STATUS_SHARDS } from './schema.ts';

export { SIGHTINGS, STATUS_HISTORY, STATUS_TRANSITIONS, SYSTEM_ACTOR };

/** How many recent event ids an item remembers to recognise a redelivery. */
export const RECENT_EVENT_IDS = 50;
/** The shortest id prefix `get` accepts. */
export const MIN_ID_PREFIX = 4;

const MAX_WRITE_ATTEMPTS = 64;

export interface FindingFilter {
  /** One status, or several (e.g. OPEN and ACKNOWLEDGED for "still active"). */
  status?: FindingStatus | readonly FindingStatus[] | undefined;
  cluster?: string | undefined;
  namespace?: string | undefined;
  repository?: string | undefined;
  digest?: string | undefined;
  /** Username of the latest sighting's actor. */
  actor?: string | undefined;
  minSeverity?: Severity | undefined;
  /** Inclusive lower bound on `lastSeen`. */
  since?: Date | undefined;
  /** Exclusive upper bound on `lastSeen`. */
  until?: Date | undefined;
  /** At most this many findings in all. */
  limit?: number | undefined;
}

export interface FindingPage {
  items: Finding[];
  /** Pass back as `nextToken` for the next page; absent on the last page. */
  nextToken?: string | undefined;
}

/** Which index a filter is answered from and which filters remain (for `explain` and tests). */
export interface QueryPlan {
  index: string;
  partitions: string[];
  partitionAttribute: string;
  /** Filter fields applied as a FilterExpression after the key condition. */
  filtered: string[];
}

export interface FindingsStoreOptions {
  /** Told about every stored item that fails validation on read (it is skipped). */
  onInvalid?: InvalidItemHandler | undefined;
  /** DynamoDB `Limit` per Query request; by default derived from the caller's limit. */
  queryPageSize?: number | undefined;
}

/* ------------------------------------------------------------------ stored shape */

const storedFindingSchema = findingSchema.extend({
  // Bookkeeping, not part of `Finding`.
  rev: z.number().int().nonnegative(),
  recentEventIds: z.array(z.string()).optional(),
  seenKey: z.string().optional(),
  expiresAt: z.number().optional(),
});
type StoredFinding = z.infer<typeof storedFindingSchema>;

interface Loaded {
  finding: Finding;
  rev: number;
  recentEventIds: string[];
  expiresAt: number | undefined;
}

function shardOf(fingerprint: string): number {
  let hash = 0;
  for (let i = 0; i < fingerprint.length; i++) {
    hash = (hash * 31 + fingerprint.charCodeAt(i)) >>> 0;
  }
  return hash % STATUS_SHARDS;
}

export function findingId(fingerprint: string): string {
  return fingerprint.slice(0, 16).toLowerCase();
}

export function seenKeyOf(lastSeen: string, fingerprint: string): string {
  return `${lastSeen}#${fingerprint}`;
}

/** Attributes this store writes only sometimes: removed when a write lacks them. */
const OPTIONAL_ATTRIBUTES = [
  'expiresAt',
  'repositoryKey',
  'digestKey',
  'actorKey',
  'lastStatusChange',
  'statusHistory',
  'firstActor',
  'podName',
  'notes',
  'sightings',
  'resolution',
] as const;

/**
 * Far below DynamoDB's 400 KB item limit: a finding larger than this holds hostile input (a
 * megabyte-long name), and is refused with a `ValidationError` for its record alone rather
 * than failing in DynamoDB on every retry of the whole batch.
 */
export const MAX_ITEM_BYTES = 300 * 1024;

/** The item as written: the finding, its index keys and bookkeeping. Null index keys are left out. */
function toItem(
  finding: Finding,
  rev: number,
  recentEventIds: string[],
  expiresAt: number | undefined,
): Record<string, unknown> {
  const item = buildItem(finding, rev, recentEventIds, expiresAt);
  const bytes = Buffer.byteLength(JSON.stringify(item), 'utf8');
  if (bytes > MAX_ITEM_BYTES) {
    throw new ValidationError(
      `finding ${finding.id} would be ${bytes} bytes (limit ${MAX_ITEM_BYTES}): a name or image in the event is far too long`,
    );
  }
  return item;
}

function buildItem(
  finding: Finding,
  rev: number,
  recentEventIds: string[],
  expiresAt: number | undefined,
): Record<string, unknown> {
  return dropUndefined({
    ...finding,
    rev,
    recentEventIds,
    expiresAt,
    seenKey: seenKeyOf(finding.lastSeen, finding.fingerprint),
    statusShard: `${finding.status}#${shardOf(finding.fingerprint)}`,
    scopeKey: `${finding.cluster}#${finding.namespace}`,
    repositoryKey: finding.repository || undefined,
    digestKey: finding.digest || undefined,
    actorKey: finding.actor?.username || undefined,
    idShard: finding.id.slice(0, 2),
  });
}

function fromStored(s: StoredFinding): Loaded {
  const {
    rev,
    recentEventIds,
    seenKey: _seenKey,
    expiresAt,
    lastStatusChange,
    statusHistory,
    firstActor,
    resolution,
    ...rest
  } = s;
  const finding: Finding = { ...rest };
  if (resolution) finding.resolution = resolution;
  if (lastStatusChange) finding.lastStatusChange = lastStatusChange;
  if (statusHistory) finding.statusHistory = statusHistory;
  if (firstActor !== undefined) finding.firstActor = firstActor;
  return { finding, rev, recentEventIds: recentEventIds ?? [], expiresAt };
}

function encodeToken(after: string): string {
  return Buffer.from(JSON.stringify({ v: 1, after }), 'utf8').toString('base64url');
}

function decodeToken(token: string): string {
  try {
    const value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    const parsed = z.object({ v: z.literal(1), after: z.string().min(1) }).parse(value);
    return parsed.after;
  } catch {
    throw new ValidationError('invalid nextToken: pass back the token a previous page returned');
  }
}

/* ------------------------------------------------------------------ the store */

export class FindingsStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #onInvalid: InvalidItemHandler | undefined;
  readonly #pageSize: number | undefined;
  #invalidSkipped = 0;

  constructor(doc: DynamoDBDocumentClient, tableName: string, options: FindingsStoreOptions = {}) {
    this.#doc = doc;
    this.#table = tableName;
    this.#onInvalid = options.onInvalid;
    this.#pageSize = options.queryPageSize;
  }

  /** How many invalid stored items reads have skipped since this store was made. */
  get invalidSkipped(): number {
    return this.#invalidSkipped;
  }

  /**
   * Records one sighting. `new` for the first writer of a fingerprint, `reopened` when a
   * resolved finding (or one whose suppression ended) is seen again, `repeat` otherwise;
   * `counted: false` when this event id was already counted (a redelivery changes nothing).
   */
  async upsert(
    candidate: FindingCandidate,
    opts: { now: Date; ttlDays?: number | undefined },
  ): Promise<UpsertResult> {
    const c = parseInput(findingCandidateSchema, candidate, 'finding candidate');
    // The scope index key joins cluster and namespace with `#`: a cluster holding it could
    // make one scope's findings read as another's (every edge checks cluster names too).
    if (c.cluster.includes('#')) {
      throw new ValidationError(`cluster ${JSON.stringify(c.cluster)} must not contain '#'`, [
        { path: 'cluster', message: "must not contain '#'" },
      ]);
    }
    if (opts.ttlDays !== undefined && !(opts.ttlDays > 0)) {
      throw new ValidationError(`ttlDays must be a positive number, got ${opts.ttlDays}`);
    }
    const observedAt = normalizeTime(c.observedAt);
    const sighting: FindingCandidate = { ...c, observedAt };
    const expires = (lastSeen: string) =>
      opts.ttlDays === undefined
        ? undefined
        : Math.floor(Date.parse(lastSeen) / 1000) + Math.round(opts.ttlDays * 86_400);

    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const current = await this.#load(c.fingerprint);
      if (!current) {
        const finding = newFinding(sighting, findingId(c.fingerprint));
        try {
          await this.#doc.send(
            new PutCommand({
              TableName: this.#table,
              Item: toItem(finding, 1, [c.eventId], expires(observedAt)),
              ConditionExpression: 'attribute_not_exists(fingerprint)',
            }),
          );
          return { outcome: 'new', counted: true, finding };
        } catch (error) {
          if (!isConditionalCheckFailed(error)) throw error;
          continue; // another writer created it first: merge into theirs
        }
      }

      // A known event id is a redelivery, unless it would reopen the finding: an identical
      // sighting observed after a person resolved the finding (a forwarder resync of a pod
      // that still runs) is news, and reopens it once; the reopened finding is OPEN, so the
      // next identical sighting is a redelivery again.
      const known = current.recentEventIds.includes(c.eventId);
      if (known && !reopenReason(current.finding, observedAt, opts.now)) {
        return { outcome: 'repeat', counted: false, finding: current.finding };
      }
      const finding: Finding = structuredClone(current.finding);
      const { outcome } = foldSighting(finding, sighting, opts.now);
      const recent = known
        ? current.recentEventIds
        : [...current.recentEventIds, c.eventId].slice(-RECENT_EVENT_IDS);
      try {
        await this.#replace(
          toItem(finding, current.rev + 1, recent, expires(finding.lastSeen)),
          known ? '#rev = :rev' : '#rev = :rev AND NOT contains(#recent, :eid)',
          known ? { '#rev': 'rev' } : { '#rev': 'rev', '#recent': 'recentEventIds' },
          known ? { ':rev': current.rev } : { ':rev': current.rev, ':eid': c.eventId },
        );
        return { outcome, counted: true, finding };
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
        await retryPause(attempt);
      }
    }
    throw new ConflictError(
      `finding ${c.fingerprint}: gave up after ${MAX_WRITE_ATTEMPTS} conflicting writes`,
    );
  }

  /** A finding by its full fingerprint, its 16-hex id, or an unambiguous id prefix. */
  async get(idOrFingerprint: string): Promise<Finding> {
    return (await this.#resolve(idOrFingerprint)).finding;
  }

  /** Changes a finding's status if the transition is allowed, recording who, when, why, until. */
  async setStatus(idOrFingerprint: string, change: StatusChange): Promise<Finding> {
    const parsed = parseInput(statusChangeSchema, change, 'status change');
    const at = normalizeTime(parsed.at);
    const record: StatusChange = {
      status: parsed.status,
      by: parsed.by,
      at,
      reason: parsed.reason,
    };
    if (parsed.until !== undefined) {
      if (parsed.status !== 'SUPPRESSED') {
        throw new ValidationError('`until` applies only to a suppression');
      }
      record.until = normalizeTime(parsed.until);
      if (record.until <= at) throw new ValidationError('`until` must be after the change time');
    }

    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const current = await this.#resolve(idOrFingerprint);
      const finding = applyStatusChange(current.finding, record);
      try {
        await this.#replaceNextRev(current, finding);
        return finding;
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
        await retryPause(attempt);
      }
    }
    throw new ConflictError(`finding ${idOrFingerprint}: gave up after conflicting writes`);
  }

  /** The finding with this full fingerprint, or undefined. */
  async find(fingerprint: string): Promise<Finding | undefined> {
    return (await this.#load(fingerprint))?.finding;
  }

  /**
   * regwatch's own resolution (`resolution.by = "regwatch"`), when the lifecycle allows it
   * (`canAutoResolve`); null when the finding is missing or must stay as it is.
   */
  async autoResolve(
    fingerprint: string,
    reason: AutoResolutionReason,
    now: Date,
  ): Promise<Finding | null> {
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const current = await this.#load(fingerprint);
      if (!current) return null;
      const finding = autoResolve(current.finding, reason, now);
      if (!finding) return null;
      try {
        await this.#replaceNextRev(current, finding);
        return finding;
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
        await retryPause(attempt);
      }
    }
    throw new ConflictError(`finding ${fingerprint}: gave up after conflicting writes`);
  }

  /** Which index answers `filter` and what is left to filter; see docs/data-model.md. */
  plan(filter: FindingFilter): QueryPlan {
    const filtered: string[] = [];
    const rest = (...fields: (keyof FindingFilter)[]) => {
      for (const f of fields) if (filter[f] !== undefined) filtered.push(f);
      return filtered;
    };
    if (filter.digest !== undefined) {
      rest('status', 'cluster', 'namespace', 'repository', 'actor', 'minSeverity');
      return plan(FINDINGS_INDEX.byDigest, 'digestKey', [filter.digest], filtered);
    }
    if (filter.actor !== undefined) {
      rest('status', 'cluster', 'namespace', 'repository', 'minSeverity');
      return plan(FINDINGS_INDEX.byActor, 'actorKey', [filter.actor], filtered);
    }
    if (filter.repository !== undefined) {
      rest('status', 'cluster', 'namespace', 'minSeverity');
      return plan(FINDINGS_INDEX.byRepository, 'repositoryKey', [filter.repository], filtered);
    }
    if (filter.cluster !== undefined && filter.namespace !== undefined) {
      // `a#b` + `c` and `a` + `b#c` would name one partition: cluster names hold no `#`.
      if (filter.cluster.includes('#'))
        throw new ValidationError(`cluster ${JSON.stringify(filter.cluster)} must not contain '#'`);
      rest('status', 'minSeverity');
      return plan(
        FINDINGS_INDEX.byScope,
        'scopeKey',
        [`${filter.cluster}#${filter.namespace}`],
        filtered,
      );
    }
    if (filter.cluster !== undefined) {
      rest('status', 'minSeverity');
      return plan(FINDINGS_INDEX.byCluster, 'cluster', [filter.cluster], filtered);
    }
    rest('namespace', 'minSeverity');
    const statuses = statusList(filter) ?? [...FINDING_STATUSES];
    const partitions = statuses.flatMap((s) =>
      Array.from({ length: STATUS_SHARDS }, (_, shard) => `${s}#${shard}`),
    );
    return plan(FINDINGS_INDEX.byStatus, 'statusShard', partitions, filtered);
  }

  /** Findings matching `filter`, newest `lastSeen` first. */
  async *query(filter: FindingFilter = {}): AsyncGenerator<Finding> {
    for await (const { finding } of this.#stream(filter, undefined)) yield finding;
  }

  /** One page of `query`: at most `limit` findings (default 50) and a token for the next. */
  async queryPage(
    filter: Omit<FindingFilter, 'limit'> = {},
    page: { limit?: number | undefined; nextToken?: string | undefined } = {},
  ): Promise<FindingPage> {
    const limit = page.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new ValidationError(`limit must be a positive integer, got ${limit}`);
    }
    const after = page.nextToken === undefined ? undefined : decodeToken(page.nextToken);
    const items: Finding[] = [];
    let lastKey: string | undefined;
    // One more than asked tells whether a next page exists.
    for await (const { finding, seenKey } of this.#stream({ ...filter, limit: limit + 1 }, after)) {
      if (items.length === limit) return { items, nextToken: encodeToken(lastKey as string) };
      items.push(finding);
      lastKey = seenKey;
    }
    return { items };
  }

  /* -------------------------------------------------------------- internals */

  async *#stream(
    filter: FindingFilter,
    after: string | undefined,
  ): AsyncGenerator<{ finding: Finding; seenKey: string }> {
    if (filter.limit !== undefined && (!Number.isInteger(filter.limit) || filter.limit < 1)) {
      throw new ValidationError(`limit must be a positive integer, got ${filter.limit}`);
    }
    const p = this.plan(filter);
    const names: Record<string, string> = { '#pk': p.partitionAttribute };
    const values: Record<string, unknown> = {};

    // Key range on seenKey (`lastSeen#fingerprint`): since inclusive; until and the resume
    // point exclusive. A bare time sorts before every `time#…` key, so `until` excludes itself.
    const lower = filter.since ? filter.since.toISOString() : undefined;
    const uppers = [filter.until?.toISOString(), after].filter((u): u is string => !!u);
    const upper = uppers.sort()[0]; // the tighter bound
    let range = '';
    if (lower !== undefined || upper !== undefined) names['#sk'] = 'seenKey';
    if (lower !== undefined && upper !== undefined) {
      if (upper <= lower) return;
      range = ' AND #sk BETWEEN :lo AND :hi';
      values[':lo'] = lower;
      values[':hi'] = upper;
    } else if (lower !== undefined) {
      range = ' AND #sk >= :lo';
      values[':lo'] = lower;
    } else if (upper !== undefined) {
      range = ' AND #sk < :hi';
      values[':hi'] = upper;
    }

    const conditions: string[] = [];
    const eq = (field: string, attribute: string, value: unknown) => {
      names[`#${field}`] = attribute;
      values[`:${field}`] = value;
      conditions.push(`#${field} = :${field}`);
    };
    for (const field of p.filtered) {
      if (field === 'status') {
        names['#status'] = 'status';
        const keys = (statusList(filter) ?? []).map((status, i) => {
          values[`:status${i}`] = status;
          return `:status${i}`;
        });
        conditions.push(`#status IN (${keys.join(', ')})`);
      } else if (field === 'cluster') eq('cluster', 'cluster', filter.cluster);
      else if (field === 'namespace') eq('namespace', 'namespace', filter.namespace);
      else if (field === 'repository') eq('repository', 'repositoryKey', filter.repository);
      else if (field === 'actor') eq('actor', 'actorKey', filter.actor);
      else if (field === 'minSeverity' && filter.minSeverity !== undefined) {
        const allowed = SEVERITIES.slice(SEVERITIES.indexOf(filter.minSeverity));
        names['#severity'] = 'severity';
        const keys = allowed.map((s, i) => {
          values[`:sev${i}`] = s;
          return `:sev${i}`;
        });
        conditions.push(`#severity IN (${keys.join(', ')})`);
      }
    }

    const pageSize = this.#pageSize ?? Math.min(Math.max(filter.limit ?? 100, 25), 500);
    const streams = p.partitions.map((partition) =>
      this.#partition({
        TableName: this.#table,
        IndexName: p.index,
        KeyConditionExpression: `#pk = :pk${range}`,
        ...(conditions.length > 0 ? { FilterExpression: conditions.join(' AND ') } : {}),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ...values, ':pk': partition },
        ScanIndexForward: false,
        Limit: pageSize,
      }),
    );

    let produced = 0;
    for await (const raw of mergeNewestFirst(streams)) {
      const seenKey = raw.seenKey as string;
      if (upper !== undefined && seenKey >= upper) continue; // BETWEEN is inclusive
      const loaded = this.#validate(raw);
      if (!loaded) continue;
      yield { finding: loaded.finding, seenKey };
      produced += 1;
      if (filter.limit !== undefined && produced >= filter.limit) return;
    }
  }

  /**
   * Writes every attribute this store owns and removes the optional ones `item` lacks, with
   * an UpdateItem rather than a Put, so attributes other writers add (the alerts function's
   * `alertedKey`) survive.
   */
  /** Writes `finding` over `current` as its next revision, if no one wrote in between. */
  async #replaceNextRev(current: Loaded, finding: Finding): Promise<void> {
    await this.#replace(
      toItem(finding, current.rev + 1, current.recentEventIds, current.expiresAt),
      '#rev = :rev',
      { '#rev': 'rev' },
      { ':rev': current.rev },
    );
  }

  async #replace(
    item: Record<string, unknown>,
    condition: string,
    names: Record<string, string>,
    values: Record<string, unknown>,
  ): Promise<void> {
    const allNames = { ...names };
    const allValues = { ...values };
    const set: string[] = [];
    const remove: string[] = [];
    let n = 0;
    for (const [attribute, value] of Object.entries(item)) {
      if (attribute === 'fingerprint') continue;
      allNames[`#a${n}`] = attribute;
      allValues[`:a${n}`] = value;
      set.push(`#a${n} = :a${n}`);
      n += 1;
    }
    for (const attribute of OPTIONAL_ATTRIBUTES) {
      if (attribute in item) continue;
      allNames[`#a${n}`] = attribute;
      remove.push(`#a${n}`);
      n += 1;
    }
    await this.#doc.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: { fingerprint: item.fingerprint },
        UpdateExpression: `SET ${set.join(', ')}${remove.length > 0 ? ` REMOVE ${remove.join(', ')}` : ''}`,
        ConditionExpression: condition,
        ExpressionAttributeNames: allNames,
        ExpressionAttributeValues: allValues,
      }),
    );
  }

  async *#partition(input: QueryCommandInput): AsyncGenerator<Record<string, unknown>> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.#doc.send(
        new QueryCommand(startKey ? { ...input, ExclusiveStartKey: startKey } : input),
      );
      for (const item of out.Items ?? []) yield item;
      startKey = out.LastEvaluatedKey;
    } while (startKey);
  }

  #validate(raw: Record<string, unknown>): Loaded | undefined {
    const parsed = storedFindingSchema.safeParse(raw);
    if (parsed.success) return fromStored(parsed.data);
    this.#invalidSkipped += 1;
    this.#onInvalid?.({
      table: this.#table,
      key: { fingerprint: raw.fingerprint },
      issues: zodIssues(parsed.error),
    });
    return undefined;
  }

  /** Reads one item; an invalid stored item is reported and refused with a `ValidationError`. */
  async #load(fingerprint: string): Promise<Loaded | undefined> {
    const out = await this.#doc.send(
      new GetCommand({ TableName: this.#table, Key: { fingerprint }, ConsistentRead: true }),
    );
    if (!out.Item) return undefined;
    const loaded = this.#validate(out.Item);
    if (!loaded) {
      throw new ValidationError(
        `stored finding ${fingerprint} is invalid; fix or delete the item before updating it`,
      );
    }
    return loaded;
  }

  async #resolve(idOrFingerprint: string): Promise<Loaded> {
    const wanted = idOrFingerprint.trim();
    if (wanted.length > 16) {
      const loaded = await this.#load(wanted);
      if (!loaded) throw new NotFoundError(`no finding with fingerprint ${wanted}`);
      return loaded;
    }
    const prefix = wanted.toLowerCase();
    if (prefix.length < MIN_ID_PREFIX) {
      throw new ValidationError(
        `finding id ${JSON.stringify(wanted)} is too short: give at least ${MIN_ID_PREFIX} characters`,
      );
    }
    const out = await this.#doc.send(
      new QueryCommand({
        TableName: this.#table,
        IndexName: FINDINGS_INDEX.byId,
        KeyConditionExpression: '#shard = :shard AND begins_with(#id, :prefix)',
        ExpressionAttributeNames: { '#shard': 'idShard', '#id': 'id' },
        ExpressionAttributeValues: { ':shard': prefix.slice(0, 2), ':prefix': prefix },
        Limit: 10,
      }),
    );
    const fingerprints = [...new Set((out.Items ?? []).map((i) => String(i.fingerprint)))];
    if (fingerprints.length === 0) throw new NotFoundError(`no finding with id ${wanted}`);
    if (fingerprints.length > 1) {
      throw new ValidationError(
        `finding id ${wanted} is ambiguous: it matches ${fingerprints
          .map((f) => findingId(f))
          .join(', ')}${out.LastEvaluatedKey ? ', …' : ''}; give more characters`,
      );
    }
    const loaded = await this.#load(fingerprints[0] as string);
    if (!loaded) throw new NotFoundError(`no finding with id ${wanted}`);
    return loaded;
  }
}

/** The filter's statuses, validated and without repeats; undefined when not filtered. */
function statusList(filter: FindingFilter): FindingStatus[] | undefined {
  if (filter.status === undefined) return undefined;
  const list = typeof filter.status === 'string' ? [filter.status] : [...filter.status];
  for (const status of list) {
    if (!FINDING_STATUSES.includes(status)) {
      throw new ValidationError(
        `unknown status ${JSON.stringify(status)} (expected ${FINDING_STATUSES.join(', ')})`,
      );
    }
  }
  if (list.length === 0) throw new ValidationError('status filter lists no status');
  return [...new Set(list)];
}

function plan(
  index: string,
  partitionAttribute: string,
  partitions: string[],
  filtered: string[],
): QueryPlan {
  return { index, partitionAttribute, partitions, filtered };
}

/**
 * Merges per-partition streams that are each sorted by `seenKey` descending into one stream
 * sorted the same way (a k-way merge; k is at most 16 here, so a linear pick is enough).
 */
async function* mergeNewestFirst(
  streams: AsyncGenerator<Record<string, unknown>>[],
): AsyncGenerator<Record<string, unknown>> {
  const heads = await Promise.all(streams.map((s) => s.next()));
  try {
    for (;;) {
      let best = -1;
      let bestKey = '';
      heads.forEach((head, i) => {
        if (head.done) return;
        const key = String(head.value.seenKey);
        if (best === -1 || key > bestKey) {
          best = i;
          bestKey = key;
        }
      });
      if (best === -1) return;
      const head = heads[best] as IteratorYieldResult<Record<string, unknown>>;
      yield head.value;
      heads[best] = await (streams[best] as AsyncGenerator<Record<string, unknown>>).next();
    }
  } finally {
    await Promise.all(streams.map((s) => s.return(undefined)));
  }
}
