/**
 * The forwarder assembled: informers → pod events → bounded buffer → shipper → sink, with
 * periodic resync and a probe/metrics server. Used by the container entry (`main.ts`) and by
 * `regwatch forward`.
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KubeConfig, type V1Pod } from '@kubernetes/client-node';
import {
  isPodSighting,
  type PodEvent,
  podEventSchema,
  trimPod,
} from '../../lambdas/core/kube/pod-event.ts';
import type { PodSightingReason } from '../../lambdas/core/types.ts';
import { EventBuffer } from './buffer.ts';
import type { ForwarderConfig } from './config.ts';
import type { Logger } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { type ProbeServer, startProbeServer } from './server.ts';
import { Shipper } from './shipper.ts';
import { createEventBridgeSink } from './sinks/eventbridge.ts';
import { createHttpSink } from './sinks/http.ts';
import type { Sink } from './sinks/types.ts';
import { PodWatcher } from './watcher.ts';

export interface ForwarderDeps {
  config: ForwarderConfig;
  logger: Logger;
  /** Defaults to `config.kubeconfig`, else client-node's default (KUBECONFIG, ~/.kube, in-cluster). */
  kubeConfig?: KubeConfig;
  /** Defaults to the sink `config.sink` names. */
  sink?: Sink;
  /** Tests shorten the informer's restart and reconnect delays. */
  watch?: {
    restartBaseMs?: number;
    restartMaxMs?: number;
    pageSize?: number;
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
  /** Re-sends every pod that has not finished; resolves with how many were queued. */
  resync(): Promise<number>;
  /** Stops watching, sends what is buffered within the grace period, closes the server. */
  shutdown(): Promise<{ unsent: number }>;
}

const FINISHED = new Set(['Succeeded', 'Failed']);

export function buildSink(config: ForwarderConfig): Sink {
  if (config.sink.kind === 'http') {
    return createHttpSink({ url: config.sink.url, token: config.sink.token });
  }
  return createEventBridgeSink({
    client: new EventBridgeClient({}),
    eventBusName: config.sink.eventBusName,
  });
}

export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

export async function startForwarder(deps: ForwarderDeps): Promise<Forwarder> {
  const { config, logger } = deps;
  const clock = deps.clock ?? (() => new Date());
  const buffer = new EventBuffer({
    maxEvents: config.bufferMaxEvents,
    maxBytes: config.bufferMaxBytes,
  });
  const metrics = createMetrics(buffer);
  const sink = deps.sink ?? buildSink(config);
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

  const toEvent = (pod: V1Pod, reason: PodSightingReason): PodEvent | null => {
    const event = {
      cluster: config.cluster,
      observedAt: clock().toISOString(),
      reason,
      pod: trimPod(pod),
    };
    const checked = podEventSchema.safeParse(event);
    if (checked.success && isPodSighting(checked.data)) return checked.data;
    metrics.dropped.inc({ cause: 'invalid' });
    logger.error('pod does not make a valid pod event; skipped', {
      pod: `${pod.metadata?.namespace ?? '?'}/${pod.metadata?.name ?? '?'}`,
      issues: (checked.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`),
    });
    return null;
  };

  const enqueue = (event: PodEvent): void => {
    metrics.seen.inc({ reason: event.reason });
    const { accepted, evicted } = buffer.push(event);
    // Evicted events in a sink call are counted by the shipper if that call fails.
    const lost = evicted.filter((e) => !e.inFlight).length + (accepted ? 0 : 1);
    if (evicted.length > 0 || !accepted) {
      metrics.dropped.inc({ cause: 'buffer_full' }, lost);
      const now = Date.now();
      // At most one line a second: a full buffer drops on every new event.
      if (now - lastBufferFullLog >= 1_000) {
        lastBufferFullLog = now;
        logger.warn('buffer full; dropped the oldest pod events (resync re-sends running pods)', {
          dropped: evicted.length + (accepted ? 0 : 1),
          droppedReasons: [...new Set(evicted.map((e) => e.event.reason))],
          bufferedEvents: buffer.size,
          bufferedBytes: buffer.bytes,
        });
      }
    }
    shipper.notify();
  };

  const kubeConfig = deps.kubeConfig ?? loadKubeConfig(config.kubeconfig);
  const watcher = new PodWatcher({
    kubeConfig,
    namespaces: config.namespaces,
    logger,
    metrics,
    ...deps.watch,
    onPod: (pod, change) => {
      const event = toEvent(pod, change);
      if (event) enqueue(event);
    },
  });

  let resyncing: Promise<number> | null = null;
  let stopping = false;
  const resync = (): Promise<number> => {
    resyncing ??= (async () => {
      let queued = 0;
      try {
        for (const pod of watcher.pods()) {
          if (stopping) break;
          if (FINISHED.has(pod.status?.phase ?? '')) continue;
          // Resync waits for room rather than evicting: it must not push out fresher events.
          await buffer.whenNotFull();
          if (stopping) break;
          const event = toEvent(pod, 'resync');
          if (event) {
            enqueue(event);
            queued++;
          }
        }
        logger.info('resync queued', { pods: queued });
        return queued;
      } finally {
        resyncing = null;
      }
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
