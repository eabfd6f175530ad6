import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ForwarderConfig } from '../../forwarder/src/config.ts';
import { type Forwarder, startForwarder } from '../../forwarder/src/forwarder.ts';
import { createHttpSink } from '../../forwarder/src/sinks/http.ts';
import { podEventSchema } from '../../lambdas/core/kube/pod-event.ts';
import { FakeApiServer } from './fake-apiserver.ts';
import { eventually, eventuallyAsync, FakeSink } from './fake-sink.ts';
import { counter, memoryLogger, testConfig } from './helpers.ts';

const SINK_TOKEN = 'sink-secret-token';
let api: FakeApiServer;
let sink: FakeSink;
let kubeconfig: string;
let fwd: Forwarder | null = null;
let ns = 0;

beforeAll(async () => {
  api = await new FakeApiServer().start();
  sink = await new FakeSink().start();
  kubeconfig = api.writeKubeconfig();
});

afterAll(async () => {
  await sink.close();
  await api.close();
});

afterEach(async () => {
  await fwd?.shutdown();
  fwd = null;
  sink.recover();
  api.unavailable = null;
  api.expiredAs = 'event';
});

/** Each test watches its own namespace so earlier tests' pods stay out of its way. */
async function start(over: Partial<ForwarderConfig> = {}, opts: { httpTimeoutMs?: number } = {}) {
  const namespace = `t${++ns}`;
  const config = testConfig(
    { cluster: 'kind-test', namespaces: namespace, sink: sink.url, token: SINK_TOKEN, kubeconfig },
    over,
  );
  const log = memoryLogger();
  fwd = await startForwarder({
    config,
    logger: log.logger,
    ...(opts.httpTimeoutMs
      ? {
          sink: createHttpSink({ url: sink.url, token: SINK_TOKEN, timeoutMs: opts.httpTimeoutMs }),
        }
      : {}),
    watch: {
      restartBaseMs: 20,
      restartMaxMs: 100,
      pageSize: 7,
      reconnectDelay: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 20))),
    },
  });
  return { namespace, fwd, log };
}

const countOf = (key: string) => sink.keys().filter((k) => k === key).length;

describe('forwarder against a loopback API server and sink', () => {
  it('emits added, then running when digests appear and again for an ephemeral container, trimmed', async () => {
    // Prepare
    const { namespace, fwd } = await start();
    api.createPod(namespace, 'web', [
      { name: 'app', image: 'nginx:1.27' },
      { name: 'sidecar', image: 'envoyproxy/envoy:v1.31' },
    ]);
    await sink.until(() => countOf(`${namespace}/web:added`) === 1);

    // Act
    api.setRunning(namespace, 'web');
    await sink.until(() => countOf(`${namespace}/web:running`) === 1);
    api.relabel(namespace, 'web', { app: 'web', tier: 'front' });
    api.createPod(namespace, 'marker');
    await sink.until(() => countOf(`${namespace}/marker:added`) === 1);
    api.addEphemeral(namespace, 'web', { name: 'debugger', image: 'busybox:1.36' });
    await sink.until(() => countOf(`${namespace}/web:running`) === 2);

    // Assess
    const web = sink.accepted.filter((e) => e.pod.metadata.name === 'web');
    expect(web.map((e) => e.reason)).toEqual(['added', 'running', 'running']);
    for (const e of sink.accepted) expect(podEventSchema.safeParse(e).success).toBe(true);
    expect(sink.invalid).toEqual([]);
    expect(web[1]?.pod.status?.containerStatuses?.map((s) => s.imageID)).toEqual([
      expect.stringMatching(/@sha256:[0-9a-f]{64}$/),
      expect.stringMatching(/@sha256:[0-9a-f]{64}$/),
    ]);
    expect(web[2]?.pod.spec.ephemeralContainers).toEqual([
      { name: 'debugger', image: 'busybox:1.36' },
    ]);
    expect(web[2]?.pod.status?.ephemeralContainerStatuses?.[0]?.imageID).toMatch(/sha256:/);
    expect(web[0]).toMatchObject({
      cluster: 'kind-test',
      pod: {
        metadata: { name: 'web', namespace, labels: { app: 'web' } },
        spec: { serviceAccountName: 'default' },
      },
    });
    const raw = JSON.stringify(sink.accepted);
    expect(raw).not.toContain('hunter2');
    expect(raw).not.toContain('"env"');
    expect(raw).not.toContain('volumes');
    expect(sink.authHeaders.every((h) => h === `Bearer ${SINK_TOKEN}`)).toBe(true);
    expect(await counter(fwd.metrics.seen)).toBe(4);
  });

  it('delivers every pod created while the sink is down once it recovers', async () => {
    // Prepare
    const { namespace, fwd } = await start();
    sink.mode = 'fail';

    // Act
    for (let i = 0; i < 40; i++) api.createPod(namespace, `down-${i}`);
    await eventually(() => fwd.buffer.size === 40);
    const failedCalls = sink.requests;
    await sink.until(() => sink.requests >= failedCalls + 3);
    sink.mode = 'ok';
    await sink.until(() =>
      Array.from({ length: 40 }, (_, i) => `${namespace}/down-${i}:added`).every(
        (k) => countOf(k) >= 1,
      ),
    );

    // Assess
    expect(await counter(fwd.metrics.retried)).toBeGreaterThan(0);
    expect(await counter(fwd.metrics.dropped)).toBe(0);
    await eventually(() => fwd.buffer.size === 0);
  });

  it('recovers from a stalled sink (requests time out) without losing events', async () => {
    // Prepare
    const { namespace, fwd } = await start({}, { httpTimeoutMs: 200 });
    sink.mode = 'stall';

    // Act
    for (let i = 0; i < 10; i++) api.createPod(namespace, `stall-${i}`);
    await sink.until(() => sink.requests > 0);
    const stalledAt = sink.requests;
    await sink.until(() => sink.requests > stalledAt + 1);
    sink.recover();
    await sink.until(() =>
      Array.from({ length: 10 }, (_, i) => `${namespace}/stall-${i}:added`).every(
        (k) => countOf(k) >= 1,
      ),
    );

    // Assess
    expect(await counter(fwd.metrics.sinkLatency, { outcome: 'error' })).toBeGreaterThan(0);
    expect(await counter(fwd.metrics.dropped)).toBe(0);
  });

  it('misses nothing across dropped watches, a 410 in the stream and a 410 status', async () => {
    // Prepare
    const { namespace, fwd } = await start();
    api.createPod(namespace, 'p1');
    await sink.until(() => countOf(`${namespace}/p1:added`) === 1);
    await eventually(() => fwd.ready() && api.openWatches > 0);
    api.bookmark();

    // Act 1: the connection drops and a pod is created before the client reconnects.
    const listsBefore = api.listRequests;
    api.dropWatches();
    api.createPod(namespace, 'p2');
    await sink.until(() => countOf(`${namespace}/p2:added`) === 1);
    const listsAfterDrop = api.listRequests;

    // Act 2: drop, change things, then compact: the resumed watch is expired (ERROR event).
    await eventually(() => api.openWatches > 0);
    api.dropWatches();
    api.createPod(namespace, 'p3');
    api.setRunning(namespace, 'p1');
    api.compact();
    await sink.until(
      () => countOf(`${namespace}/p3:added`) === 1 && countOf(`${namespace}/p1:running`) === 1,
    );

    // Act 3: compaction while watching (ERROR on the open stream), then HTTP 410 on resume.
    await eventually(() => api.openWatches > 0);
    api.compact();
    api.createPod(namespace, 'p4');
    await sink.until(() => countOf(`${namespace}/p4:added`) === 1);
    await eventually(() => api.openWatches > 0);
    api.expiredAs = 'status';
    api.dropWatches();
    api.createPod(namespace, 'p5');
    api.compact();
    await sink.until(() => countOf(`${namespace}/p5:added`) === 1);

    // Assess
    expect(listsAfterDrop).toBe(listsBefore); // resumed from its resourceVersion, no relist
    expect(api.listRequests).toBeGreaterThan(listsAfterDrop); // 410 → relist
    expect(api.expiredWatches).toBeGreaterThan(0);
    for (const p of ['p1', 'p2', 'p3', 'p4', 'p5']) {
      expect(countOf(`${namespace}/${p}:added`), p).toBe(1);
    }
    expect(countOf(`${namespace}/p1:running`)).toBe(1);
    await eventually(() => fwd.ready());
  });

  it('keeps trying while the API server is unavailable at start and reports not ready', async () => {
    // Prepare
    api.unavailable = 503;
    const { namespace, fwd } = await start();
    const base = `http://127.0.0.1:${fwd.port}`;
    await eventuallyAsync(async () => (await counter(fwd.metrics.watchRestarts)) >= 2);

    // Act
    const notReady = await fetch(`${base}/readyz`);
    const live = await fetch(`${base}/healthz`);
    api.createPod(namespace, 'late');
    api.unavailable = null;
    await eventually(() => fwd.ready());
    const ready = await fetch(`${base}/readyz`);
    await sink.until(() => countOf(`${namespace}/late:added`) === 1);
    const metrics = await (await fetch(`${base}/metrics`)).text();

    // Assess
    expect(api.requests.length).toBeGreaterThanOrEqual(2);
    expect(notReady.status).toBe(503);
    expect(live.status).toBe(200);
    expect(ready.status).toBe(200);
    expect(metrics).toMatch(/^regwatch_forwarder_events_seen_total\{reason="added"\} 1$/m);
    expect(metrics).toMatch(/^regwatch_forwarder_events_sent_total 1$/m);
    expect(metrics).toMatch(/^regwatch_forwarder_ready 1$/m);
    for (const name of ['events_retried_total', 'buffered_events', 'buffered_bytes']) {
      expect(metrics).toContain(`regwatch_forwarder_${name}`);
    }
    expect(metrics).toContain('regwatch_forwarder_sink_request_duration_seconds_bucket');
  });

  it('stays within the buffer bound while the sink is down, dropping non-added events first; resync heals', async () => {
    // Prepare
    const { namespace, fwd } = await start({ bufferMaxEvents: 50 });
    await eventually(() => fwd.ready());
    sink.mode = 'fail';
    for (let i = 0; i < 20; i++) api.createPod(namespace, `run-${i}`);
    for (let i = 0; i < 20; i++) api.setRunning(namespace, `run-${i}`);

    // Act
    for (let i = 0; i < 30; i++) api.createPod(namespace, `new-${i}`);
    await eventuallyAsync(async () => (await counter(fwd.metrics.seen)) === 70);
    const bufferedPeak = fwd.buffer.size;
    const failed = sink.requests;
    // Once a failed call has ended after the last event, every eviction has been counted.
    await sink.until(() => sink.requests >= failed + 2);
    const dropped = await counter(fwd.metrics.dropped, { cause: 'buffer_full' });
    // A running whose pod's added still waits is merged into it (counted), not buffered.
    const coalesced = await counter(fwd.metrics.coalesced);
    const bytes = fwd.buffer.bytes;
    sink.mode = 'ok';
    await sink.until(() => sink.keys().filter((k) => k.startsWith(`${namespace}/`)).length >= 50);
    const beforeResync = sink.accepted.filter((e) => e.pod.metadata.namespace === namespace);
    const queued = await fwd.resync();
    await sink.until(() => countOf(`${namespace}/run-19:resync`) === 1);

    // Assess
    expect(bufferedPeak).toBe(50);
    expect(bytes).toBeLessThanOrEqual(fwd.buffer.limits.maxBytes);
    expect(dropped + coalesced).toBe(20);
    expect(beforeResync.filter((e) => e.reason === 'added')).toHaveLength(50);
    expect(beforeResync.filter((e) => e.reason === 'running')).toHaveLength(0);
    expect(queued).toBe(50);
    const resynced = sink.accepted.filter(
      (e) => e.reason === 'resync' && e.pod.metadata.namespace === namespace,
    );
    expect(resynced.filter((e) => e.pod.status?.containerStatuses?.[0]?.imageID)).toHaveLength(20);
  });

  it('refuses a bad batch once (4xx) and drops it with a counter instead of retrying forever', async () => {
    // Prepare
    const { namespace, fwd, log } = await start();
    sink.mode = 'reject';

    // Act
    const before = sink.requests;
    api.createPod(namespace, 'bad');
    await eventuallyAsync(
      async () => (await counter(fwd.metrics.dropped, { cause: 'rejected' })) === 1,
    );
    const requests = sink.requests;
    sink.mode = 'ok';
    api.createPod(namespace, 'good');
    await sink.until(() => countOf(`${namespace}/good:added`) === 1);

    // Assess
    expect(requests).toBe(before + 1);
    expect(sink.requests).toBe(requests + 1);
    await eventually(() => fwd.buffer.size === 0);
    expect(log.lines().some((l) => l.level === 'error' && String(l.detail).includes('400'))).toBe(
      true,
    );
  });

  it('flushes what is buffered on shutdown without waiting for the batch timer', async () => {
    // Prepare
    const { namespace, fwd } = await start({ batchWaitMs: 60_000, batchSize: 1000 });
    for (let i = 0; i < 5; i++) api.createPod(namespace, `flush-${i}`);
    await eventually(() => fwd.buffer.size === 5);
    const sentBefore = countOf(`${namespace}/flush-0:added`);

    // Act
    const { unsent } = await fwd.shutdown();

    // Assess
    expect(sentBefore).toBe(0);
    expect(unsent).toBe(0);
    for (let i = 0; i < 5; i++) expect(countOf(`${namespace}/flush-${i}:added`)).toBe(1);
  });
});
