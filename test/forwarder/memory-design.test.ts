/**
 * The forwarder's heap limit is small because the event buffer keeps its JSON outside the V8
 * heap (docs/performance.md "Forwarder"), and so does the pod cache. These run in a child
 * process with a heap far smaller than what they hold: held as heap strings or parsed objects,
 * it would die of heap exhaustion.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeApiServer, TOKEN } from './fake-apiserver.ts';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

describe('forwarder memory design', () => {
  it('holds a full 32 MiB event buffer outside a 16 MiB heap', async () => {
    // Prepare: 1,024 events of ~32 KiB (a pod with a long label) fill the default byte limit.
    const script = `
      import { EventBuffer } from ${JSON.stringify(path.join(root, 'forwarder/src/buffer.ts'))};
      const buffer = new EventBuffer({ maxEvents: 10_000, maxBytes: 32 * 1024 ** 2 });
      let accepted = 0;
      for (let i = 0; i < 1024; i++) {
        const pod = {
          metadata: { name: 'p' + i, namespace: 'n', uid: 'u' + i, labels: { l: String(i).padEnd(32_400, 'x') } },
          spec: { containers: [{ name: 'c', image: 'nginx:1.27' }] },
        };
        const r = buffer.push({ cluster: 'c', observedAt: '2026-01-01T00:00:00Z', reason: 'added', pod });
        if (r.accepted && r.evicted.length === 0) accepted++;
      }
      const first = JSON.parse([...buffer.take(1, Infinity, (e) => e.bytes)][0].json);
      process.stdout.write(JSON.stringify({ accepted, size: buffer.size, bytes: buffer.bytes, first: first.pod.metadata.name }));
    `;

    // Act
    const { stdout } = await run(
      process.execPath,
      ['--max-old-space-size=16', '--max-semi-space-size=1', '--input-type=module', '-e', script],
      { cwd: root, maxBuffer: 1024 * 1024 },
    );

    // Assess
    const out = JSON.parse(stdout) as {
      accepted: number;
      size: number;
      bytes: number;
      first: string;
    };
    expect(out.accepted).toBe(1024);
    expect(out.size).toBe(1024);
    expect(out.bytes).toBeGreaterThan(32 * 1024 ** 2 - 1024 * 1024);
    expect(out.first).toBe('p0');
  });

  describe('the pod cache', () => {
    const api = new FakeApiServer();
    const PODS = 1000;
    beforeAll(async () => {
      await api.start();
      // ~32 KiB of label per pod (labels survive trimming): 32 MiB cached in all.
      for (let i = 0; i < PODS; i++) {
        const pod = api.createPod('big', `p${i}`);
        pod.metadata.labels = { app: `p${i}`, note: String(i).padEnd(32_400, 'x') };
      }
    });
    afterAll(() => api.close());

    it('holds 1,000 listed pods of 32 KiB (32 MiB) outside a 16 MiB heap', async () => {
      // Prepare
      const src = (f: string) => JSON.stringify(path.join(root, 'forwarder/src', f));
      const script = `
        import { PodWatcher } from ${src('watcher.ts')};
        import { createLogger } from ${src('logger.ts')};
        import { createMetrics } from ${src('metrics.ts')};
        import { Writable } from 'node:stream';
        const quiet = new Writable({ write(_c, _e, cb) { cb(); } });
        let seen = 0;
        const watcher = new PodWatcher({
          kube: { server: ${JSON.stringify(`http://127.0.0.1:${api.port}`)},
                  prepare: async () => ({ headers: { authorization: 'Bearer ${TOKEN}' } }) },
          namespaces: [],
          onPod: () => { seen++; },
          logger: createLogger(quiet, 'error'),
          metrics: createMetrics(),
        });
        watcher.start();
        const deadline = Date.now() + 60_000;
        while (!(watcher.ready && watcher.size === ${PODS}) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
        }
        let labelBytes = 0;
        for (const pod of watcher.pods()) labelBytes += pod.metadata.labels.note.length;
        process.stdout.write(JSON.stringify({ size: watcher.size, seen, labelBytes }));
        watcher.stop();
        process.exit(0);
      `;

      // Act
      const { stdout } = await run(
        process.execPath,
        ['--max-old-space-size=16', '--max-semi-space-size=1', '--input-type=module', '-e', script],
        { cwd: root, maxBuffer: 1024 * 1024 },
      );

      // Assess
      const out = JSON.parse(stdout) as { size: number; seen: number; labelBytes: number };
      expect(out.size).toBe(PODS);
      expect(out.seen).toBe(PODS);
      expect(out.labelBytes).toBe(PODS * 32_400);
    }, 90_000);
  });
});
