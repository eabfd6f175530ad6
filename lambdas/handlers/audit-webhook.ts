/**
 * `audit-webhook`: kube-apiserver's audit webhook backend → findings. HTTP API (payload 2.0)
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
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import * as z from 'zod';
import { CLUSTER_NAME } from '../core/cluster.ts';
import { PayloadTooLargeError, ValidationError } from '../core/errors.ts';
import type { IngestReport, RecordFailure } from '../services/ingest.ts';
import { ingestAuditEvents } from '../services/ingest.ts';
import { loadConfig } from './commons/config.ts';
import { httpErrors } from './commons/errors.ts';
import { withPowertools } from './commons/middy.ts';
import { logger } from './commons/powertools.ts';
import { type IngestWiring, ingestWiring, recordIngestMetrics } from './wiring.ts';

/** HTTP API accepts 10 MB, but Lambda's synchronous payload limit (6 MB) is lower still. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

const config = loadConfig(
  z.object({
    AUDIT_WEBHOOK_MAX_BODY_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .max(10 * 1024 * 1024, 'must not exceed the HTTP API limit of 10 MiB')
      .default(DEFAULT_MAX_BODY_BYTES),
  }),
);
const wiring: IngestWiring = ingestWiring();

/** The one cluster-name rule (`core/cluster.ts`), re-exported for this handler's callers. */
export { CLUSTER_NAME };

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
  event: Pick<APIGatewayProxyEventV2, 'body' | 'isBase64Encoded'>,
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

/** Reads an EventList, a single Event, or JSON lines of Events; whole-body problems are 400s. */
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
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      items.push({ index, value: JSON.parse(line) });
    } catch {
      invalid.push({ index, error: 'line is not JSON' });
    }
    index++;
  }
  if (items.length === 0) {
    throw new ValidationError(
      'the body is not JSON: expected an audit.k8s.io/v1 EventList',
      issue('body', 'not JSON'),
    );
  }
  return { items, invalid, total: index, format: 'JSON lines' };
}

function clusterOf(event: APIGatewayProxyEventV2): string {
  const cluster = event.pathParameters?.cluster;
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

async function handleAuditWebhook(
  event: APIGatewayProxyEventV2,
): Promise<APIGatewayProxyStructuredResultV2> {
  const cluster = clusterOf(event);
  logger.appendKeys({ cluster });
  const parsed = parseAuditBody(bodyText(event, config.AUDIT_WEBHOOK_MAX_BODY_BYTES));

  let report: IngestReport;
  try {
    report = await ingestAuditEvents(
      parsed.items.map((i) => i.value),
      cluster,
      wiring.deps,
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
  ].sort((a, b) => a.index - b.index);
  recordIngestMetrics({ ...report, received: parsed.total, failed }, { received: parsed.total });

  const summary: WebhookReport = {
    cluster,
    format: parsed.format,
    received: parsed.total,
    evaluated: report.evaluated,
    skipped: report.skipped,
    invalid: failed.length,
    findings: report.findings,
  };
  logger.info('audit webhook batch', { ...summary });
  if (failed.length > 0) {
    const noun = parsed.format === 'JSON lines' ? 'lines' : 'items';
    throw new ValidationError(
      `${failed.length} of ${parsed.total} ${noun} are not valid audit Events and were not recorded; the other ${parsed.total - failed.length} were processed`,
      failed.slice(0, MAX_ISSUES).map((f) => ({ path: `${noun}[${f.index}]`, message: f.error })),
    );
  }
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(summary),
  };
}

export const handler = withPowertools(
  (event: APIGatewayProxyEventV2, _context: Context) => handleAuditWebhook(event),
  { use: [httpErrors<APIGatewayProxyEventV2>()] },
);
