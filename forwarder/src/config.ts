/**
 * The forwarder's configuration: read once at start from environment variables and (for the
 * CLI) flags, validated with zod, and refused with a message naming every bad setting.
 */
import * as z from 'zod';
import { CLUSTER_NAME, CLUSTER_NAME_RULE } from '../../lambdas/core/cluster.ts';
import { ConfigError } from '../../lambdas/core/errors.ts';
import { PUT_EVENTS_MAX_ENTRIES } from './constants.ts';
import { parseDuration } from './duration.ts';

/** Setting name → environment variable. Flags use the same keys. */
export const CONFIG_ENV = {
  cluster: 'REGWATCH_CLUSTER',
  namespaces: 'REGWATCH_NAMESPACES',
  sink: 'REGWATCH_SINK',
  eventBus: 'REGWATCH_EVENT_BUS',
  token: 'REGWATCH_SINK_TOKEN',
  resync: 'REGWATCH_RESYNC',
  batchSize: 'REGWATCH_BATCH_SIZE',
  batchWait: 'REGWATCH_BATCH_WAIT',
  bufferEvents: 'REGWATCH_BUFFER_EVENTS',
  bufferBytes: 'REGWATCH_BUFFER_BYTES',
  metricsPort: 'REGWATCH_METRICS_PORT',
  metricsHost: 'REGWATCH_METRICS_HOST',
  shutdownGrace: 'REGWATCH_SHUTDOWN_GRACE',
  logLevel: 'REGWATCH_LOG_LEVEL',
  kubeconfig: 'KUBECONFIG',
} as const;
export type ConfigKey = keyof typeof CONFIG_ENV;
export type RawConfig = Partial<Record<ConfigKey, string | undefined>>;

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type SinkConfig =
  | { kind: 'http'; url: string; token: string | undefined }
  | { kind: 'eventbridge'; eventBusName: string };

export interface ForwarderConfig {
  cluster: string;
  /** Empty: every namespace. */
  namespaces: string[];
  sink: SinkConfig;
  /** 0 turns periodic resync off. */
  resyncMs: number;
  batchSize: number;
  batchWaitMs: number;
  bufferMaxEvents: number;
  bufferMaxBytes: number;
  /** 0 picks a free port. */
  metricsPort: number;
  metricsHost: string;
  shutdownGraceMs: number;
  logLevel: LogLevel;
  kubeconfig: string | undefined;
  retryBaseMs: number;
  retryMaxMs: number;
  /** An entry the sink refuses on its own (not the whole call) this many times is dropped. */
  maxEntryAttempts: number;
}

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  kb: 1e3,
  ki: 1024,
  kib: 1024,
  m: 1e6,
  mb: 1e6,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1e9,
  gb: 1e9,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
};

/** `32Mi`, `1MB`, `65536`. */
export function parseBytes(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = BYTE_UNITS[(m?.[2] ?? '').toLowerCase()];
  if (!m || unit === undefined) return null;
  return Math.round(Number(m[1]) * unit);
}

const duration = (what: string, min: number) =>
  z
    .string()
    .transform((s, ctx) => {
      const ms = parseDuration(s);
      if (ms === null) {
        ctx.addIssue({
          code: 'custom',
          message: `${what}: "${s}" is not a duration (e.g. 30s, 10m)`,
        });
        return z.NEVER;
      }
      return ms;
    })
    .pipe(
      z.number().refine((n) => n === 0 || n >= min, `${what}: must be 0 or at least ${min} ms`),
    );

const integer = (what: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `${what}: must be a whole number`)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const bytes = (what: string, min: number) =>
  z
    .string()
    .transform((s, ctx) => {
      const n = parseBytes(s);
      if (n === null) {
        ctx.addIssue({ code: 'custom', message: `${what}: "${s}" is not a size (e.g. 32Mi)` });
        return z.NEVER;
      }
      return n;
    })
    .pipe(z.number().min(min, `${what}: must be at least ${min} bytes`));

// RFC 1123 label, as Kubernetes requires of namespace names.
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const rawSchema = z.object({
  cluster: z
    .string({ error: 'cluster: required (--cluster or REGWATCH_CLUSTER)' })
    .trim()
    .min(1, 'cluster: required (--cluster or REGWATCH_CLUSTER)')
    .regex(CLUSTER_NAME, `cluster: invalid cluster name (${CLUSTER_NAME_RULE})`),
  namespaces: z
    .string()
    .optional()
    .transform((s) =>
      (s ?? '')
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n !== ''),
    )
    .pipe(z.array(z.string().regex(NAMESPACE, 'namespaces: each must be a valid namespace name'))),
  sink: z.string({ error: 'sink: required (--sink or REGWATCH_SINK)' }).trim().min(1),
  eventBus: z.string().trim().min(1).optional(),
  token: z.string().optional(),
  resync: duration('resync', 10_000).default(600_000),
  batchSize: integer('batch-size', 1, 1000).optional(),
  batchWait: duration('batch-wait', 1).default(1_000),
  bufferEvents: integer('buffer-events', 10, 10_000_000).default(10_000),
  bufferBytes: bytes('buffer-bytes', 256 * 1024).default(32 * 1024 ** 2),
  metricsPort: integer('metrics-port', 0, 65_535).default(9090),
  metricsHost: z.string().trim().min(1).default('0.0.0.0'),
  shutdownGrace: duration('shutdown-grace', 1).default(25_000),
  logLevel: z.enum(LOG_LEVELS).default('info'),
  kubeconfig: z.string().trim().min(1).optional(),
});

function sinkOf(sink: string, eventBus: string | undefined, token: string | undefined) {
  if (sink === 'eventbridge') {
    if (!eventBus) {
      throw new ConfigError(
        'invalid forwarder configuration\n  eventBus: required with the eventbridge sink (--event-bus or REGWATCH_EVENT_BUS)',
      );
    }
    return { kind: 'eventbridge', eventBusName: eventBus } as const;
  }
  let url: URL;
  try {
    url = new URL(sink);
  } catch {
    url = new URL('invalid:');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(
      `invalid forwarder configuration\n  sink: "${sink}" is neither "eventbridge" nor an http(s) URL`,
    );
  }
  // Credentials in the URL would be sent on every call and logged by proxies; fetch refuses
  // such URLs outright, which would otherwise become an endless retry. The token has its own
  // setting.
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError(
      'invalid forwarder configuration\n  sink: the URL carries credentials (user:pass@); remove them and pass the token in REGWATCH_SINK_TOKEN',
    );
  }
  return { kind: 'http', url: url.toString(), token: token || undefined } as const;
}

/**
 * Builds the configuration from environment variables overridden by `flags`. Empty strings
 * count as unset. Throws `ConfigError` listing every problem at once.
 */
export function loadConfig(env: NodeJS.ProcessEnv, flags: RawConfig = {}): ForwarderConfig {
  const raw: Record<string, string> = {};
  for (const key of Object.keys(CONFIG_ENV) as ConfigKey[]) {
    const value = flags[key] ?? env[CONFIG_ENV[key]];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const parsed = rawSchema.safeParse(raw);
  if (!parsed.success) {
    // Never echo values: the token may be among them.
    const lines = parsed.error.issues.map((i) => {
      const key = String(i.path[0] ?? '');
      return i.message.startsWith(`${key}:`) || key === '' ? i.message : `${key}: ${i.message}`;
    });
    throw new ConfigError(`invalid forwarder configuration\n  ${lines.join('\n  ')}`);
  }
  const c = parsed.data;
  const sink = sinkOf(c.sink, c.eventBus, c.token);
  const maxBatch = sink.kind === 'eventbridge' ? PUT_EVENTS_MAX_ENTRIES : 1000;
  return {
    cluster: c.cluster,
    namespaces: [...new Set(c.namespaces)],
    sink,
    resyncMs: c.resync,
    batchSize: Math.min(c.batchSize ?? (sink.kind === 'eventbridge' ? 10 : 100), maxBatch),
    batchWaitMs: c.batchWait,
    bufferMaxEvents: c.bufferEvents,
    bufferMaxBytes: c.bufferBytes,
    metricsPort: c.metricsPort,
    metricsHost: c.metricsHost,
    shutdownGraceMs: c.shutdownGrace,
    logLevel: c.logLevel,
    kubeconfig: c.kubeconfig,
    retryBaseMs: 200,
    retryMaxMs: 30_000,
    maxEntryAttempts: 10,
  };
}
