/**
 * Local ingest bench: forwarder pod events through `regwatch local`'s real path
 * (HTTP → validation → evaluation → findings in dynalite), beside the same events
 *  - through the same HTTP server with the findings kept in memory (what HTTP + evaluation
 *    cost without storage), and
 *  - evaluated in-process without HTTP or storage (the baseline),
 * so the ratios show what HTTP and what storage cost. Latency: a one-event POST answers after
 * its findings are stored, so POST → answer is POST → stored finding; p50 / p99 over many.
 * And the issue 11 target: the same HTTP path on dynalite with the inventory kept vs without
 * it (≥ 0.7×), for events of new workloads and for repeats, rounds alternating, through each
 * Inventory adapter: the Lambdas' conditional one and local mode's index with batched writes;
 * the same rounds also per CPU second of the process, which other load on a shared machine
 * disturbs far less than wall time.
 *
 * Run: npx node bench/ingest.ts
 */

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { localDynamoClient } from '../lambdas/adapters/dynamodb/embedded.ts';
import { documentClient } from '../lambdas/adapters/dynamodb/index.ts';
import { InventoryStore } from '../lambdas/adapters/dynamodb/inventory.ts';
import { LocalInventoryStore } from '../lambdas/adapters/dynamodb/inventory-local.ts';
import {
  type AllowlistDocument,
  compileAllowlist,
  parseAllowlist,
} from '../lambdas/core/allowlist/index.ts';
import type { FindingCandidate, UpsertResult } from '../lambdas/core/types.ts';
import { loadConfig } from '../lambdas/handlers/commons/config.ts';
import { FUNCTION_CONFIG } from '../lambdas/handlers/compose/config.ts';
import { buildIngestDeps } from '../lambdas/handlers/compose/ingest.ts';
import { podEventsEdge } from '../lambdas/handlers/edges/pod-events.ts';
import { startLocal } from '../lambdas/local/app.ts';
import type { LocalPipeline } from '../lambdas/local/routes.ts';
import { closeServer, createIngestServer, listenLoopback } from '../lambdas/local/server.ts';
import { ingestPodEvents } from '../lambdas/services/ingest.ts';
import type { IngestDeps } from '../lambdas/services/ports.ts';
import { freshTables, startDynalite } from '../test/helpers/dynalite.ts';
import { type BenchResult, median, report, versus } from './lib.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const ALLOWLIST = path.join(ROOT, 'examples/allowlist.yaml');
const BATCH = 100;
const EVENTS = 3000;
const LATENCY_SAMPLES = 400;
const INVENTORY_EVENTS = 1000;
/** Alternating rounds per inventory pair: the median of 5 damps a shared machine's swings. */
const INVENTORY_ROUNDS = 5;

/** A realistic mix: most images allowed, some from untrusted sources or unpinned in prod. */
const IMAGES = [
  '444455556666.dkr.ecr.eu-central-1.amazonaws.com/storefront/web:4.18.2',
  '444455556666.dkr.ecr.eu-west-1.amazonaws.com/billing/invoice-api:2.9.1',
  'registry.k8s.io/kube-proxy:v1.30.2',
  'quay.io/prometheus/node-exporter:v1.8.1',
  '602401143452.dkr.ecr.eu-central-1.amazonaws.com/eks/coredns:v1.11.1-eksbuild.4',
  'ghcr.io/acme-analytics/reporter:2.3',
  'redis:7.2.4',
  'nicolaka/netshoot:v0.13',
];

function podEvents(count: number, tag: string): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const main = IMAGES[i % IMAGES.length] as string;
    const side = IMAGES[(i * 7 + 3) % IMAGES.length] as string;
    out.push({
      cluster: 'bench-prod-euc1',
      observedAt: '2026-01-10T10:00:00Z',
      reason: 'running',
      pod: {
        // Distinct workloads, so every violation is a new finding (a write, not a repeat).
        metadata: { name: `${tag}-pod-${i}`, namespace: `ns-${i % 20}`, uid: `${tag}-uid-${i}` },
        spec: {
          containers: [
            { name: 'app', image: main },
            { name: 'sidecar', image: side },
          ],
        },
        status: {
          phase: 'Running',
          containerStatuses: [
            { name: 'app', image: main, imageID: `x@sha256:${String(i).padStart(64, 'a')}` },
          ],
        },
      },
    });
  }
  return out;
}

function batches(events: readonly unknown[], size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < events.length; i += size) out.push(JSON.stringify(events.slice(i, i + size)));
  return out;
}

/** Posts every body in turn; returns the elapsed milliseconds and the new findings reported. */
async function postAll(
  url: string,
  bodies: readonly string[],
): Promise<{ ms: number; findings: number }> {
  let findings = 0;
  const start = performance.now();
  for (const body of bodies) {
    const res = await fetch(`${url}/v1/pod-events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    if (res.status !== 200)
      throw new Error(`bench POST answered ${res.status}: ${await res.text()}`);
    findings += ((await res.json()) as { findings: { new: number } }).findings.new;
  }
  return { ms: performance.now() - start, findings };
}

async function latencies(url: string, bodies: readonly string[]): Promise<number[]> {
  const out: number[] = [];
  for (const body of bodies) {
    const start = performance.now();
    const res = await fetch(`${url}/v1/pod-events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    await res.arrayBuffer();
    out.push(performance.now() - start);
  }
  return out;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
  );
}

/** A findings port that keeps nothing: evaluation without storage. */
function memoryFindings(): IngestDeps['findings'] {
  return {
    async upsert(candidate: FindingCandidate, opts: { now: Date }): Promise<UpsertResult> {
      const at = opts.now.toISOString();
      return {
        outcome: 'new',
        counted: true,
        finding: {
          ...candidate,
          id: candidate.fingerprint.slice(0, 16),
          status: 'OPEN',
          firstSeen: at,
          lastSeen: at,
          count: 1,
        },
      };
    },
  };
}

/** A document client whose every request first waits `ms` (a network round trip). */
function delayedClient(endpoint: string, ms: number): DynamoDBDocumentClient {
  const client = localDynamoClient(endpoint);
  client.middlewareStack.add(
    (next) => async (args) => {
      await sleep(ms);
      return next(args);
    },
    { step: 'initialize', name: 'benchRoundTrip' },
  );
  return documentClient(client);
}

/** Which Inventory adapter a bench server keeps (or none). */
type InventoryMode = 'none' | 'conditional' | 'local';

const MODE_LABEL: Record<Exclude<InventoryMode, 'none'>, string> = {
  conditional: "conditional writes (the Lambdas' adapter)",
  local: "local index + batched writes (regwatch local's adapter)",
};

/**
 * Servers on one dynalite, each keeping the inventory through one adapter or none; the same
 * path otherwise: the ingest dependencies come from the composition root (`buildIngestDeps`,
 * as `regwatch local` and the Lambdas build them: the cached allowlist from its table, the
 * Images table as the images port, no signature verifier), with `INVENTORY_TABLE` set or not.
 * With `roundTripMs`, every DynamoDB request waits that long first: a network round trip, as
 * on AWS, where a Lambda waits on its requests rather than computing (dynalite in-process is
 * CPU-bound instead, so overlapping requests gains little there).
 */
export async function inventoryVersus(
  document: AllowlistDocument,
  {
    roundTripMs = 0,
    count = INVENTORY_EVENTS,
    modes = ['conditional', 'local'] as Exclude<InventoryMode, 'none'>[],
  } = {},
): Promise<BenchResult[]> {
  const dynamo = await startDynalite();
  // The round trip as a middleware of a client of its own, so the stores see a real
  // document client (the composition root wraps nothing else).
  const doc = roundTripMs > 0 ? delayedClient(dynamo.endpoint, roundTripMs) : dynamo.doc;
  const where = roundTripMs > 0 ? `, ${roundTripMs} ms round trip` : '';
  const servers: ReturnType<typeof createIngestServer>[] = [];
  const serve = async (mode: InventoryMode): Promise<string> => {
    const names = await freshTables(dynamo);
    const inventory =
      mode === 'local'
        ? await LocalInventoryStore.load(doc, names.inventory)
        : mode === 'conditional'
          ? new InventoryStore(doc, names.inventory)
          : undefined;
    const { deps, tables } = buildIngestDeps(
      loadConfig(FUNCTION_CONFIG['pod-events'], {
        FINDINGS_TABLE: names.findings,
        ALLOWLIST_TABLE: names.allowlist,
        IMAGES_TABLE: names.images,
        ...(mode === 'none' ? {} : { INVENTORY_TABLE: names.inventory }),
        VULNERABLE_SEVERITY_THRESHOLD: 'critical',
        FINDINGS_TTL_DAYS: '0',
        MIN_ALERT_SEVERITY: 'low',
      }),
      { client: doc, signatures: null, allowlistTtlMs: 2000, ...(inventory ? { inventory } : {}) },
    );
    await tables.allowlist.applyDiff(document);
    const server = createIngestServer({
      ingest: deps,
      edges: { podEvents: podEventsEdge(deps) },
    } as unknown as LocalPipeline);
    servers.push(server);
    return `http://127.0.0.1:${await listenLoopback(server, 0)}`;
  };
  try {
    const urls = new Map<InventoryMode, string>();
    for (const mode of ['none', ...modes] as InventoryMode[]) urls.set(mode, await serve(mode));
    // Events per wall second, and per CPU second of this process (the client, the server and
    // the in-process dynalite): the CPU figure is what the other programs on a shared machine
    // cannot take away from a round.
    const cpuRates = new Map<string, number[]>();
    const rate = async (mode: InventoryMode, tag: string, kind = 'warm') => {
      const bodies = batches(podEvents(count, tag), BATCH);
      // Every round starts from a collected heap, so none pays for the garbage of the round
      // before it (`npm run bench` runs with --expose-gc; without it, rounds run as they are).
      (globalThis as { gc?: () => void }).gc?.();
      const cpu = process.cpuUsage();
      const { ms } = await postAll(urls.get(mode) as string, bodies);
      const used = process.cpuUsage(cpu);
      const key = `${kind}:${mode}`;
      cpuRates.set(key, [...(cpuRates.get(key) ?? []), (count * 1e6) / (used.user + used.system)]);
      return (count * 1000) / ms;
    };
    for (const mode of urls.keys()) await rate(mode, `warm-${mode}`);
    const fresh = new Map<InventoryMode, number[]>([...urls.keys()].map((m) => [m, []]));
    const repeat = new Map<InventoryMode, number[]>([...urls.keys()].map((m) => [m, []]));
    for (let r = 0; r < INVENTORY_ROUNDS; r++) {
      // New workloads each round (fresh pod names), then the same events again: repeats.
      for (const mode of urls.keys()) fresh.get(mode)?.push(await rate(mode, `new-${r}`, 'new'));
      for (const mode of urls.keys())
        repeat.get(mode)?.push(await rate(mode, `new-${r}`, 'repeat'));
    }
    const without = (m: Map<InventoryMode, number[]>) => ({
      name: 'without the inventory',
      value: median(m.get('none') ?? []),
    });
    const cpuOf = (kind: string, mode: InventoryMode) =>
      median(cpuRates.get(`${kind}:${mode}`) ?? []);
    // The target is local ingest's (local mode's adapter), and the AWS-like round-trip rows';
    // the conditional adapter on in-process dynalite is there for scale.
    const target = (mode: Exclude<InventoryMode, 'none'>) =>
      mode === 'local' || roundTripMs > 0 ? 'target ≥ 0.7x' : 'for scale (no target)';
    const cpuRows = (mode: Exclude<InventoryMode, 'none'>) =>
      roundTripMs > 0
        ? []
        : (['new', 'repeat'] as const).map((kind) =>
            versus(
              `per CPU second, ${kind === 'new' ? 'new workloads' : 'repeats'}: ${MODE_LABEL[mode]}`,
              cpuOf(kind, mode),
              'events/CPU-s',
              { name: 'without the inventory', value: cpuOf(kind, 'none') },
              `the same rounds, events per second of this process’s CPU time (dynalite included); ${target(mode)}`,
            ),
          );
    return modes.flatMap((mode) => [
      versus(
        `HTTP → dynalite with the inventory, new workloads${where}: ${MODE_LABEL[mode]}`,
        median(fresh.get(mode) ?? []),
        'events/s',
        without(fresh),
        `${count} pod events (2 containers) per round, each a new workload; median of ${INVENTORY_ROUNDS} alternating rounds; ingest wired by the composition root (images port included); ${target(mode)}`,
      ),
      versus(
        `HTTP → dynalite with the inventory, repeats${where}: ${MODE_LABEL[mode]}`,
        median(repeat.get(mode) ?? []),
        'events/s',
        without(repeat),
        `the same events again (nothing new to store); ${target(mode)}`,
      ),
      ...cpuRows(mode),
    ]);
  } finally {
    for (const server of servers) await closeServer(server);
    if (doc !== dynamo.doc) doc.destroy();
    await dynamo.stop();
  }
}

export async function run(): Promise<BenchResult[]> {
  const document = parseAllowlist(readFileSync(ALLOWLIST, 'utf8'), ALLOWLIST);
  const decider = compileAllowlist(document);
  const memoryDeps: IngestDeps = {
    allowlist: { current: async () => decider },
    findings: memoryFindings(),
    clock: () => new Date(),
    minAlertSeverity: 'low',
  };

  // Baseline: validation + evaluation in-process, findings discarded.
  const evalEvents = podEvents(EVENTS, 'eval');
  await ingestPodEvents(evalEvents.slice(0, 200), memoryDeps); // warm-up
  const evalRates: number[] = [];
  for (let r = 0; r < 3; r++) {
    const start = performance.now();
    for (let i = 0; i < evalEvents.length; i += BATCH) {
      await ingestPodEvents(evalEvents.slice(i, i + BATCH), memoryDeps);
    }
    evalRates.push((evalEvents.length * 1000) / (performance.now() - start));
  }
  const evalRate = median(evalRates);

  // HTTP + evaluation, findings in memory.
  // Only the pod-events route is posted to: its edge, over the in-memory ports.
  const memoryServer = createIngestServer({
    ingest: memoryDeps,
    edges: { podEvents: podEventsEdge(memoryDeps) },
  } as unknown as LocalPipeline);
  const memoryUrl = `http://127.0.0.1:${await listenLoopback(memoryServer, 0)}`;
  const local = await startLocal({
    port: 0,
    dynamodbPort: 0,
    allowlistFile: ALLOWLIST,
    minAlertSeverity: 'critical',
    vulnerableThreshold: 'critical',
    scanTimeoutMinutes: 30,
    out: null,
    err: (line) => console.error(line),
  });
  try {
    await postAll(memoryUrl, batches(podEvents(200, 'warm-m'), BATCH));
    await postAll(local.url, batches(podEvents(200, 'warm-d'), BATCH));
    const memory = await postAll(memoryUrl, batches(podEvents(EVENTS, 'http-m'), BATCH));
    const stored = await postAll(local.url, batches(podEvents(EVENTS, 'http-d'), BATCH));
    const memoryRate = (EVENTS * 1000) / memory.ms;
    const storedRate = (EVENTS * 1000) / stored.ms;

    // One violating pod per POST: the answer comes once its findings are stored.
    const single = (tag: string) =>
      podEvents(LATENCY_SAMPLES * 8, tag)
        .filter((_, i) => i % IMAGES.length === 5) // the ghcr.io image: one new finding each
        .slice(0, LATENCY_SAMPLES)
        .map((e) => JSON.stringify([e]));
    const memoryLat = await latencies(memoryUrl, single('lat-m'));
    const storedLat = await latencies(local.url, single('lat-d'));

    const inventory = [
      // One pair per adapter, each on its own dynalite beside its own "without" server, so
      // one adapter's rounds (and their garbage, their tables) never sit between the other's.
      ...(await inventoryVersus(document, { modes: ['local'] })),
      ...(await inventoryVersus(document, { modes: ['conditional'] })),
      // A round trip matters on AWS, where only the conditional adapter runs.
      ...(await inventoryVersus(document, { roundTripMs: 5, count: 300, modes: ['conditional'] })),
    ];
    return [
      ...inventory,
      versus(
        'HTTP → evaluation → dynalite',
        storedRate,
        'events/s',
        { name: 'evaluation only, in-process', value: evalRate },
        `${EVENTS} pod events in POSTs of ${BATCH}, 2 containers each; ${stored.findings} new findings written (${Math.round((stored.findings * 1000) / stored.ms)}/s)`,
      ),
      versus(
        'HTTP → evaluation, findings in memory',
        memoryRate,
        'events/s',
        { name: 'evaluation only, in-process', value: evalRate },
        'the same server without the store: the gap to the line above is what storage costs',
      ),
      versus(
        'POST → stored finding, p50',
        median(storedLat),
        'ms',
        { name: 'HTTP + evaluation, no store', value: median(memoryLat) },
        `${LATENCY_SAMPLES} one-event POSTs, each a new finding; lower is better`,
      ),
      versus(
        'POST → stored finding, p99',
        percentile(storedLat, 99),
        'ms',
        { name: 'HTTP + evaluation, no store', value: percentile(memoryLat, 99) },
        'lower is better',
      ),
    ];
  } finally {
    await closeServer(memoryServer);
    await local.stop();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  report(await run());
}
