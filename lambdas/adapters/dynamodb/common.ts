/** Small pieces the DynamoDB stores share: error checks, time normalisation, zod helpers. */
import { setTimeout as sleep } from 'node:timers/promises';
import * as z from 'zod';
import { ValidationError } from '../../core/errors.ts';
import {
  CONTAINER_KINDS_FOR_STORE,
  FINDING_STATUSES,
  OBSERVATION_SOURCES_FOR_STORE,
  SEVERITIES,
  VIOLATION_RULES,
} from './vocabulary.ts';

/** A stored item that failed validation on read and was skipped (or refused). */
export interface InvalidItemReport {
  table: string;
  /** The item's primary key, as stored. */
  key: Record<string, unknown>;
  issues: { path: string; message: string }[];
}

export type InvalidItemHandler = (report: InvalidItemReport) => void;

export function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

export function zodIssues(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(root)',
    message: issue.message,
  }));
}

/** Parses `value` or throws a `ValidationError` that names every bad field. */
export function parseInput<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issues = zodIssues(result.error);
    throw new ValidationError(
      `invalid ${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      issues,
    );
  }
  return result.data;
}

/**
 * One fixed-width form for every stored time (`toISOString`, millisecond precision, `Z`), so
 * that string order in sort keys is time order.
 */
export function normalizeTime(value: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new ValidationError(`not a time: ${JSON.stringify(value)}`);
  return new Date(ms).toISOString();
}

export const timeString = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), { message: 'expected an ISO-8601 time' });

/**
 * A copy without `undefined` values at any depth, so items marshal whatever options the
 * injected document client was built with.
 */
export function dropUndefined<T>(value: T): T {
  if (Array.isArray(value)) return value.map(dropUndefined) as T;
  if (value !== null && typeof value === 'object' && !(value instanceof Set)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = dropUndefined(v);
    return out as T;
  }
  return value;
}

/** Jittered pause between optimistic-write retries, so racing writers spread out. */
export function retryPause(attempt: number): Promise<void> {
  return sleep(Math.floor(Math.random() * Math.min(100, 2 ** attempt)));
}

/* ------------------------------------------------------------ shared record schemas */

export const actorSchema = z.object({
  username: z.string(),
  uid: z.string().optional(),
  groups: z.array(z.string()),
  impersonatedUser: z.object({ username: z.string(), groups: z.array(z.string()) }).optional(),
  sourceIPs: z.array(z.string()),
  userAgent: z.string().nullable(),
  auditID: z.string().nullable(),
  extra: z.record(z.string(), z.array(z.string())).optional(),
  controller: z.boolean().optional(),
});

export const statusChangeSchema = z.object({
  status: z.enum(FINDING_STATUSES),
  by: z.string().min(1),
  at: timeString,
  reason: z.string(),
  until: timeString.optional(),
});

/** A `FindingCandidate` as the store accepts it; key parts must be non-empty (index keys). */
export const findingCandidateSchema = z.object({
  fingerprint: z.string().min(16),
  cluster: z.string().min(1),
  namespace: z.string().min(1),
  workload: z.object({ kind: z.string(), name: z.string() }),
  container: z.string(),
  containerKind: z.enum(CONTAINER_KINDS_FOR_STORE),
  image: z.string(),
  reference: z.string().nullable(),
  repository: z.string().nullable(),
  digest: z.string().nullable(),
  rule: z.enum(VIOLATION_RULES),
  severity: z.enum(SEVERITIES),
  message: z.string(),
  matchedRule: z.string().nullable(),
  actor: actorSchema.nullable(),
  source: z.enum(OBSERVATION_SOURCES_FOR_STORE),
  observedAt: timeString,
  eventId: z.string().min(1),
  podName: z.string().nullable().optional(),
  notes: z.array(z.string()).optional(),
});

export const sightingSchema = z.object({
  at: timeString,
  source: z.enum(OBSERVATION_SOURCES_FOR_STORE),
  eventId: z.string().min(1),
  podName: z.string().nullable(),
  actor: z.string().nullable(),
  notes: z.array(z.string()).optional(),
});

/** A `Finding`: the stored shape without the store's bookkeeping (also what alerts carry). */
export const findingSchema = findingCandidateSchema.extend({
  id: z.string().min(1),
  status: z.enum(FINDING_STATUSES),
  firstSeen: timeString,
  lastSeen: timeString,
  count: z.number().int().positive(),
  lastStatusChange: statusChangeSchema.optional(),
  statusHistory: z.array(statusChangeSchema).optional(),
  firstActor: actorSchema.nullable().optional(),
  sightings: z.array(sightingSchema).optional(),
  resolution: z.object({ by: z.string(), reason: z.string(), at: timeString }).optional(),
});
