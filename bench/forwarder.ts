/**
 * Forwarder benchmark: pod events/s through list/watch → batch → sink on loopback, and
 * resident memory with 10,000 pods, beside a baseline of client-node's informer alone (a
 * `ListWatch` caching whole `V1Pod`s, as the forwarder did before it kept only trimmed pods),
 * and of the forwarder's own list/watch alone. Each measured variant runs in its own process
 * so RSS is its own; the fake API server and the sink run in this process. `bundle` and
 * `bundle-eventbridge` are the container as it ships (http sink; EventBridge sink, as on EKS).
 *   node bench/forwarder.ts [pods]
 * BENCH_ONLY=bundle,… picks variants. BENCH_NODE_FLAGS overrides the bundles' NODE_OPTIONS
 * (default FORWARDER_NODE_OPTIONS, as the Deployment runs), BENCH_CHILD_FLAGS the source
 * variants' heap flags, BENCH_BUNDLE_ARGS adds node options for the bundles, BENCH_BUNDLE_ENV
 * (JSON) environment; BENCH_BUNDLE measures a prebuilt bundle.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { bundle } from '../forwarder/build.ts';
import { loadConfig } from '../forwarder/src/config.ts';
import { FORWARDER_NODE_OPTIONS } from '../forwarder/src/constants.ts';
import { startForwarder } from '../forwarder/src/forwarder.ts';
import { loadKubeAccess } from '../forwarder/src/kube-access.ts';
import { createLogger } from '../forwarder/src/logger.ts';
import { createMetrics } from '../forwarder/src/metrics.ts';
import { PodWatcher } from '../forwarder/src/watcher.ts';
import { FakeApiServer } from '../test/forwarder/fake-apiserver.ts';
import { type BenchResult, versus } from './lib.ts';

type Variant = 'informer' | 'watcher' | 'forwarder' | 'sink-down' | 'bundle' | 'bundle-eventbridge';
interface Result {
  variant: Variant;
  pods: number;
  events: number;
  seconds: number;
  rssMiB: number;
  peakRssMiB: number;
  heapMiB: number;
  bufferedEvents?: number;
  dropped?: number;
  bufferedMiB?: number;
}

/**
 * Heap limits of the variants run from source (informer, list/watch, forwarder, sink down):
 * the informer holds whole `V1Pod`s and the source run carries the TypeScript loader, neither
 * fits the container's smaller heap. The container's own limits apply to the bundles.
 */
const SOURCE_NODE_OPTIONS = '--max-old-space-size=80 --max-semi-space-size=2';

const mib = (n: number) => Math.round((n / 1024 / 1024) * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function child(variant: Variant): Promise<void> {
  const pods = Number(process.env.BENCH_PODS);
  const quiet = createLogger(process.stderr, 'error');
  const started = performance.now();
  let result: Result;
  if (variant === 'informer') {
    let seen = 0;
    // Loaded here only: the other variants must not pay for client-node's memory.
    const { CoreV1Api, KubeConfig, ListWatch, Watch } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    kc.loadFromFile(String(process.env.KUBECONFIG));
    const api = kc.makeApiClient(CoreV1Api);
    const informer = new ListWatch<V1Pod>(
      '/api/v1/pods',
      new Watch(kc),
      () => api.listPodForAllNamespaces(),
      false,
    );
    informer.on('add', () => seen++);
    informer.on('update', () => seen++);
    await informer.start();
    process.stdout.write('READY\n');
    while (seen < pods * 2) await sleep(5);
    const seconds = (performance.now() - started) / 1000;
    await sleep(200);
    result = { variant, pods, events: seen, seconds, ...mem() };
    await informer.stop();
  } else if (variant === 'watcher') {
    let seen = 0;
    const watcher = new PodWatcher({
      kube: await loadKubeAccess(String(process.env.KUBECONFIG)),
      namespaces: [],
      logger: quiet,
      metrics: createMetrics(),
      onPod: () => {
        seen++;
      },
    });
    watcher.start();
    while (!watcher.ready) await sleep(5);
    process.stdout.write('READY\n');
    while (seen < pods * 2) await sleep(5);
    const seconds = (performance.now() - started) / 1000;
    await sleep(200);
    result = { variant, pods, events: seen, seconds, ...mem() };
    await watcher.stop();
  } else {
    const config = loadConfig(
      {},
      {
        cluster: 'bench',
        sink: String(process.env.BENCH_SINK),
        batchSize: '500',
        batchWait: '50ms',
        metricsPort: '0',
        metricsHost: '127.0.0.1',
        resync: '0',
        shutdownGrace: '1s',
      },
    );
    const fwd = await startForwarder({
      config: { ...config, kubeconfig: String(process.env.KUBECONFIG) },
      logger: quiet,
    });
    while (!fwd.ready()) await sleep(5);
    process.stdout.write('READY\n');
    if (variant === 'forwarder') {
      // Every event is sent or (a burst past the buffer bound) counted as dropped.
      const sent = async () => (await fwd.metrics.sent.get()).values[0]?.value ?? 0;
      const coalesced = async () => (await fwd.metrics.coalesced.get()).values[0]?.value ?? 0;
      while ((await sent()) + (await coalesced()) + fwd.metrics.droppedTotal < pods * 2) {
        await sleep(5);
      }
    } else {
      const seen = async () =>
        (await fwd.metrics.seen.get()).values.reduce((a, v) => a + v.value, 0);
      while ((await seen()) < pods * 2) await sleep(5);
      // A resync on top, as the timer would do while the sink is down.
      await Promise.race([fwd.resync(), sleep(2_000)]);
    }
    const seconds = (performance.now() - started) / 1000;
    await sleep(200);
    const events = (await fwd.metrics.seen.get()).values.reduce((a, v) => a + v.value, 0);
    result = {
      variant,
      pods,
      events,
      seconds,
      ...mem(),
      bufferedEvents: fwd.buffer.size,
      dropped: fwd.metrics.droppedTotal,
      bufferedMiB: mib(fwd.buffer.bytes),
    };
    await fwd.shutdown();
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

function mem() {
  global.gc?.();
  const m = process.memoryUsage();
  // maxRSS is in KiB: the peak, which is what a memory limit must allow.
  const peak = Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;
  if (process.env.BENCH_DEBUG) process.stderr.write(`${JSON.stringify({ ...m, peak })}\n`);
  return { rssMiB: mib(m.rss), peakRssMiB: peak, heapMiB: mib(m.heapUsed) };
}

async function runChild(
  variant: Variant,
  env: Record<string, string>,
  onReady: () => void,
): Promise<Result> {
  const flags = (process.env.BENCH_CHILD_FLAGS ?? SOURCE_NODE_OPTIONS).split(' ').filter(Boolean);
  const proc = spawn(
    process.execPath,
    [...flags, '--expose-gc', import.meta.filename, '--child', variant],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  let signalled = false;
  proc.stdout.on('data', (d) => {
    out += String(d);
    if (!signalled && out.includes('READY\n')) {
      signalled = true;
      onReady();
    }
  });
  // Never leave a child behind if this process is stopped.
  process.once('exit', () => proc.kill());
  await new Promise((resolve) => proc.on('exit', resolve));
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as Result;
}

/**
 * The container as it ships: the esbuild bundle with the Deployment's NODE_OPTIONS, memory
 * read from /proc (VmHWM is the peak RSS), progress from its /metrics.
 */
async function runBundle(
  pods: number,
  kubeconfig: string,
  sinkUrl: string,
  onReady: () => void,
  eventbridge = false,
): Promise<Result> {
  const dir = mkdtempSync(path.join(tmpdir(), 'regwatch-fwd-bench-'));
  // BENCH_BUNDLE: measure a bundle built elsewhere (another build setup) instead.
  const out = process.env.BENCH_BUNDLE ?? path.join(dir, 'main.mjs');
  if (!process.env.BENCH_BUNDLE) await bundle(out);
  const started = performance.now();
  // BENCH_BUNDLE_ARGS: node options NODE_OPTIONS may not carry (the image's ENTRYPOINT would).
  const args = (process.env.BENCH_BUNDLE_ARGS ?? '').split(' ').filter(Boolean);
  const proc = spawn(process.execPath, [...args, out], {
    env: {
      PATH: process.env.PATH,
      NODE_OPTIONS: process.env.BENCH_NODE_FLAGS ?? FORWARDER_NODE_OPTIONS,
      KUBECONFIG: kubeconfig,
      REGWATCH_CLUSTER: 'bench',
      // The EventBridge sink as on EKS (the AWS SDK loaded, SigV4-signed PutEvents of 10
      // entries), its endpoint the loopback sink; static bench credentials, no network.
      ...(eventbridge
        ? {
            REGWATCH_SINK: 'eventbridge',
            REGWATCH_EVENT_BUS: 'bench',
            AWS_REGION: 'us-east-1',
            AWS_ACCESS_KEY_ID: 'bench',
            AWS_SECRET_ACCESS_KEY: 'bench',
            AWS_ENDPOINT_URL_EVENTBRIDGE: new URL(sinkUrl).origin,
          }
        : { REGWATCH_SINK: sinkUrl }),
      REGWATCH_BATCH_SIZE: '500',
      REGWATCH_BATCH_WAIT: '50ms',
      REGWATCH_METRICS_PORT: '0',
      REGWATCH_METRICS_HOST: '127.0.0.1',
      REGWATCH_RESYNC: '0',
      REGWATCH_LOG_LEVEL: 'info',
      // BENCH_BUNDLE_ENV: more environment for the bundle, as JSON (e.g. allocator settings).
      ...(JSON.parse(process.env.BENCH_BUNDLE_ENV ?? '{}') as Record<string, string>),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  process.once('exit', () => proc.kill());
  let log = '';
  proc.stdout.on('data', (d) => {
    log += String(d);
  });
  while (!log.includes('"watching pods"')) await sleep(5);
  const port = Number(/"metricsPort":(\d+)/.exec(log)?.[1]);
  onReady();
  const total = async (): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    let n = 0;
    for (const m of text.matchAll(
      /^regwatch_forwarder_events_(?:sent|coalesced|dropped)_total(?:\{[^}]*\})? (\d+)$/gm,
    )) {
      n += Number(m[1]);
    }
    return n;
  };
  while ((await total()) < pods * 2) await sleep(20);
  const seconds = (performance.now() - started) / 1000;
  await sleep(200);
  const status = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
  const kib = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const dropped = [
    ...metrics.matchAll(/^regwatch_forwarder_events_dropped_total\{[^}]*\} (\d+)$/gm),
  ].reduce((a, m) => a + Number(m[1]), 0);
  proc.kill('SIGTERM');
  await new Promise((resolve) => proc.on('exit', resolve));
  rmSync(dir, { recursive: true, force: true });
  return {
    variant: eventbridge ? 'bundle-eventbridge' : 'bundle',
    pods,
    events: pods * 2,
    seconds,
    rssMiB: Math.round((kib('VmRSS') / 1024) * 10) / 10,
    peakRssMiB: Math.round((kib('VmHWM') / 1024) * 10) / 10,
    heapMiB: Number.NaN,
    dropped,
  };
}

async function measure(pods: number): Promise<{ results: Result[]; received: number }> {
  const api = await new FakeApiServer().start();
  let received = 0;
  let up = true;
  const sink = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!up) return void res.writeHead(503).end();
      if (req.headers['x-amz-target'] === 'AWSEvents.PutEvents') {
        // PutEvents (AWS JSON 1.1): every entry accepted.
        const { Entries } = JSON.parse(Buffer.concat(chunks).toString()) as { Entries: unknown[] };
        received += Entries.length;
        const body = {
          FailedEntryCount: 0,
          Entries: Entries.map((_, i) => ({ EventId: `e${i}` })),
        };
        return void res
          .writeHead(200, { 'content-type': 'application/x-amz-json-1.1' })
          .end(JSON.stringify(body));
      }
      received += (JSON.parse(Buffer.concat(chunks).toString()) as unknown[]).length;
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/v1/pod-events`;
  const kubeconfig = api.writeKubeconfig();

  // Half the pods exist before the list; the other half arrive through the watch as the
  // variants start (created, then running: two events each), so list and watch both count.
  const env = { KUBECONFIG: kubeconfig, BENCH_PODS: String(pods), BENCH_SINK: sinkUrl };
  const results: Result[] = [];
  const only = process.env.BENCH_ONLY?.split(',');
  const variants = [
    'informer',
    'watcher',
    'forwarder',
    'sink-down',
    'bundle',
    'bundle-eventbridge',
  ] as const;
  for (const variant of variants) {
    if (only && !only.includes(variant)) continue;
    up = variant !== 'sink-down';
    api.pods.clear();
    for (let i = 0; i < pods; i++)
      api.createPod(`ns-${i % 50}`, `${variant}-${i}`, [
        { name: 'app', image: `registry.example.com/team-${i % 20}/app:${i % 7}` },
        { name: 'proxy', image: 'envoyproxy/envoy:v1.31.0' },
      ]);
    const onReady = () => {
      for (let i = 0; i < pods; i++) api.setRunning(`ns-${i % 50}`, `${variant}-${i}`);
    };
    results.push(
      variant === 'bundle' || variant === 'bundle-eventbridge'
        ? await runBundle(pods, kubeconfig, sinkUrl, onReady, variant === 'bundle-eventbridge')
        : await runChild(variant, env, onReady),
    );
  }
  await api.close();
  sink.close();
  return { results, received };
}

/** For `npm run bench`: forwarder throughput and memory beside the informer alone. */
export async function run(pods = 10_000): Promise<BenchResult[]> {
  const { results } = await measure(pods);
  const [informer, watcher, forwarder, sinkDown, shipped, shippedEventBridge] = results as [
    Result,
    Result,
    Result,
    Result,
    Result,
    Result,
  ];
  const rate = (r: Result) => r.events / r.seconds;
  return [
    versus(
      'forwarder events/s',
      rate(forwarder),
      'events/s',
      {
        name: 'informer alone',
        value: rate(informer),
      },
      `${pods} pods, informer → batch → http sink on loopback`,
    ),
    versus('forwarder RSS', forwarder.rssMiB, 'MiB', {
      name: 'informer alone',
      value: informer.rssMiB,
    }),
    versus(
      'forwarder container peak RSS (bundle, NODE_OPTIONS)',
      shipped.peakRssMiB,
      'MiB',
      { name: 'informer alone', value: informer.peakRssMiB },
      `${pods} pods; target ≤ 150 MiB`,
    ),
    versus(
      'forwarder container peak RSS, EventBridge sink (bundle, NODE_OPTIONS)',
      shippedEventBridge.peakRssMiB,
      'MiB',
      { name: 'informer alone', value: informer.peakRssMiB },
      `${pods} pods, SigV4 PutEvents to a loopback endpoint; target ≤ 150 MiB`,
    ),
    versus('forwarder list/watch alone RSS', watcher.rssMiB, 'MiB', {
      name: 'informer alone',
      value: informer.rssMiB,
    }),
    versus(
      'forwarder RSS, sink down',
      sinkDown.rssMiB,
      'MiB',
      {
        name: 'informer alone',
        value: informer.rssMiB,
      },
      `${sinkDown.bufferedEvents ?? 0} events buffered`,
    ),
  ];
}

async function main(): Promise<void> {
  const pods = Number(process.argv[2] ?? 10_000);
  const { results, received } = await measure(pods);
  const base = results[0] as Result;
  const rows = results.map((r) => ({
    variant: r.variant,
    'events/s': Math.round(r.events / r.seconds),
    'RSS MiB': r.rssMiB,
    'peak RSS MiB': r.peakRssMiB,
    'RSS vs informer': `${(r.rssMiB / base.rssMiB).toFixed(2)}x`,
    'heap MiB': r.heapMiB,
    'buffered events': r.bufferedEvents ?? '-',
    dropped: r.dropped ?? '-',
    'buffered MiB': r.bufferedMiB ?? '-',
  }));
  process.stdout.write(
    `forwarder bench: ${pods} pods, ${pods * 2} events per variant (sink received ${received})\n`,
  );
  console.table(rows);
}

if (process.argv[2] === '--child') await child(process.argv[3] as Variant);
else if (import.meta.main) await main();
