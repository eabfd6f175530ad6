/**
 * `regwatch local --example`: posts the bundled example events through the local ingest's own
 * HTTP routes (so they take the real path), then summarises the findings. Which file goes to
 * which route is in `examples/events/manifest.json`.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as z from 'zod';
import type { FindingsStore } from '../adapters/dynamodb/index.ts';
import type { AllowlistRule } from '../core/allowlist/schema.ts';
import { ValidationError } from '../core/errors.ts';
import type { Finding } from '../core/types.ts';
import type { LocalReport } from './routes.ts';

/**
 * The folder that holds `examples/`: two levels up from these sources, one up from the built
 * CLI in `dist/` (the package ships `examples/` beside `dist/`).
 */
function examplesRoot(from: string): string {
  for (let dir = from, i = 0; i < 4; i++, dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'examples', 'allowlist.yaml'))) return dir;
  }
  return path.resolve(from, '../..');
}

const ROOT = examplesRoot(import.meta.dirname);

/** The bundled example events, next to the example allowlist. */
export const EXAMPLES_DIR = path.join(ROOT, 'examples/events');
export const EXAMPLE_ALLOWLIST = path.join(ROOT, 'examples/allowlist.yaml');

const manifestSchema = z.strictObject({
  description: z.string().optional(),
  requests: z.array(
    z.strictObject({
      file: z.string().min(1),
      /** Route and query, e.g. `/v1/audit?cluster=orion-prod-euc1`. */
      path: z.string().startsWith('/v1/'),
      contentType: z.string().default('application/json'),
      /**
       * Replay as if it happened now: sets EventBridge `time` / pod `observedAt` to the replay
       * time, so a push's scan checks run on the usual schedule instead of at once.
       */
      freshTimes: z.boolean().default(false),
      note: z.string().optional(),
    }),
  ),
});
export type ExampleManifest = z.output<typeof manifestSchema>;

export function loadManifest(dir: string): ExampleManifest {
  const file = path.join(dir, 'manifest.json');
  const parsed = manifestSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new ValidationError(
      `${file} is not a valid example manifest`,
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    );
  }
  return parsed.data;
}

function withFreshTimes(body: string, route: string, now: string): string {
  const value = JSON.parse(body) as unknown;
  const items = Array.isArray(value) ? value : [value];
  for (const item of items) {
    if (item === null || typeof item !== 'object') continue;
    const o = item as Record<string, unknown>;
    if (route.startsWith('/v1/events') && typeof o.time === 'string') o.time = now;
    if (route.startsWith('/v1/pod-events') && typeof o.observedAt === 'string') o.observedAt = now;
  }
  return JSON.stringify(value);
}

export interface ExampleResult {
  file: string;
  path: string;
  status: number;
  report: LocalReport | { error: string; message: string };
}

/** Posts every example in manifest order and returns each answer. */
export async function replayExamples(
  baseUrl: string,
  options: { dir?: string; token?: string | undefined; now?: Date } = {},
): Promise<ExampleResult[]> {
  const dir = options.dir ?? EXAMPLES_DIR;
  const manifest = loadManifest(dir);
  const now = (options.now ?? new Date()).toISOString();
  const results: ExampleResult[] = [];
  for (const request of manifest.requests) {
    let body = readFileSync(path.join(dir, request.file), 'utf8');
    if (request.freshTimes) body = withFreshTimes(body, request.path, now);
    const res = await fetch(new URL(request.path, baseUrl), {
      method: 'POST',
      headers: {
        'content-type': request.contentType,
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      },
      body,
    });
    results.push({
      file: request.file,
      path: request.path,
      status: res.status,
      report: (await res.json()) as ExampleResult['report'],
    });
  }
  return results;
}

/** Open findings grouped for a short summary. */
export async function findingsSummary(findings: FindingsStore): Promise<string> {
  const open: Finding[] = [];
  for await (const f of findings.query({ status: 'OPEN' })) open.push(f);
  const auto = new Map<string, number>();
  for await (const f of findings.query({ status: 'RESOLVED' })) {
    if (f.resolution?.by === 'regwatch')
      auto.set(f.resolution.reason, (auto.get(f.resolution.reason) ?? 0) + 1);
  }
  const resolved =
    auto.size === 0
      ? ''
      : `; auto-resolved by regwatch: ${[...auto].map(([reason, n]) => `${n} ${reason}`).join(', ')}`;
  if (open.length === 0) return `No open findings${resolved}.`;
  const byRule = new Map<string, number>();
  for (const f of open) byRule.set(f.rule, (byRule.get(f.rule) ?? 0) + 1);
  const rules = [...byRule].sort((a, b) => b[1] - a[1]).map(([rule, n]) => `${n} ${rule}`);
  return `${open.length} open finding${open.length === 1 ? '' : 's'}: ${rules.join(', ')}${resolved}`;
}

/** The rule `--example` adds after the replay, so a newcomer sees an exception expire. */
export const EXAMPLE_EXPIRING_RULE_ID = 'example-expiring-exception';

/**
 * Adds a time-boxed exception for the example's untrusted `ghcr.io/acme-analytics` image that
 * expires `seconds` from `now`: the reconciler resolves its finding as now-allowed at once and
 * re-opens it as `expired-exception` (with an alert) at the expiry.
 */
export async function addExpiringExample(
  allowlist: { put(rule: AllowlistRule): Promise<void> },
  now: Date,
  seconds = 10,
): Promise<AllowlistRule> {
  const rule: AllowlistRule = {
    id: EXAMPLE_EXPIRING_RULE_ID,
    registry: 'ghcr.io',
    repository: 'acme-analytics/**',
    expiresAt: new Date(now.getTime() + seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    reason: 'example: a time-boxed exception that expires during this run',
  };
  await allowlist.put(rule);
  return rule;
}
