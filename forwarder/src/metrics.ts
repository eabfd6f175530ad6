/** Prometheus metrics on the forwarder's own registry (never the global one). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { METRIC_PREFIX as P } from './constants.ts';

export type DropCause =
  | 'buffer_full'
  | 'rejected'
  | 'too_large'
  | 'poison'
  | 'invalid'
  | 'shutdown';

export interface BufferStats {
  readonly size: number;
  readonly bytes: number;
}

/** `buffer` is read at scrape time for the buffered gauges; `cachedPods` for the cache gauge. */
export function createMetrics(buffer?: BufferStats, cachedPods?: () => number) {
  const registry = new Registry();
  const registers = [registry];
  const dropped = new Counter({
    name: `${P}events_dropped_total`,
    help: 'Pod events given up on, by cause (a later resync heals drops of running pods)',
    labelNames: ['cause'] as const,
    registers,
  });
  let droppedTotal = 0;
  return {
    registry,
    /** Counts dropped events; `droppedTotal` lets a resync pass see whether any were lost. */
    drop(cause: DropCause, n = 1): void {
      if (n <= 0) return;
      dropped.inc({ cause }, n);
      droppedTotal += n;
    },
    get droppedTotal(): number {
      return droppedTotal;
    },
    seen: new Counter({
      name: `${P}events_seen_total`,
      help: 'Pod events produced from the informer, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    sent: new Counter({
      name: `${P}events_sent_total`,
      help: 'Pod events the sink accepted',
      registers,
    }),
    retried: new Counter({
      name: `${P}events_retried_total`,
      help: 'Pod events sent again after a failed or partly failed sink call',
      registers,
    }),
    dropped,
    coalesced: new Counter({
      name: `${P}events_coalesced_total`,
      help: 'running events merged into a still-waiting event of the same pod (no room taken)',
      registers,
    }),
    containersDropped: new Counter({
      name: `${P}containers_dropped_total`,
      help: 'Containers left out of a pod event because even alone they exceed the sink limit',
      registers,
    }),
    eventsReduced: new Counter({
      name: `${P}events_reduced_total`,
      help: 'Pod events over the sink limit, by how they were made to fit (trimmed, split)',
      labelNames: ['how'] as const,
      registers,
    }),
    watchSkipped: new Counter({
      name: `${P}watch_events_skipped_total`,
      help: 'Watch events and list items skipped, by cause (null_object, malformed, unknown_type, line_too_long, item_too_large)',
      labelNames: ['cause'] as const,
      registers,
    }),
    cachedPods: new Gauge({
      name: `${P}cached_pods`,
      help: 'Pods held in the forwarder cache (trimmed)',
      registers,
      collect() {
        if (cachedPods) this.set(cachedPods());
      },
    }),
    bufferedEvents: new Gauge({
      name: `${P}buffered_events`,
      help: 'Pod events waiting to be sent',
      registers,
      collect() {
        if (buffer) this.set(buffer.size);
      },
    }),
    bufferedBytes: new Gauge({
      name: `${P}buffered_bytes`,
      help: 'Bytes of JSON of the pod events waiting to be sent',
      registers,
      collect() {
        if (buffer) this.set(buffer.bytes);
      },
    }),
    sinkLatency: new Histogram({
      name: `${P}sink_request_duration_seconds`,
      help: 'Duration of sink calls, by outcome',
      labelNames: ['outcome'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    watchRestarts: new Counter({
      name: `${P}watch_restarts_total`,
      help: 'Times the pod informer stopped on an error and was started again',
      registers,
    }),
    ready: new Gauge({
      name: `${P}ready`,
      help: '1 when every pod informer has listed and is watching',
      registers,
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
