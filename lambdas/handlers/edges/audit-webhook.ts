/**
 * The `audit-webhook` edge: kube-apiserver's audit webhook backend → findings. HTTP API (payload 2.0)
 * `POST /audit/{cluster}`, behind the bearer-token authorizer. The body is an `audit.k8s.io/v1`
 * (or `v1beta1`) `EventList`; a single `Event` or JSON lines of Events are accepted too (what
 * `kubectl` users and log shippers tend to send by hand).
 *
 * Answers (mapped from named errors by `commons/errors.ts`, the one place that does it):
 * - 200 with the counts when every item was valid (skipped items are not errors);
 * - 400 when the cluster name or the body is bad (not JSON, not an EventList), naming why;
 * - 400 listing the bad items by index (`items[3]`) when some items are invalid — AFTER the
 *   valid ones were recorded. kube-apiserver's webhook backend retries only transient failures
 *   (5xx, 429, timeouts, dropped connections), so a 400 is not resent and the valid items are
 *   not recorded twice; a sender that does resend is harmless, because a finding counts each
 *   audit event id once. A 400 rather than a 200 keeps a broken sender visible in its own logs;
 * - 413 when the decoded body exceeds `AUDIT_WEBHOOK_MAX_BODY_BYTES`;
 * - 500 with only the request id when recording fails (throttling, a store fault, a broken
 *   stored allowlist): the apiserver retries the batch.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import * as z from 'zod';
import { PayloadTooLargeError, ValidationError } from '../../core/errors.ts';
import type { IngestReport, RecordFailure } from '../../services/ingest.ts';
import { ingestAuditEvents } from '../../services/ingest.ts';
import type { IngestDeps } from '../../services/ports.ts';
import { silentTelemetry, type Telemetry } from '../commons/telemetry.ts';
import { recordIngestMetrics } from './ingest-report.ts';

/** The EKS cluster-name rule; the same names are used by `/aws/eks/<cluster>/cluster`. */
export const CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;
/** How many invalid items a 400 names; the count is always complete. */
const MAX_ISSUES = 100;

const AUDIT_API_VERSIONS = ['audit.k8s.io/v1', 'audit.k8s.io/v1beta1'] as const;

const eventListSchema = z.object({
  apiVersion: z.enum(AUDIT_API_VERSIONS).optional(),
  kind: z.literal('EventList'),
  items: z.array(z.unknown(), { error: 'items must be an array of audit Events' }),
});

export interface ParsedBody {
  /** Candidate events with their position in the body. */
  items: { index: number; value: unknown }[];
  /** Items that could not even be read (a JSON line that is not JSON). */
  invalid: RecordFailure[];
  total: number;
  format: 'EventList' | 'Event' | 'JSON lines';
}

function issue(path: string, message: string) {
  return [{ path, message }];
}

/** The decoded request body, or 400 / 413. Measures bytes after base64 decoding. */
export function bodyText(
  event: { body?: string | null | undefined; isBase64Encoded?: boolean | undefined },
  maxBytes: number,
): string {
  if (event.body === undefined || event.body === null || event.body === '') {
    throw new ValidationError(
      'the request has no body: expected an audit.k8s.io/v1 EventList',
      issue('body', 'required'),
    );
  }
  const bytes = event.isBase64Encoded
    ? Buffer.from(event.body, 'base64')
    : Buffer.from(event.body, 'utf8');
  if (bytes.byteLength > maxBytes) throw new PayloadTooLargeError(maxBytes);
  return bytes.toString('utf8');
}

/**
 * Reads an EventList, a single Event, or JSON lines of Events (or of EventLists); whole-body
 * problems are 400s.
 */
export function parseAuditBody(text: string): ParsedBody {
  let whole: unknown;
  let isJson = true;
  try {
    whole = JSON.parse(text);
  } catch {
    isJson = false;
  }
  if (isJson) {
    if (whole === null || typeof whole !== 'object' || Array.isArray(whole)) {
      throw new ValidationError(
        'the body is not an audit EventList: expected a JSON object',
        issue('(root)', 'expected an object'),
      );
    }
    const kind = (whole as { kind?: unknown }).kind;
    if (kind === 'Event') {
      return { items: [{ index: 0, value: whole }], invalid: [], total: 1, format: 'Event' };
    }
    const list = eventListSchema.safeParse(whole);
    if (!list.success) {
      const issues = list.error.issues.map((i) => ({
        path: i.path.map(String).join('.') || '(root)',
        message: i.message,
      }));
      throw new ValidationError(
        `the body is not an audit EventList (${issues.map((i) => `${i.path}: ${i.message}`).join('; ')})`,
        issues,
      );
    }
    const items = list.data.items.map((value, index) => ({ index, value }));
    return { items, invalid: [], total: items.length, format: 'EventList' };
  }

  const items: ParsedBody['items'] = [];
  const invalid: RecordFailure[] = [];
  let index = 0;
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      invalid.push({ index, error: 'line is not JSON' });
      total++;
      index++;
      continue;
    }
    // A capture of webhook requests holds one EventList per line: its items are the events,
    // each named by its line.
    const list = eventListSchema.safeParse(value);
    const values = list.success ? list.data.items : [value];
    for (const item of values) items.push({ index, value: item });
    total += values.length;
    index++;
  }
  if (items.length === 0) {
    throw new ValidationError(
      'the body is not JSON: expected an audit.k8s.io/v1 EventList',
      issue('body', 'not JSON'),
    );
  }
  return { items, invalid, total, format: 'JSON lines' };
}

/** The cluster named by the request path, or a `ValidationError`. */
export function clusterOf(cluster: string | undefined): string {
  if (cluster === undefined || !CLUSTER_NAME.test(cluster)) {
    throw new ValidationError(
      `cluster name ${JSON.stringify(cluster ?? '')} is invalid: 1-100 letters, digits, '-' or '_', starting with a letter or digit`,
      issue('pathParameters.cluster', 'invalid cluster name'),
    );
  }
  return cluster;
}

export interface WebhookReport {
  cluster: string;
  format: ParsedBody['format'];
  received: number;
  evaluated: number;
  skipped: Record<string, number>;
  invalid: number;
  findings: IngestReport['findings'];
}

/** What one webhook request became: the summary the 200 carries, and the items that failed. */
export interface WebhookResult {
  summary: WebhookReport;
  /** Failures in the body's own numbering (EventList item, or JSON line). */
  failed: RecordFailure[];
  noun: 'items' | 'lines';
}

export interface WebhookRequest {
  /** The `{cluster}` path parameter. */
  cluster: string | undefined;
  body: string | null | undefined;
  isBase64Encoded?: boolean;
}

export interface AuditWebhookOptions {
  maxBodyBytes: number;
}

/**
 * The edge: `ingest` validates and records one request (whole-body problems are named errors,
 * a store failure a plain `Error`: ours, a 500); `respond` is the API's answer to the result.
 * Local mode's `/v1/audit` calls `ingest` too.
 */
export function auditWebhookEdge(
  deps: IngestDeps,
  options: AuditWebhookOptions,
  telemetry: Telemetry = silentTelemetry,
) {
  async function ingest(request: WebhookRequest): Promise<WebhookResult> {
    const cluster = clusterOf(request.cluster);
    const parsed = parseAuditBody(bodyText(request, options.maxBodyBytes));
    let report: IngestReport;
    try {
      report = await ingestAuditEvents(
        parsed.items.map((i) => i.value),
        cluster,
        deps,
      );
    } catch (error) {
      // Whatever the store threw (even a named error such as a ConflictError after contended
      // writes) is our fault and may pass: a 500, so the apiserver retries the batch.
      throw new Error('recording audit events failed', { cause: error });
    }
    // Failures in the body's own numbering: unreadable lines plus items that are not Events.
    const failed = [
      ...parsed.invalid,
      ...report.failed.map((f) => ({
        index: parsed.items[f.index]?.index ?? f.index,
        error: f.error,
      })),
    ].sort((x, y) => x.index - y.index);
    recordIngestMetrics(
      { ...report, received: parsed.total, failed },
      { received: parsed.total },
      telemetry,
    );
    const summary: WebhookReport = {
      cluster,
      format: parsed.format,
      received: parsed.total,
      evaluated: report.evaluated,
      skipped: report.skipped,
      invalid: failed.length,
      findings: report.findings,
    };
    telemetry.info('audit webhook batch', { ...summary });
    return { summary, failed, noun: parsed.format === 'JSON lines' ? 'lines' : 'items' };
  }

  function respond(result: WebhookResult): APIGatewayProxyStructuredResultV2 {
    const { summary, failed, noun } = result;
    if (failed.length > 0) {
      throw new ValidationError(
        `${failed.length} of ${summary.received} ${noun} are not valid audit Events and were not recorded; the other ${summary.received - failed.length} were processed`,
        failed.slice(0, MAX_ISSUES).map((f) => ({ path: `${noun}[${f.index}]`, message: f.error })),
      );
    }
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(summary),
    };
  }

  return {
    ingest,
    respond,
    handle: async (event: APIGatewayProxyEventV2) =>
      respond(
        await ingest({
          cluster: event.pathParameters?.cluster,
          body: event.body,
          isBase64Encoded: event.isBase64Encoded,
        }),
      ),
  };
}
