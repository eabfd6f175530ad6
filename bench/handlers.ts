/**
 * Lambda handler bench, two parts.
 *
 * 1. Every handler in `lambdas/handlers/*.ts` bundled as the stack bundles it (esbuild, ESM,
 *    minified, node24, the `require` banner): bundle size (target < 500 KB) and module-load time
 *    of the bundle in a fresh `node` process (a cold-start proxy), each beside a baseline bundle
 *    of the same handler that also imports every AWS SDK package it uses as a whole namespace
 *    (what tree-shaking and importing only the commands used saves).
 * 2. Warm per-event latency of `eks-audit-logs` on generated 500-event subscription payloads
 *    against dynalite, beside evaluation alone (parse + interpret + evaluate, no store), for a
 *    payload that passed the stack's subscription filter and for an unfiltered one.
 *
 * Run: npx node bench/handlers.ts (or `npm run bench handlers`).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type BuildOptions, build } from 'esbuild';
import {
  AllowlistStore,
  createTables,
  LOCAL_TABLE_NAMES,
} from '../lambdas/adapters/dynamodb/index.ts';
import { compileAllowlist, parseAllowlist } from '../lambdas/core/allowlist/index.ts';
import { interpretAuditEvent } from '../lambdas/core/audit/interpret.ts';
import { evaluateObservation } from '../lambdas/core/evaluate.ts';
import { BUNDLE_ALIASES, ESM_REQUIRE_BANNER } from '../lib/constructs/handler-function.ts';
import { AUDIT_RESOURCES, AUDIT_SUBRESOURCES, AUDIT_VERBS } from '../lib/eks-audit-filter.ts';
import { startDynalite } from '../test/helpers/dynalite.ts';
import { AuditLogGenerator } from './gen-audit-log.ts';
import { type BenchResult, consume, median, report, versus } from './lib.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const HANDLERS_DIR = path.join(ROOT, 'lambdas', 'handlers');
const SIZE_TARGET_BYTES = 500 * 1024;
const LOAD_RUNS = 5;
const EVENTS_PER_PAYLOAD = 500;
const TIMED_PAYLOADS = 5;

/**
 * The bundling options of `lib/constructs/handler-function.ts` (`RegwatchFunction`), as esbuild
 * options, with the construct's banner and aliases. Source maps are left out: the stack writes
 * them to a separate file that is never loaded unless a stack trace asks.
 */
const STACK_BUNDLING: BuildOptions = {
  bundle: true,
  format: 'esm',
  target: 'node24',
  platform: 'node',
  mainFields: ['module', 'main'],
  minify: true,
  banner: { js: ESM_REQUIRE_BANNER },
  alias: { ...BUNDLE_ALIASES },
  absWorkingDir: ROOT,
  logLevel: 'warning',
  metafile: true,
  write: true,
};

/** The environment the stack gives the functions (values are placeholders of the right shape). */
export const HANDLER_ENV: Record<string, string> = {
  AWS_REGION: 'eu-central-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  POWERTOOLS_METRICS_NAMESPACE: 'regwatch',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  FINDINGS_TABLE: 'regwatch-findings',
  ALLOWLIST_TABLE: 'regwatch-allowlist',
  IMAGES_TABLE: 'regwatch-images',
  INVENTORY_TABLE: 'regwatch-inventory',
  RECONCILE_QUEUE_URL:
    'https://sqs.eu-central-1.amazonaws.com/444455556666/regwatch-ReconcileQueue',
  FINDINGS_TTL_DAYS: '0',
  ALLOWLIST_CACHE_TTL_SECONDS: '60',
  VULNERABLE_SEVERITY_THRESHOLD: 'high',
  SCAN_TIMEOUT_MINUTES: '60',
  SCAN_CHECK_QUEUE_URL:
    'https://sqs.eu-central-1.amazonaws.com/444455556666/regwatch-ScanCheckQueue',
  ALERTS_TOPIC_ARN: 'arn:aws:sns:eu-central-1:444455556666:regwatch-alerts',
  EVENT_BUS_NAME: 'regwatch',
  MIN_ALERT_SEVERITY: 'medium',
  WEBHOOK_TOKEN_SECRET_ARN:
    'arn:aws:secretsmanager:eu-central-1:444455556666:secret:regwatch/audit-webhook-token-AbCdEf',
  SLACK_WEBHOOK_SECRET_ARN:
    'arn:aws:secretsmanager:eu-central-1:444455556666:secret:regwatch/slack',
};

/** Entry files that export a Lambda `handler` (wiring and commons modules do not). */
export function handlerNames(): string[] {
  return readdirSync(HANDLERS_DIR)
    .filter((f) => f.endsWith('.ts') && statSync(path.join(HANDLERS_DIR, f)).isFile())
    .filter((f) =>
      /export (const handler\b|(async )?function handler\b)/.test(
        readFileSync(path.join(HANDLERS_DIR, f), 'utf8'),
      ),
    )
    .map((f) => f.slice(0, -3))
    .sort();
}

/* ------------------------------------------------------------ part 1: bundles */

interface Bundle {
  file: string;
  bytes: number;
  sdkPackages: string[];
}

const SDK_PACKAGE = /node_modules\/(@aws-sdk\/(?:client-[a-z0-9-]+|lib-dynamodb))\//;

async function bundle(outdir: string, options: BuildOptions): Promise<Bundle> {
  mkdirSync(outdir, { recursive: true });
  const outfile = path.join(outdir, 'index.mjs');
  const result = await build({ ...STACK_BUNDLING, ...options, outfile });
  const sdkPackages = new Set<string>();
  // Only what reaches the output: a package whose import is tree-shaken away is not used.
  for (const output of Object.values(result.metafile?.outputs ?? {})) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const m = SDK_PACKAGE.exec(input);
      if (m?.[1] && bytesInOutput > 0) sdkPackages.add(m[1]);
    }
  }
  return { file: outfile, bytes: statSync(outfile).size, sdkPackages: [...sdkPackages].sort() };
}

/** Module-load time of `file` in a fresh node process: median of `LOAD_RUNS` processes. */
function loadTimeMs(file: string): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(String(performance.now() - t));`;
  const times: number[] = [];
  for (let i = 0; i < LOAD_RUNS; i++) {
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { PATH: process.env.PATH ?? '', ...HANDLER_ENV },
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (child.status !== 0) {
      throw new Error(
        `loading ${file} failed: ${child.stderr.trim().split('\n').slice(-5).join(' | ')}`,
      );
    }
    times.push(Number(child.stdout));
  }
  return median(times);
}

async function bundleResults(workDir: string): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const name of handlerNames()) {
    const entry = path.join(HANDLERS_DIR, `${name}.ts`);
    const lean = await bundle(path.join(workDir, name, 'stack'), { entryPoints: [entry] });
    const imports = lean.sdkPackages
      .map((pkg, i) => `import * as sdk${i} from '${pkg}';`)
      .join('\n');
    const keep = lean.sdkPackages.map((_, i) => `sdk${i}`).join(', ');
    const naive = await bundle(path.join(workDir, name, 'naive'), {
      stdin: {
        // Namespace objects kept alive: every command and paginator of each package stays.
        contents: `${imports}\n(globalThis as Record<string, unknown>).__regwatchNaive = [${keep}];\nexport { handler } from ${JSON.stringify(entry)};\n`,
        resolveDir: ROOT,
        sourcefile: `naive-${name}.ts`,
        loader: 'ts',
      },
    });
    const sdk = lean.sdkPackages.length > 0 ? lean.sdkPackages.join(', ') : 'no AWS SDK';
    const kb = (n: number) => n / 1024;
    results.push(
      versus(
        `${name}: bundle size`,
        kb(lean.bytes),
        'KB',
        { name: 'whole SDK packages', value: kb(naive.bytes) },
        `${lean.bytes <= SIZE_TARGET_BYTES ? 'within' : 'OVER'} the 500 KB target; ${sdk}`,
      ),
      versus(`${name}: module load`, loadTimeMs(lean.file), 'ms', {
        name: 'whole SDK packages',
        value: loadTimeMs(naive.file),
      }),
    );
  }
  return results;
}

/* ------------------------------------------------------------ part 2: warm latency */

type Loose = Record<string, unknown>;

/** The stack's subscription filter pattern (`buildAuditFilterPattern`) as a predicate. */
export function passesSubscriptionFilter(event: Loose): boolean {
  const ref = (event.objectRef ?? {}) as Loose;
  const code = ((event.responseStatus ?? {}) as Loose).code;
  const resource = ref.resource;
  const own =
    ref.subresource === undefined && (AUDIT_RESOURCES as readonly unknown[]).includes(resource);
  const sub = AUDIT_SUBRESOURCES.some(
    (s) => s.resource === resource && s.subresource === ref.subresource,
  );
  return (
    event.stage === 'ResponseComplete' &&
    typeof code === 'number' &&
    code >= 200 &&
    code < 300 &&
    (AUDIT_VERBS as readonly unknown[]).includes(event.verb) &&
    (own || sub)
  );
}

interface Payload {
  event: { awslogs: { data: string } };
  messages: string[];
}

function payload(cluster: string, messages: string[], first: number): Payload {
  const data = {
    messageType: 'DATA_MESSAGE',
    owner: '444455556666',
    logGroup: `/aws/eks/${cluster}/cluster`,
    logStream: 'kube-apiserver-audit-bench',
    subscriptionFilters: ['regwatch-audit'],
    logEvents: messages.map((message, i) => ({
      id: String(first + i),
      timestamp: 1_746_057_600_000 + first + i,
      message,
    })),
  };
  return {
    event: { awslogs: { data: gzipSync(JSON.stringify(data)).toString('base64') } },
    messages,
  };
}

/** Payloads of `EVENTS_PER_PAYLOAD` fresh events each, filtered as the stack filters or not. */
function payloads(count: number, filtered: boolean, seed: number) {
  const gen = new AuditLogGenerator(seed);
  let lines = 0;
  let passed = 0;
  const out: Payload[] = [];
  for (let p = 0; p < count; p++) {
    const messages: string[] = [];
    while (messages.length < EVENTS_PER_PAYLOAD) {
      const { line } = gen.next();
      lines++;
      const passes = passesSubscriptionFilter(JSON.parse(line) as Loose);
      if (passes) passed++;
      if (!filtered || passes) messages.push(line);
    }
    out.push(payload('bench-prod-euc1', messages, p * EVENTS_PER_PAYLOAD));
  }
  return { payloads: out, share: passed / lines };
}

interface HandlerOutcome {
  kind: string;
  report?: { findings: Record<string, number>; evaluated: number };
}

async function latencyResults(): Promise<BenchResult[]> {
  const dynamo = await startDynalite();
  try {
    await createTables(dynamo.client, LOCAL_TABLE_NAMES);
    const allowlistText = readFileSync(path.join(ROOT, 'examples', 'allowlist.yaml'), 'utf8');
    const document = parseAllowlist(allowlistText, 'examples/allowlist.yaml');
    await new AllowlistStore(dynamo.doc, LOCAL_TABLE_NAMES.allowlist).applyDiff(document);
    Object.assign(process.env, HANDLER_ENV, {
      FINDINGS_TABLE: LOCAL_TABLE_NAMES.findings,
      ALLOWLIST_TABLE: LOCAL_TABLE_NAMES.allowlist,
      IMAGES_TABLE: LOCAL_TABLE_NAMES.images,
      REGWATCH_DYNAMODB_ENDPOINT: dynamo.endpoint,
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_SERVICE_NAME: 'eks-audit-logs',
    });
    const mod = (await import('../lambdas/handlers/eks-audit-logs.ts')) as unknown as {
      handler: (event: unknown, context: unknown) => Promise<HandlerOutcome>;
    };
    const context = {
      functionName: 'eks-audit-logs',
      awsRequestId: 'bench',
      getRemainingTimeInMillis: () => 60_000,
    };
    const invoke = async (p: Payload) => {
      const start = performance.now();
      const outcome = await mod.handler(p.event, context);
      return { ms: performance.now() - start, outcome };
    };

    const filtered = payloads(TIMED_PAYLOADS + 1, true, 11);
    const unfiltered = payloads(TIMED_PAYLOADS + 1, false, 12);
    // Warm-up: allowlist loaded and compiled, connections open, code optimised.
    await invoke(filtered.payloads[0] as Payload);
    const timed = async (list: Payload[]) => {
      const runs = [];
      for (const p of list) runs.push(await invoke(p));
      return runs;
    };
    const fresh = await timed(filtered.payloads.slice(1));
    const redelivered = await timed(filtered.payloads.slice(1, 3));
    const raw = await timed(unfiltered.payloads.slice(1));
    const single = await timed(
      Array.from({ length: TIMED_PAYLOADS }, (_, i) =>
        payload('bench-prod-euc1', [filtered.payloads[1]?.messages[i] as string], 10_000 + i),
      ),
    );

    // Evaluation alone on the same events: parse, interpret, evaluate; no decode, no store.
    const decider = compileAllowlist(document);
    const now = new Date('2025-05-02T00:00:00Z');
    const evaluateOnly = (p: Payload) => {
      const start = performance.now();
      for (const message of p.messages) {
        const outcome = interpretAuditEvent(JSON.parse(message), { cluster: 'bench-prod-euc1' });
        if (outcome.kind === 'observation')
          consume(evaluateObservation(outcome.observation, decider, now));
      }
      return performance.now() - start;
    };
    for (const p of filtered.payloads) evaluateOnly(p);
    const evalFiltered = median(filtered.payloads.slice(1).map(evaluateOnly)) / EVENTS_PER_PAYLOAD;
    const evalRaw = median(unfiltered.payloads.slice(1).map(evaluateOnly)) / EVENTS_PER_PAYLOAD;

    const perEvent = (runs: { ms: number }[]) => median(runs.map((r) => r.ms)) / EVENTS_PER_PAYLOAD;
    const findingsPer = (runs: { outcome: HandlerOutcome }[]) => {
      const counts = runs.map((r) => r.outcome.report?.findings ?? {});
      const upserts = counts.map((c) => Object.values(c).reduce((a, b) => a + b, 0));
      return median(upserts);
    };
    return [
      {
        name: 'generated audit log: share passing the subscription filter',
        value: filtered.share * 100,
        unit: '%',
        note: 'of all generated lines (EKS-like mix of reads, leases, status patches, writes)',
      },
      versus(
        'eks-audit-logs warm, filtered payload',
        perEvent(fresh),
        'ms/event',
        { name: 'evaluation alone', value: evalFiltered },
        `${EVENTS_PER_PAYLOAD} events, median ${median(fresh.map((r) => r.ms)).toFixed(0)} ms per invocation; ${findingsPer(fresh)} finding upserts per payload, dynalite on loopback`,
      ),
      versus(
        'eks-audit-logs warm, same payload redelivered',
        perEvent(redelivered),
        'ms/event',
        { name: 'evaluation alone', value: evalFiltered },
        'every finding upsert is a duplicate (read, no write)',
      ),
      versus(
        'eks-audit-logs warm, unfiltered payload',
        perEvent(raw),
        'ms/event',
        { name: 'evaluation alone', value: evalRaw },
        `${EVENTS_PER_PAYLOAD} events as logged, no subscription filter; ${findingsPer(raw)} finding upserts per payload`,
      ),
      {
        name: 'eks-audit-logs warm, one-event payload',
        value: median(single.map((r) => r.ms)),
        unit: 'ms/invocation',
        note: 'the fixed cost of an invocation (decode, log line, allowlist cache hit)',
      },
    ];
  } finally {
    await dynamo.stop();
  }
}

export async function run(): Promise<BenchResult[]> {
  const workDir = mkdtempSync(path.join(tmpdir(), 'regwatch-bench-handlers-'));
  try {
    return [...(await bundleResults(workDir)), ...(await latencyResults())];
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  report(await run());
}
