/**
 * The Images table: one item per (digest, repository). Pushes and scan results arrive from
 * different event sources in any order, so both are upserts that merge into the same item
 * (read, merge, conditional put on `rev`), and an older scan result never replaces a newer.
 */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { ConflictError, ValidationError } from '../../core/errors.ts';
import {
  type ImageRecord,
  SCAN_SEVERITIES,
  SCAN_STATUSES,
  type SeverityCounts,
} from '../../core/types.ts';
import {
  dropUndefined,
  type InvalidItemHandler,
  isConditionalCheckFailed,
  normalizeTime,
  parseInput,
  retryPause,
  timeString,
  zodIssues,
} from './common.ts';
import { IMAGES_INDEX } from './schema.ts';

const MAX_WRITE_ATTEMPTS = 32;
const PENDING = 'PENDING';

/** Repository names of ECR: `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`. */
const ECR_HOST = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;

/** The normalised repository name of an ECR repository, as image references spell it. */
export function ecrRepository(account: string, region: string, repositoryName: string): string {
  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `${account}.dkr.ecr.${region}.${suffix}/${repositoryName}`;
}

/** Registry host, and for ECR the account and region, read from a repository name. */
export function registryOf(repository: string): {
  registry: string;
  account: string | null;
  region: string | null;
} {
  const registry = repository.slice(0, repository.indexOf('/'));
  const ecr = ECR_HOST.exec(registry);
  return { registry, account: ecr?.[1] ?? null, region: ecr?.[2] ?? null };
}

const digestSchema = z.string().regex(/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/, {
  message: 'expected a digest such as sha256:<64 hex>',
});
const repositorySchema = z
  .string()
  .regex(/^[^/\s]+\/\S+$/, { message: 'expected a repository name such as host/path' });

export const pushInputSchema = z.object({
  repository: repositorySchema,
  digest: digestSchema,
  tag: z.string().min(1).nullable(),
  pushedAt: timeString,
  tagMutability: z.enum(['MUTABLE', 'IMMUTABLE']).nullable().optional(),
});
export type PushInput = z.input<typeof pushInputSchema>;

const countsSchema = z.object(
  Object.fromEntries(SCAN_SEVERITIES.map((s) => [s, z.number().int().nonnegative()])) as Record<
    (typeof SCAN_SEVERITIES)[number],
    z.ZodNumber
  >,
);

export const scanInputSchema = z.object({
  repository: repositorySchema,
  digest: digestSchema,
  status: z.enum(SCAN_STATUSES),
  /** Missing severities count as 0. */
  severityCounts: countsSchema.partial().nullable().optional(),
  completedAt: timeString.nullable().optional(),
  /** e.g. `inspector2-event`, `ecr-api`. */
  source: z.string().min(1),
  /** When this scan information was true; an older one never replaces a newer. */
  observedAt: timeString,
});
export type ScanInput = z.input<typeof scanInputSchema>;

const storedImageSchema = z.object({
  repository: z.string(),
  digest: z.string(),
  registry: z.string(),
  account: z.string().nullable(),
  region: z.string().nullable(),
  tags: z.instanceof(Set).optional(),
  pushedAt: timeString.nullable(),
  tagMutability: z.enum(['MUTABLE', 'IMMUTABLE']).nullable(),
  scanStatus: z.enum(SCAN_STATUSES),
  severityCounts: countsSchema.nullable(),
  scanCompletedAt: timeString.nullable(),
  scanSource: z.string().nullable(),
  scanObservedAt: timeString.nullable(),
  scanPendingSince: timeString.optional(),
  rev: z.number().int().nonnegative(),
});

interface Loaded {
  record: ImageRecord;
  scanObservedAt: string | null;
  /** When the current wait for a scan began; null unless PENDING. */
  pendingSince: string | null;
  rev: number;
}

export interface ScanResult {
  /** False when a newer scan result was already stored: nothing changed. */
  applied: boolean;
  record: ImageRecord;
}

function fullCounts(partial: Partial<SeverityCounts>): SeverityCounts {
  const out = {} as SeverityCounts;
  for (const s of SCAN_SEVERITIES) out[s] = partial[s] ?? 0;
  return out;
}

export class ImagesStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #onInvalid: InvalidItemHandler | undefined;

  constructor(
    doc: DynamoDBDocumentClient,
    tableName: string,
    options: { onInvalid?: InvalidItemHandler | undefined } = {},
  ) {
    this.#doc = doc;
    this.#table = tableName;
    this.#onInvalid = options.onInvalid;
  }

  /** Records a push (or a re-push under another tag): tags accumulate, `pushedAt` is the earliest. */
  async recordPush(input: PushInput): Promise<ImageRecord> {
    const push = parseInput(pushInputSchema, input, 'image push');
    const pushedAt = normalizeTime(push.pushedAt);
    return this.#upsert(push.repository, push.digest, (current) => {
      const base = current ?? this.#blank(push.repository, push.digest);
      const record: ImageRecord = { ...base.record, tags: [...base.record.tags] };
      if (push.tag !== null && !record.tags.includes(push.tag)) record.tags.push(push.tag);
      record.tags.sort();
      if (record.pushedAt === null || pushedAt < record.pushedAt) record.pushedAt = pushedAt;
      if (push.tagMutability) record.tagMutability = push.tagMutability;
      // A push's pending scan dates from the earliest push, even if a scan event came first.
      const pendingSince =
        record.scanStatus !== PENDING
          ? null
          : base.pendingSince === null || pushedAt < base.pendingSince
            ? pushedAt
            : base.pendingSince;
      return { record, scanObservedAt: base.scanObservedAt, pendingSince };
    }).then((r) => r.record);
  }

  /**
   * Records scan information. A result for an image whose push was not seen yet creates the
   * item (the push fills in the rest later); a result older than the stored one is ignored.
   */
  async recordScan(input: ScanInput): Promise<ScanResult> {
    const scan = parseInput(scanInputSchema, input, 'image scan');
    const observedAt = normalizeTime(scan.observedAt);
    let applied = true;
    const out = await this.#upsert(scan.repository, scan.digest, (current) => {
      const base = current ?? this.#blank(scan.repository, scan.digest);
      if (base.scanObservedAt !== null && observedAt < base.scanObservedAt) {
        applied = false;
        return null;
      }
      applied = true;
      const record: ImageRecord = {
        ...base.record,
        scanStatus: scan.status,
        severityCounts:
          scan.severityCounts === undefined || scan.severityCounts === null
            ? scan.status === 'COMPLETE'
              ? fullCounts({})
              : null
            : fullCounts(scan.severityCounts),
        scanCompletedAt:
          scan.completedAt === undefined || scan.completedAt === null
            ? null
            : normalizeTime(scan.completedAt),
        scanSource: scan.source,
      };
      // A rescan waits from when it was reported, not from the original push.
      const pendingSince =
        scan.status !== PENDING
          ? null
          : base.record.scanStatus === PENDING && base.pendingSince !== null
            ? base.pendingSince
            : observedAt;
      return { record, scanObservedAt: observedAt, pendingSince };
    });
    return { applied, record: out.record };
  }

  async get(repository: string, digest: string): Promise<ImageRecord | undefined> {
    return (await this.#load(repository, digest))?.record;
  }

  /** Every repository a digest is known in (a digest may be pushed to several). */
  async findByDigest(digest: string): Promise<ImageRecord[]> {
    return this.#queryAll({
      TableName: this.#table,
      KeyConditionExpression: '#d = :d',
      ExpressionAttributeNames: { '#d': 'digest' },
      ExpressionAttributeValues: { ':d': digest },
    });
  }

  /**
   * The record for a running image: the one in `repository` when known there, otherwise the
   * digest's record elsewhere (e.g. the image was pulled through a cache or another host name).
   * Of several elsewhere, the one with scan results, then the earliest pushed.
   */
  async lookup(digest: string, repository?: string | null): Promise<ImageRecord | undefined> {
    const records = await this.findByDigest(digest);
    const exact = records.find((r) => r.repository === repository);
    if (exact) return exact;
    return records.sort(
      (a, b) =>
        Number(b.severityCounts !== null) - Number(a.severityCounts !== null) ||
        (a.pushedAt ?? '\uffff').localeCompare(b.pushedAt ?? '\uffff'),
    )[0];
  }

  /** Every known digest of a repository. */
  async listByRepository(repository: string): Promise<ImageRecord[]> {
    return this.#queryAll({
      TableName: this.#table,
      IndexName: IMAGES_INDEX.byRepository,
      KeyConditionExpression: '#r = :r',
      ExpressionAttributeNames: { '#r': 'repository' },
      ExpressionAttributeValues: { ':r': repository },
    });
  }

  /**
   * Images whose scan has been pending since before `time`, oldest first: what the scan-check
   * poller looks at. A sparse index holds only PENDING images, so this is a small Query.
   */
  async listPendingOlderThan(time: Date, limit?: number): Promise<ImageRecord[]> {
    return this.#queryAll(
      {
        TableName: this.#table,
        IndexName: IMAGES_INDEX.scanPending,
        KeyConditionExpression: '#k = :k AND #since < :t',
        ExpressionAttributeNames: { '#k': 'scanPendingKey', '#since': 'scanPendingSince' },
        ExpressionAttributeValues: { ':k': PENDING, ':t': time.toISOString() },
        ScanIndexForward: true,
      },
      limit,
    );
  }

  /* -------------------------------------------------------------- internals */

  #blank(repository: string, digest: string): Loaded {
    return {
      record: {
        repository,
        digest,
        ...registryOf(repository),
        tags: [],
        pushedAt: null,
        tagMutability: null,
        scanStatus: PENDING,
        severityCounts: null,
        scanCompletedAt: null,
        scanSource: null,
      },
      scanObservedAt: null,
      pendingSince: null,
      rev: 0,
    };
  }

  async #upsert(
    repository: string,
    digest: string,
    change: (current: Loaded | undefined) => Omit<Loaded, 'rev'> | null,
  ): Promise<{ record: ImageRecord }> {
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const current = await this.#load(repository, digest, true);
      const next = change(current);
      if (next === null) return { record: (current as Loaded).record };
      const rev = (current?.rev ?? 0) + 1;
      try {
        await this.#doc.send(
          new PutCommand({
            TableName: this.#table,
            Item: this.#toItem(next, rev),
            ...(current
              ? {
                  ConditionExpression: '#rev = :rev',
                  ExpressionAttributeNames: { '#rev': 'rev' },
                  ExpressionAttributeValues: { ':rev': current.rev },
                }
              : { ConditionExpression: 'attribute_not_exists(digest)' }),
          }),
        );
        return { record: next.record };
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
        await retryPause(attempt);
      }
    }
    throw new ConflictError(`image ${repository}@${digest}: gave up after conflicting writes`);
  }

  #toItem(next: Omit<Loaded, 'rev'>, rev: number): Record<string, unknown> {
    const { record } = next;
    const pending = record.scanStatus === PENDING;
    return dropUndefined({
      ...record,
      // A string set; DynamoDB has no empty set, so no tags means no attribute.
      tags: record.tags.length > 0 ? new Set(record.tags) : undefined,
      scanObservedAt: next.scanObservedAt,
      rev,
      scanPendingKey: pending ? PENDING : undefined,
      scanPendingSince: pending ? (next.pendingSince ?? undefined) : undefined,
    });
  }

  #validate(raw: Record<string, unknown>): Loaded | undefined {
    const parsed = storedImageSchema.safeParse(raw);
    if (!parsed.success) {
      this.#onInvalid?.({
        table: this.#table,
        key: { digest: raw.digest, repository: raw.repository },
        issues: zodIssues(parsed.error),
      });
      return undefined;
    }
    const { tags, scanObservedAt, scanPendingSince, rev, ...rest } = parsed.data;
    const tagList = [...(tags ?? [])].filter((t): t is string => typeof t === 'string').sort();
    return {
      record: { ...rest, tags: tagList },
      scanObservedAt,
      pendingSince: scanPendingSince ?? null,
      rev,
    };
  }

  async #load(repository: string, digest: string, strict = false): Promise<Loaded | undefined> {
    const out = await this.#doc.send(
      new GetCommand({
        TableName: this.#table,
        Key: { digest, repository },
        ConsistentRead: true,
      }),
    );
    if (!out.Item) return undefined;
    const loaded = this.#validate(out.Item);
    if (!loaded && strict) {
      throw new ValidationError(
        `stored image ${repository}@${digest} is invalid; fix or delete the item before updating it`,
      );
    }
    return loaded;
  }

  async #queryAll(input: QueryCommandInput, limit?: number): Promise<ImageRecord[]> {
    const records: ImageRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.#doc.send(
        new QueryCommand(startKey ? { ...input, ExclusiveStartKey: startKey } : input),
      );
      for (const item of out.Items ?? []) {
        const loaded = this.#validate(item);
        if (!loaded) continue;
        records.push(loaded.record);
        if (limit !== undefined && records.length >= limit) return records;
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return records;
  }
}
