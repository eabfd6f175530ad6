/**
 * CloudWatch Logs subscription payloads: `{"awslogs":{"data": base64(gzip(DATA_MESSAGE))}}`,
 * what EKS control-plane logging delivers to a subscribed Lambda (and what `aws logs` tooling
 * saves). Decoding is pure computation, shared by the Lambda handler and `regwatch replay`.
 */
import { gunzipSync } from 'node:zlib';
import * as z from 'zod';
import { isClusterName } from '../cluster.ts';
import { ValidationError } from '../errors.ts';

const logEventSchema = z.object({
  id: z.string(),
  timestamp: z.number(),
  message: z.string(),
});

export const cloudWatchLogsDataSchema = z.object({
  messageType: z.enum(['DATA_MESSAGE', 'CONTROL_MESSAGE']),
  owner: z.string(),
  logGroup: z.string(),
  logStream: z.string(),
  subscriptionFilters: z.array(z.string()),
  logEvents: z.array(logEventSchema),
});
export type CloudWatchLogsData = z.infer<typeof cloudWatchLogsDataSchema>;

/** CloudWatch caps a subscription delivery far below this; the cap only stops gzip bombs. */
export const MAX_DECODED_BYTES = 64 * 1024 * 1024;

/** True for `{"awslogs":{"data":…}}`. */
export function isCloudWatchPayload(body: unknown): body is { awslogs: { data: string } } {
  if (body === null || typeof body !== 'object') return false;
  const awslogs = (body as { awslogs?: unknown }).awslogs;
  return (
    awslogs !== null &&
    typeof awslogs === 'object' &&
    typeof (awslogs as { data?: unknown }).data === 'string'
  );
}

/** True for an already decoded payload (`messageType`, `logGroup`, `logEvents`). */
export function isCloudWatchLogsData(body: unknown): boolean {
  if (body === null || typeof body !== 'object') return false;
  const b = body as Record<string, unknown>;
  return (
    typeof b.messageType === 'string' &&
    typeof b.logGroup === 'string' &&
    Array.isArray(b.logEvents)
  );
}

function issuesOf(error: z.ZodError) {
  return error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

/** Validate an already decoded DATA_MESSAGE / CONTROL_MESSAGE. */
export function parseCloudWatchLogsData(body: unknown): CloudWatchLogsData {
  const parsed = cloudWatchLogsDataSchema.safeParse(body);
  if (!parsed.success) {
    throw new ValidationError(
      'CloudWatch Logs payload has an unexpected shape',
      issuesOf(parsed.error),
    );
  }
  return parsed.data;
}

/**
 * Decode `{"awslogs":{"data":…}}` (object or JSON text). Throws `ValidationError` naming what
 * is wrong: not a payload, not base64/gzip, not JSON, wrong shape, or larger than `maxBytes`.
 */
export function decodeCloudWatchPayload(
  body: unknown,
  opts: { maxBytes?: number } = {},
): CloudWatchLogsData {
  let value = body;
  if (typeof value === 'string' || Buffer.isBuffer(value)) {
    try {
      value = JSON.parse(value.toString());
    } catch {
      throw new ValidationError('CloudWatch Logs payload is not JSON');
    }
  }
  if (!isCloudWatchPayload(value)) {
    throw new ValidationError(
      'not a CloudWatch Logs subscription payload (no awslogs.data string)',
      [{ path: 'awslogs.data', message: 'expected a base64 string' }],
    );
  }
  const compressed = Buffer.from(value.awslogs.data, 'base64');
  let text: string;
  try {
    text = gunzipSync(compressed, { maxOutputLength: opts.maxBytes ?? MAX_DECODED_BYTES }).toString(
      'utf8',
    );
  } catch (err) {
    const why =
      err instanceof RangeError ? 'decoded size exceeds the limit' : (err as Error).message;
    throw new ValidationError(`awslogs.data is not base64-encoded gzip: ${why}`, [
      { path: 'awslogs.data', message: why },
    ]);
  }
  let decoded: unknown;
  try {
    decoded = JSON.parse(text);
  } catch {
    throw new ValidationError('awslogs.data does not decode to JSON', [
      { path: 'awslogs.data', message: 'gunzipped content is not JSON' },
    ]);
  }
  return parseCloudWatchLogsData(decoded);
}

/** `/aws/eks/<cluster>/cluster` → `<cluster>`; null for any other log group. */
export function clusterFromLogGroup(logGroup: string): string | null {
  const m = /^\/aws\/eks\/([^/]+)\/cluster$/.exec(logGroup);
  // Only an EKS cluster name names a cluster: it is joined into index keys.
  const name = m?.[1];
  return name !== undefined && isClusterName(name) ? name : null;
}
