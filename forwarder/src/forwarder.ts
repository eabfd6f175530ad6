/**
 * The forwarder assembled: pod list/watch → pod events (fitted to the sink's size limit) → bounded buffer → shipper → sink, with
 * periodic resync and a probe/metrics server. Used by the container entry (`main.ts`) and by
 * `regwatch forward`.
 */
import { randomUUID } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { type AnyPodEvent, podEventSchema } from '../../lambdas/core/kube/pod-event.ts';
import { sleep } from './backoff.ts';
import { EventBuffer } from './buffer.ts';
import type { ForwarderConfig } from './config.ts';
import { type FittableEvent, fitEvent } from './fit.ts';
import { type KubeAccess, kubeConfigAccess, loadKubeAccess } from './kube-access.ts';
import type { Logger } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { type ProbeServer, startProbeServer } from './server.ts';
import { Shipper } from './shipper.ts';
import { createHttpSink } from './sinks/http.ts';
import type { Sink } from './sinks/types.ts';
import { PodWatcher } from './watcher.ts';

export interface ForwarderDeps {
  config: ForwarderConfig;
  logger: Logger;
  /** Defaults to `config.kubeconfig`, else KUBECONFIG, ~/.kube/config, in-cluster (`loadKubeAccess`). */
  kubeConfig?: KubeConfig;
  /** Takes precedence over `kubeConfig`. */
  kube?: KubeAccess;
  /** Defaults to the sink `config.sink` names. */
  sink?: Sink;
  /** Tests shorten the list/watch restart and reconnect delays and bounds. */
  watch?: {
    restartBaseMs?: number;
    restartMaxMs?: number;
    pageSize?: number;
    maxLineBytes?: number;
    watchTimeoutSeconds?: number;
    reconnectDelay?: (ms: number) => Promise<void>;
  };
  /** Set false to skip the probe/metrics server. */
  serve?: boolean;
  clock?: () => Date;
  random?: () => number;
}

export interface Forwarder {
  readonly metrics: Metrics;
  readonly buffer: EventBuffer;
  /** The probe/metrics port, or null when not served. */
  readonly port: number | null;
  ready(): boolean;
  /**
   * Re-sends every pod that has not finished, all with one `resyncId`; resolves with how many
   * pods were queued. Once every one of them has left the buffer with none lost, a
   * `resync-complete` with that id follows (a pass that lost events sends none).
   */
  resync(): Promise<number>;
  /** Resolves when the current pass (if any) has sent its `resync-complete` or given up. */
  resyncSettled(): Promise<void>;
  /** Stops watching, sends what is buffered within the grace period, closes the server. */
  shutdown(): Promise<{ unsent: number }>;
}

const FINISHED = new Set(['Succeeded', 'Failed']);

/** The sink `config.sink` names; the AWS SDK is loaded only for the eventbridge sink. */
export async function buildSink(config: ForwarderConfig): Promise<Sink> {
  if (config.sink.kind === 'http') {
    return createHttpSink({ url: config.sink.url, token: config.sink.token });
  }
  const { createEventBridgeSink, defaultEventBridgeClient } = await import(
    './sinks/eventbridge.ts'
  );
  return createEventBridgeSink({
    client: defaultEventBridgeClient(),
    eventBusName: config.sink.eventBusName,
  });
}

export async function startForwarder(deps: ForwarderDeps): Promise<Forwarder> {
  const { config, logger } = deps;
  const clock = deps.clock ?? (() => new Date());
  const buffer = new EventBuffer({
    maxEvents: config.bufferMaxEvents,
    maxBytes: config.bufferMaxBytes,
  });
  let cached = () => 0;
  const metrics = createMetrics(buffer, () => cached());
  const sink = deps.sink ?? (await buildSink(config));
  const shipper = new Shipper({
    buffer,
    sink,
    metrics,
    logger,
    batchSize: config.batchSize,
    batchWaitMs: config.batchWaitMs,
    retryBaseMs: config.retryBaseMs,
    retryMaxMs: config.retryMaxMs,
    maxEntryAttempts: config.maxEntryAttempts,
    ...(deps.random ? { random: deps.random } : {}),
  });
  let lastBufferFullLog = 0;

  const sinkMaxEventBytes = Math.min(sink.maxEventBytes, config.bufferMaxBytes);

  /** The pod's event(s), fitted to the sink's limit; containers that cannot fit are reported. */
  const toEvents = (event: FittableEvent): AnyPodEvent[] => {
    const name = `${event.pod.metadata.namespace}/${event.pod.metadata.name}`;
    const fit = fitEvent(event, sinkMaxEventBytes);
    if (fit.reduced) {
      metrics.eventsReduced.inc({ how: fit.events.length > 1 ? 'split' : 'trimmed' });
      logger.info('pod event over the sink limit; trimmed to fit', {
        pod: name,
        events: fit.events.length,
        limit: sinkMaxEventBytes,
      });
    }
    if (fit.dropped.length > 0) {
      metrics.containersDropped.inc(fit.dropped.length);
      metrics.drop('too_large');
      logger.error('container larger than the sink accepts even alone; left out of the pod event', {
        pod: name,
        containers: fit.dropped.map((d) => `${d.kind}/${d.name.slice(0, 253)}`),
        bytes: fit.dropped.map((d) => d.bytes),
        limit: sinkMaxEventBytes,
      });
    }
    const out: AnyPodEvent[] = [];
    for (const e of fit.events) {
      const checked = podEventSchema.safeParse(e);
      if (checked.success) {
        out.push(checked.data);
        continue;
      }
      metrics.drop('invalid');
      logger.error('pod does not make a valid pod event; skipped', {
        pod: name,
        issues: checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
      });
    }
    return out;
  };

  const base = () => ({ cluster: config.cluster, observedAt: clock().toISOString() });

  const enqueue = (event: AnyPodEvent, whole = false): void => {
    metrics.seen.inc({ reason: event.reason });
    const { accepted, evicted, coalesced } = buffer.push(event, { coalesce: whole });
    if (coalesced) {
      metrics.coalesced.inc();
      shipper.notify();
      return;
    }
    // Evicted events in a sink call are counted by the shipper if that call fails.
    const lost = evicted.filter((e) => !e.inFlight).length + (accepted ? 0 : 1);
    if (evicted.length > 0 || !accepted) {
      metrics.drop('buffer_full', lost);
      const now = Date.now();
      // At most one line a second: a full buffer drops on every new event.
      if (now - lastBufferFullLog >= 1_000) {
        lastBufferFullLog = now;
        logger.warn('buffer full; dropped the oldest pod events (resync re-sends running pods)', {
          dropped: evicted.length + (accepted ? 0 : 1),
          droppedReasons: [...new Set(evicted.map((e) => e.reason))],
          bufferedEvents: buffer.size,
          bufferedBytes: buffer.bytes,
        });
      }
    }
    shipper.notify();
  };

  const kube =
    deps.kube ??
    (deps.kubeConfig
      ? await kubeConfigAccess(deps.kubeConfig)
      : await loadKubeAccess(config.kubeconfig));
  const watcher = new PodWatcher({
    kube,
    namespaces: config.namespaces,
    logger,
    metrics,
    ...deps.watch,
    onPod: (pod, reason) => {
      const events = toEvents({ ...base(), reason, pod });
      for (const event of events) enqueue(event, events.length === 1);
    },
  });
  cached = () => watcher.size;

  let resyncing: Promise<number> | null = null;
  let settling: Promise<void> = Promise.resolve();
  let stopping = false;
  const resync = (): Promise<number> => {
    resyncing ??= (async () => {
      const resyncId = randomUUID();
      const droppedBefore = metrics.droppedTotal;
      let queued = 0;
      // A cache not fully listed and watched is no full pass: no resync-complete for it.
      let complete = watcher.ready;
      try {
        for (const pod of watcher.pods()) {
          if (stopping) break;
          if (FINISHED.has(pod.status?.phase ?? '')) continue;
          // Resync waits for room rather than evicting: it must not push out fresher events.
          await buffer.whenNotFull();
          if (stopping) break;
          const events = toEvents({ ...base(), reason: 'resync', resyncId, pod });
          if (events.length === 0) complete = false;
          for (const event of events) enqueue(event);
          queued++;
        }
        logger.info('resync queued', { pods: queued, resyncId });
      } catch (err) {
        resyncing = null;
        throw err;
      }
      const lastSeq = buffer.lastSeq;
      settling = (async () => {
        try {
          // The pass is complete once all of its events have left the buffer, none lost.
          while (!stopping && buffer.holdsUpTo(lastSeq)) await sleep(50);
          if (stopping) return;
          // The marker means "every pod of the cluster was in this pass": a forwarder told to
          // watch some namespaces cannot say that, and a server would prune what it never saw
          // (another forwarder's namespaces, or ones dropped from REGWATCH_NAMESPACES).
          if (config.namespaces.length > 0) {
            logger.info(
              'resync pass sent; no resync-complete: this forwarder watches only some namespaces',
              { resyncId, namespaces: config.namespaces },
            );
            return;
          }
          if (!complete || !watcher.ready || metrics.droppedTotal !== droppedBefore) {
            logger.warn(
              'resync pass incomplete (events lost or not watching); no resync-complete',
              {
                resyncId,
              },
            );
            return;
          }
          enqueue({ ...base(), reason: 'resync-complete', resyncId });
        } finally {
          resyncing = null;
        }
      })();
      return queued;
    })();
    return resyncing;
  };

  let probe: ProbeServer | null = null;
  if (deps.serve !== false) {
    probe = await startProbeServer({
      host: config.metricsHost,
      port: config.metricsPort,
      registry: metrics.registry,
      ready: () => watcher.ready,
      live: () => true,
    });
  }
  shipper.start();
  watcher.start();
  const resyncTimer =
    config.resyncMs > 0
      ? setInterval(() => {
          // A resync still waiting for room (sink down) is not doubled up.
          if (!resyncing && watcher.ready) void resync();
        }, config.resyncMs)
      : undefined;
  logger.info('forwarder started', {
    cluster: config.cluster,
    namespaces: config.namespaces.length > 0 ? config.namespaces : '*',
    sink: config.sink.kind === 'http' ? redactUrl(config.sink.url) : config.sink.eventBusName,
    sinkKind: config.sink.kind,
    resyncMs: config.resyncMs,
    metricsPort: probe?.port ?? null,
  });

  let shutdownPromise: Promise<{ unsent: number }> | null = null;
  return {
    metrics,
    buffer,
    port: probe?.port ?? null,
    ready: () => watcher.ready,
    resync,
    resyncSettled: () => settling,
    shutdown() {
      shutdownPromise ??= (async () => {
        stopping = true;
        clearInterval(resyncTimer);
        buffer.wakeAll();
        await watcher.stop();
        const started = Date.now();
        const unsent = await shipper.flush(config.shutdownGraceMs);
        if (unsent > 0) {
          logger.error('shutdown grace period ended with pod events unsent', { unsent });
        }
        logger.info('forwarder stopped', { unsent, flushMs: Date.now() - started });
        await probe?.close();
        return { unsent };
      })();
      return shutdownPromise;
    },
  };
}

/** Drops credentials and query strings from a URL before it is logged. */
function redactUrl(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  u.search = '';
  return u.toString();
}
