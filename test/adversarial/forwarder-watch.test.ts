/**
 * The forwarder against a hostile or broken API server and pods built to be too large: it
 * skips and counts what is not a pod, cuts a line that never ends and reconnects, never drops
 * an image to meet the sink limit, says when pods are gone and when a resync pass is complete,
 * and stops at once on SIGTERM with a watch open.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ForwarderConfig } from '../../forwarder/src/config.ts';
import { type Forwarder, startForwarder } from '../../forwarder/src/forwarder.ts';
import { createHttpSink } from '../../forwarder/src/sinks/http.ts';
import { FakeApiServer } from '../forwarder/fake-apiserver.ts';
import { eventually, eventuallyAsync, FakeSink } from '../forwarder/fake-sink.ts';
import { counter, memoryLogger, testConfig } from '../forwarder/helpers.ts';

const root = path.resolve(import.meta.dirname, '../..');
let api: FakeApiServer;
let sink: FakeSink;
let kubeconfig: string;
let fwd: Forwarder | null = null;
let ns = 0;
const owned: FakeApiServer[] = [];

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
  for (const own of owned.splice(0)) await own.close();
  sink.recover();
  // What one test's forwarder sent is not another test's to see.
  sink.all.length = 0;
  sink.accepted.length = 0;
  api.junkListItems.length = 0;
});

async function start(
  over: Partial<ForwarderConfig> = {},
  opts: { maxLineBytes?: number; sinkMaxBatchBytes?: number } = {},
) {
  const namespace = `adv${++ns}`;
  const config = testConfig(
    { cluster: 'kind-adv', namespaces: namespace, sink: sink.url, kubeconfig },
    over,
  );
  const log = memoryLogger();
  fwd = await startForwarder({
    config,
    logger: log.logger,
    ...(opts.sinkMaxBatchBytes
      ? { sink: createHttpSink({ url: sink.url, maxBatchBytes: opts.sinkMaxBatchBytes }) }
      : {}),
    watch: {
      restartBaseMs: 20,
      restartMaxMs: 100,
      ...(opts.maxLineBytes ? { maxLineBytes: opts.maxLineBytes } : {}),
      reconnectDelay: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 20))),
    },
  });
  await eventually(() => fwd?.ready() === true && api.openWatches > 0);
  return { namespace, fwd, log };
}

/**
 * A forwarder over every namespace (only such a pass is a pass over the cluster, so only it
 * sends `resync-complete`), on an API server of its own so other tests' pods stay out.
 */
async function startClusterWide() {
  const own = await new FakeApiServer().start();
  owned.push(own);
  const log = memoryLogger();
  fwd = await startForwarder({
    config: testConfig({ cluster: 'kind-adv', sink: sink.url, kubeconfig: own.writeKubeconfig() }),
    logger: log.logger,
    watch: {
      restartBaseMs: 20,
      restartMaxMs: 100,
      reconnectDelay: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 20))),
    },
  });
  await eventually(() => fwd?.ready() === true && own.openWatches > 0);
  return { api: own, namespace: `adv${++ns}`, fwd, log };
}

const countOf = (key: string) => sink.keys().filter((k) => k === key).length;

describe('forwarder watch against a hostile API server', () => {
  it('skips and counts object: null, malformed objects, junk lines and unknown types, and keeps watching', async () => {
    // Prepare
    const { namespace, fwd } = await start();
    const restarts = await counter(fwd.metrics.watchRestarts);

    // Act
    api.writeRaw(
      [
        '{"type":"ADDED","object":null}',
        '{"type":"MODIFIED"}',
        '{"type":"DELETED","object":null}',
        '{"type":"ADDED","object":"a string"}',
        '{"type":"ADDED","object":[1,2]}',
        '{"type":"MODIFIED","object":{"metadata":{"name":"no-uid","namespace":"x"}}}',
        '{"type":"ADDED","object":{"metadata":{"name":"n","namespace":"x","uid":"u"},"spec":7}}',
        '{"type":"ADDED","object":{"metadata":null}}',
        'not json at all',
        'null',
        '[]',
        '{"type":7,"object":{}}',
        '{"type":"SURPRISE","object":{}}',
        '',
      ].join('\n'),
    );
    api.createPod(namespace, 'after-junk');
    await sink.until(() => countOf(`${namespace}/after-junk:added`) === 1);

    // Assess
    expect(await counter(fwd.metrics.watchSkipped, { cause: 'null_object' })).toBe(3);
    expect(await counter(fwd.metrics.watchSkipped, { cause: 'malformed' })).toBe(9);
    expect(await counter(fwd.metrics.watchSkipped, { cause: 'unknown_type' })).toBe(1);
    expect(await counter(fwd.metrics.watchRestarts)).toBe(restarts);
    expect(fwd.ready()).toBe(true);
    expect(sink.invalid).toEqual([]);
  });

  it('skips list items that are not pods and still lists the rest', async () => {
    // Prepare
    const namespace = `adv${ns + 1}`;
    api.createPod(namespace, 'listed');
    api.junkListItems.push(null, 'x', { metadata: { name: 'n' } }, { kind: 'Pod' });

    // Act
    const { fwd } = await start();
    await sink.until(() => countOf(`${namespace}/listed:added`) === 1);

    // Assess
    expect(await counter(fwd.metrics.watchSkipped, { cause: 'malformed' })).toBe(4);
  });

  it('cuts a watch line that never ends at the bound and reconnects from its resourceVersion', async () => {
    // Prepare
    const { namespace, fwd } = await start({}, { maxLineBytes: 64 * 1024 });
    const watches = api.watchRequests;
    const lists = api.listRequests;

    // Act: 1 MiB without a newline, in pieces, as a stream that never ends a line would.
    for (let i = 0; i < 16; i++)
      api.writeRaw(
        i === 0 ? `{"type":"ADDED","object":{"x":"${'a'.repeat(65_536)}` : 'a'.repeat(65_536),
      );
    await eventuallyAsync(
      async () => (await counter(fwd.metrics.watchSkipped, { cause: 'line_too_long' })) === 1,
    );
    api.createPod(namespace, 'after-long-line');
    await sink.until(() => countOf(`${namespace}/after-long-line:added`) === 1);

    // Assess
    expect(api.watchRequests).toBeGreaterThan(watches);
    expect(api.listRequests).toBe(lists);
    expect(await counter(fwd.metrics.watchRestarts)).toBeGreaterThanOrEqual(1);
  });
});

describe('forwarder pod lifecycle events', () => {
  it('sends deleted with the trimmed pod, on a watch DELETED and on a relist that misses it', async () => {
    // Prepare
    const { namespace } = await start();
    api.createPod(namespace, 'a');
    api.createPod(namespace, 'b');
    await sink.until(() => countOf(`${namespace}/b:added`) === 1);

    // Act 1: a watch DELETED.
    api.deletePod(namespace, 'a');
    await sink.until(() =>
      sink.all.some((e) => e.reason === 'deleted' && e.pod.metadata.name === 'a'),
    );
    // Act 2: gone while the watch was down and history compacted: only a relist can tell.
    api.dropWatches();
    api.deletePod(namespace, 'b');
    api.compact();
    await sink.until(() =>
      sink.all.some((e) => e.reason === 'deleted' && e.pod.metadata.name === 'b'),
    );

    // Assess
    const deleted = sink.all.filter(
      (e) => e.reason === 'deleted' && e.pod.metadata.namespace === namespace,
    );
    expect(deleted.map((e) => 'pod' in e && e.pod.metadata.name)).toEqual(['a', 'b']);
    expect(deleted[0]).toMatchObject({
      cluster: 'kind-adv',
      pod: {
        metadata: { name: 'a', namespace, uid: expect.any(String) },
        spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
      },
    });
    expect(JSON.stringify(deleted)).not.toContain('hunter2');
  });

  it('ends a resync pass with resync-complete carrying the resyncId of every resync event of it', async () => {
    // Prepare
    const { api, namespace, fwd } = await startClusterWide();
    for (const name of ['r1', 'r2', 'r3']) api.createPod(namespace, name);
    await sink.until(() => countOf(`${namespace}/r3:added`) === 1);

    // Act
    const queued = await fwd.resync();
    await fwd.resyncSettled();
    await sink.until(() => sink.all.some((e) => e.reason === 'resync-complete'));

    // Assess
    expect(queued).toBe(3);
    const resyncs = sink.all.filter((e) => e.reason === 'resync');
    const ids = new Set(resyncs.map((e) => ('resyncId' in e ? e.resyncId : undefined)));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    expect(id).toMatch(/^[A-Za-z0-9._:-]+$/);
    const complete = sink.all.filter((e) => e.reason === 'resync-complete');
    expect(complete).toEqual([
      {
        cluster: 'kind-adv',
        observedAt: expect.any(String),
        reason: 'resync-complete',
        resyncId: id,
      },
    ]);
    // It comes after every resync event of its pass.
    const last = sink.all.findLastIndex((e) => e.reason === 'resync');
    expect(sink.all.findIndex((e) => e.reason === 'resync-complete')).toBeGreaterThan(last);
    sink.all.length = 0;
    sink.accepted.length = 0;
  });

  it('sends no resync-complete for a pass that lost events', async () => {
    // Prepare
    const { api, namespace, fwd, log } = await startClusterWide();
    api.createPod(namespace, 'lost');
    await sink.until(() => countOf(`${namespace}/lost:added`) === 1);
    sink.mode = 'reject';

    // Act
    await fwd.resync();
    await fwd.resyncSettled();

    // Assess
    expect(await counter(fwd.metrics.dropped, { cause: 'rejected' })).toBe(1);
    expect(sink.all.some((e) => e.reason === 'resync-complete')).toBe(false);
    expect(log.lines().some((l) => String(l.msg).includes('resync pass incomplete'))).toBe(true);
  });

  it('sends no resync-complete from a forwarder that watches only some namespaces', async () => {
    // Prepare: the marker would tell the server every pod of the cluster was in the pass.
    const { namespace, fwd, log } = await start();
    api.createPod(namespace, 'scoped');
    await sink.until(() => countOf(`${namespace}/scoped:added`) === 1);
    sink.all.length = 0;

    // Act
    const queued = await fwd.resync();
    await fwd.resyncSettled();

    // Assess: the pass itself is sent, its end is not, and the log says why.
    expect(queued).toBe(1);
    await sink.until(() => countOf(`${namespace}/scoped:resync`) === 1);
    expect(sink.all.some((e) => e.reason === 'resync-complete')).toBe(false);
    expect(log.lines().some((l) => String(l.msg).includes('watches only some namespaces'))).toBe(
      true,
    );
  });

  it('sends no resync-complete for a pass over a cache that is not listed and watched', async () => {
    // Prepare
    const { api, fwd } = await startClusterWide();
    api.unavailable = 503;
    api.dropWatches();
    await eventually(() => !fwd.ready());

    // Act
    await fwd.resync();
    await fwd.resyncSettled();
    api.unavailable = null;
    await eventually(() => fwd.ready());

    // Assess
    expect(sink.all.some((e) => e.reason === 'resync-complete')).toBe(false);
  });
});

describe('forwarder under the sink size limit', () => {
  it('splits a pod too large for one call into events of the same pod that carry every image', async () => {
    // Prepare: thirty containers of ~900-character image strings (under the 1,024 characters
    // past which an image is replaced by a short invalid marker) against a 16 KiB sink.
    const { namespace, fwd } = await start({}, { sinkMaxBatchBytes: 16 * 1024 });
    const containers = Array.from({ length: 30 }, (_, i) => ({
      name: `c${i}`,
      image: `registry.example.com/team/${String(i % 10).repeat(900)}:1`,
    }));
    containers.splice(3, 0, { name: 'miner', image: 'evil.example.com/x/miner:1' });

    // Act
    api.createPod(namespace, 'fat', containers);
    await sink.until(
      () =>
        sink.accepted
          .filter((e) => e.pod.metadata.name === 'fat')
          .flatMap((e) => e.pod.spec.containers).length === 31,
    );

    // Assess
    const parts = sink.accepted.filter((e) => e.pod.metadata.name === 'fat');
    expect(parts.length).toBeGreaterThan(1);
    expect(new Set(parts.map((e) => `${e.reason}/${e.pod.metadata.uid}`)).size).toBe(1);
    expect(
      parts
        .flatMap((e) => e.pod.spec.containers)
        .map((c) => c.image)
        .sort(),
    ).toEqual(containers.map((c) => c.image).sort());
    expect(await counter(fwd.metrics.eventsReduced, { how: 'split' })).toBe(1);
    expect(await counter(fwd.metrics.dropped)).toBe(0);
  });

  it('drops only a container that cannot fit even alone: counted, logged by name, on /metrics', async () => {
    // Prepare: a container name no sink call of 4 KiB can carry.
    const { namespace, fwd, log } = await start({}, { sinkMaxBatchBytes: 4 * 1024 });

    // Act
    api.createPod(namespace, 'hopeless', [
      { name: 'n'.repeat(6000), image: 'nginx:1.27' },
      { name: 'ok', image: 'evil.example.com/x/miner:1' },
    ]);
    await sink.until(() => countOf(`${namespace}/hopeless:added`) === 1);
    const metrics = await (await fetch(`http://127.0.0.1:${fwd.port}/metrics`)).text();

    // Assess
    const sent = sink.accepted.filter((e) => e.pod.metadata.name === 'hopeless');
    expect(sent.flatMap((e) => e.pod.spec.containers)).toEqual([
      { name: 'ok', image: 'evil.example.com/x/miner:1' },
    ]);
    expect(metrics).toMatch(/^regwatch_forwarder_containers_dropped_total 1$/m);
    expect(metrics).toMatch(/^regwatch_forwarder_events_dropped_total\{cause="too_large"\} 1$/m);
    const line = log.lines().find((l) => l.level === 'error' && String(l.msg).includes('left out'));
    expect(line).toMatchObject({ pod: `${namespace}/hopeless` });
  });
});

describe('forwarder shutdown', () => {
  it('exits on SIGTERM while its watch is open and idle, without waiting for the server to end it', async () => {
    // Prepare: an empty namespace, a long grace period and a long server-side watch timeout.
    const child = spawn(process.execPath, [path.join(root, 'forwarder/src/main.ts')], {
      env: {
        PATH: process.env.PATH,
        KUBECONFIG: kubeconfig,
        REGWATCH_CLUSTER: 'idle-test',
        REGWATCH_NAMESPACES: 'idle-empty',
        REGWATCH_SINK: sink.url,
        REGWATCH_SHUTDOWN_GRACE: '60s',
        REGWATCH_METRICS_PORT: '0',
        REGWATCH_METRICS_HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await eventually(() => stdout.includes('"watching pods"'));
    await eventually(() => api.openWatches > 0);

    // Act
    child.kill('SIGTERM');
    const code = await exited;

    // Assess: the server never closed the watch; the forwarder did, and left cleanly.
    expect(code).toBe(0);
    expect(stdout).toContain('"forwarder stopped"');
  }, 10_000);
});
