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

/** `buffer` is read at scrape time for the buffered gauges. */
export function createMetrics(buffer?: BufferStats) {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
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
    dropped: new Counter({
      name: `${P}events_dropped_total`,
      help: 'Pod events given up on, by cause (a later resync heals drops of running pods)',
      labelNames: ['cause'] as const,
      registers,
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
