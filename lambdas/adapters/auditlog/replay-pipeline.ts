/**
 * The replay pipeline for one audit log (or one byte range of it): read → interpret →
 * evaluate, with finding candidates handed out in file order. `regwatch replay` runs it on
 * the main thread and in worker threads (`replay-worker.ts`); both paths run this same code,
 * so a parallel replay is the sequential one cut into ranges.
 */
import type { Readable } from 'node:stream';
import type { CompiledAllowlist } from '../../core/allowlist/index.ts';
import { interpretAuditEvent, isReportedFailure } from '../../core/audit/interpret.ts';
import { type Decider, evaluateObservation } from '../../core/evaluate.ts';
import type { Decision, FindingCandidate, Scope } from '../../core/types.ts';
import {
  MAX_LISTED_BAD_RECORDS,
  newReaderStats,
  type ReadAuditLogOptions,
  type ReaderStats,
  readAuditLog,
} from './reader.ts';

/** Cluster name for events whose file and flags name none. */
export const UNKNOWN_CLUSTER = 'unknown';
/** Malformed records listed by line (the rest are only counted). */
export const MAX_LISTED_MALFORMED = MAX_LISTED_BAD_RECORDS;

export interface MalformedLine {
  file: string;
  line: number;
  error: string;
  /** The error ended its file: listed even past `MAX_LISTED_MALFORMED`. */
  fatal?: boolean;
}

export interface PipelineCounts {
  reader: ReaderStats;
  observations: number;
  /** Observations judged without a cluster (no --cluster, no EKS log group): "unknown". */
  unknownCluster: number;
  /** Skip reason → count, in order of first occurrence. */
  skipped: Record<string, number>;
  /** The first `MAX_LISTED_MALFORMED` malformed records, lines as the reader numbered them. */
  malformed: MalformedLine[];
  /**
   * The first `MAX_LISTED_MALFORMED` writes whose images could not be judged (reported
   * failures such as `image-unknown`, by auditID); all of them are counted in `skipped`.
   */
  unjudged: MalformedLine[];
}

export interface PipelineOptions {
  /** Name used in records (the file's base name). */
  file: string;
  cluster?: string | undefined;
  /** Judge every event at this time; null: each event at its own time. */
  at: Date | null;
  /** Reader options for ranges of line-mode files and for the reference path. */
  lines?: boolean | undefined;
  range?: ReadAuditLogOptions['range'];
  bytePrefilter?: boolean | undefined;
  /** Longest line and largest pretty-printed document read (default: the reader's caps). */
  maxRecordBytes?: number | undefined;
}

export function newPipelineCounts(): PipelineCounts {
  return {
    reader: newReaderStats(),
    observations: 0,
    unknownCluster: 0,
    skipped: {},
    malformed: [],
    unjudged: [],
  };
}

/**
 * Reads `source` and hands every finding candidate to `onCandidate`, in file order.
 * Never throws for bad content: it is counted in the returned counts.
 */
export async function evaluateAuditLog(
  source: string | Readable,
  decider: Decider,
  opts: PipelineOptions,
  onCandidate: (candidate: FindingCandidate) => void,
  counts: PipelineCounts = newPipelineCounts(),
): Promise<PipelineCounts> {
  for await (const record of readAuditLog(source, {
    file: opts.file,
    cluster: opts.cluster,
    stats: counts.reader,
    lines: opts.lines,
    range: opts.range,
    bytePrefilter: opts.bytePrefilter,
    maxLineBytes: opts.maxRecordBytes,
    maxDocumentChars: opts.maxRecordBytes,
  })) {
    if (record.kind === 'malformed') {
      if (record.fatal || counts.malformed.length < MAX_LISTED_MALFORMED) {
        counts.malformed.push({
          file: record.file,
          line: record.line,
          error: record.error,
          ...(record.fatal ? { fatal: true } : {}),
        });
      }
      continue;
    }
    // Plain-text lines are counted by the reader (`not JSON` in the summary).
    if (record.kind === 'skipped') continue;
    const outcome = interpretAuditEvent(record.event, {
      cluster: record.cluster ?? UNKNOWN_CLUSTER,
    });
    if (outcome.kind === 'skipped') {
      counts.skipped[outcome.reason] = (counts.skipped[outcome.reason] ?? 0) + 1;
      // Lines that are not audit events are counted only; writes not judged are listed.
      const unjudged = isReportedFailure(outcome.reason) && outcome.reason !== 'not-audit-event';
      if (unjudged && counts.unjudged.length < MAX_LISTED_MALFORMED) {
        counts.unjudged.push({
          file: record.file,
          line: record.line,
          error: `${outcome.reason}: ${outcome.detail}`,
        });
      }
      continue;
    }
    counts.observations++;
    if (record.cluster === undefined) counts.unknownCluster++;
    const obs = outcome.observation;
    // History is judged by the allowlist as it applied then: a time-boxed exception that
    // covered the event counts, unless --at fixes one time for all.
    const when = opts.at ?? new Date(obs.observedAt);
    for (const candidate of evaluateObservation(obs, decider, when)) onCandidate(candidate);
  }
  return counts;
}

/**
 * Adds `more` (the counts of the next range of the same stream) to `into`; its line numbers
 * are shifted by the lines `into` has read so far (not when `more` is another file's).
 */
export function mergeCounts(into: PipelineCounts, more: PipelineCounts, sameStream = true): void {
  // Another file's lines count from its own start.
  const offset = sameStream ? into.reader.lines : 0;
  for (const m of more.malformed) {
    if (!m.fatal && into.malformed.length >= MAX_LISTED_MALFORMED) continue;
    into.malformed.push({ ...m, line: m.line + offset });
  }
  for (const m of more.unjudged) {
    if (into.unjudged.length >= MAX_LISTED_MALFORMED) break;
    into.unjudged.push({ ...m, line: m.line + offset });
  }
  for (const key of Object.keys(into.reader) as (keyof ReaderStats)[]) {
    into.reader[key] += more.reader[key];
  }
  into.observations += more.observations;
  into.unknownCluster += more.unknownCluster;
  for (const [reason, n] of Object.entries(more.skipped)) {
    into.skipped[reason] = (into.skipped[reason] ?? 0) + n;
  }
}

/** Length-prefixed, so that no two different (image, cluster, namespace) make one key. */
const part = (s: string | undefined) => (s === undefined ? '-' : `${s.length}:${s}`);

/**
 * Remembers decisions per (image, cluster, namespace) for one replay. A decision is kept only
 * when no rule that names its image has an expiry: otherwise it depends on the time judged.
 */
export class DecisionCache implements Decider {
  private readonly allowlist: CompiledAllowlist;
  private readonly timeless: boolean;
  private readonly decisions = new Map<string, Decision>();

  constructor(allowlist: CompiledAllowlist) {
    this.allowlist = allowlist;
    this.timeless = !allowlist.rules.some((r) => r.expiresAt !== undefined);
  }

  decide(image: string, scope: Scope, now: Date): Decision {
    const key = `${part(image)}${part(scope.cluster)}${part(scope.namespace)}`;
    const known = this.decisions.get(key);
    if (known) return known;
    const decision = this.allowlist.decide(image, scope, now);
    if (this.timeless || this.isTimeless(decision)) this.decisions.set(key, decision);
    return decision;
  }

  private isTimeless(decision: Decision): boolean {
    // An unparseable image (or a pull-through mapping that fails) is judged by no rule.
    if (decision.judged === null) return true;
    return this.allowlist.candidates(decision.judged).every((c) => c.expiresAtMs === null);
  }
}
