/**
 * Moves events from the buffer to the sink: batches by count and time, one call in flight,
 * exponential backoff with jitter after failures, per-entry retries for partial failures.
 */
import { Backoff, sleep } from './backoff.ts';
import type { BufferedEvent, EventBuffer } from './buffer.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import { type Sink, SinkUnavailableError } from './sinks/types.ts';

export interface ShipperOptions {
  buffer: EventBuffer;
  sink: Sink;
  metrics: Metrics;
  logger: Logger;
  batchSize: number;
  batchWaitMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  maxEntryAttempts: number;
  now?: () => number;
  random?: () => number;
}

export class Shipper {
  readonly #o: ShipperOptions;
  readonly #backoff: Backoff;
  readonly #now: () => number;
  readonly #stop = new AbortController();
  #wake: (() => void) | null = null;
  #flushing = false;
  #loop: Promise<void> | null = null;
  #failing = false;

  constructor(opts: ShipperOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
    this.#backoff = new Backoff({
      baseMs: opts.retryBaseMs,
      maxMs: opts.retryMaxMs,
      ...(opts.random ? { random: opts.random } : {}),
    });
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Tells the loop new events are buffered. */
  notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  /**
   * Sends what is buffered without waiting for batches to fill, until the buffer is empty or
   * `timeoutMs` has passed; then stops. Resolves with the events left unsent (counted as
   * dropped at shutdown).
   */
  async flush(timeoutMs: number): Promise<number> {
    this.#flushing = true;
    this.start();
    this.notify();
    const deadline = this.#now() + timeoutMs;
    while (this.#o.buffer.size > 0 && this.#now() < deadline) {
      await sleep(Math.min(50, Math.max(1, deadline - this.#now())));
    }
    this.#stop.abort();
    this.notify();
    await this.#loop;
    const left = this.#o.buffer.size;
    if (left > 0) this.#o.metrics.drop('shutdown', left);
    return left;
  }

  #waitForWake(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      const onAbort = () => done();
      this.#stop.signal.addEventListener('abort', onAbort, { once: true });
      const self = this;
      function done() {
        if (timer) clearTimeout(timer);
        self.#stop.signal.removeEventListener('abort', onAbort);
        if (self.#wake === done) self.#wake = null;
        resolve();
      }
      this.#wake = done;
    });
  }

  async #run(): Promise<void> {
    const { buffer, sink, batchSize } = this.#o;
    const maxEvents = Math.min(batchSize, sink.maxBatchEvents);
    while (!this.#stop.signal.aborted) {
      const waiting = buffer.waiting();
      if (waiting === 0) {
        await this.#waitForWake();
        continue;
      }
      if (!this.#flushing && waiting < maxEvents) {
        const oldest = buffer.oldestWaitingSince() ?? this.#now();
        const due = oldest + this.#o.batchWaitMs - this.#now();
        if (due > 0) {
          await this.#waitForWake(due);
          continue;
        }
      }
      const batch = buffer.take(maxEvents, sink.maxBatchBytes, sink.entrySize);
      const first = batch[0];
      if (first && sink.entrySize(first) > sink.maxBatchBytes) {
        buffer.remove([first]);
        this.#o.metrics.drop('too_large');
        this.#o.logger.error('pod event larger than the sink accepts; dropped', {
          pod: podName(first),
          bytes: sink.entrySize(first),
          limit: sink.maxBatchBytes,
        });
        buffer.release(batch.slice(1));
        continue;
      }
      const delay = await this.#sendOnce(batch);
      if (delay > 0) await sleep(delay, this.#stop.signal);
    }
  }

  /** Events evicted from the buffer while their call was in flight, and that call failed. */
  #lostInFlight(n: number): void {
    if (n > 0) this.#o.metrics.drop('buffer_full', n);
  }

  /** One sink call; resolves with how long to wait before the next one. */
  async #sendOnce(batch: BufferedEvent[]): Promise<number> {
    const { buffer, sink, metrics, logger } = this.#o;
    const started = performance.now();
    try {
      const outcome = await sink.send(batch, this.#stop.signal);
      const seconds = (performance.now() - started) / 1000;
      const retrySet = new Set(outcome.retry);
      const rejectSet = new Set(outcome.rejected);
      metrics.sinkLatency.observe(
        { outcome: retrySet.size + rejectSet.size === 0 ? 'ok' : 'partial' },
        seconds,
      );
      const done: BufferedEvent[] = [];
      const again: BufferedEvent[] = [];
      let poisoned = 0;
      let evictedLost = 0;
      batch.forEach((e, i) => {
        if (rejectSet.has(i)) {
          done.push(e);
        } else if (retrySet.has(i)) {
          if (e.evicted) {
            evictedLost++;
            return;
          }
          e.attempts++;
          if (e.attempts >= this.#o.maxEntryAttempts) {
            poisoned++;
            done.push(e);
          } else {
            again.push(e);
          }
        } else {
          done.push(e);
        }
      });
      const sent = batch.length - retrySet.size - rejectSet.size;
      metrics.sent.inc(sent);
      this.#lostInFlight(evictedLost);
      if (rejectSet.size > 0) {
        metrics.drop('rejected', rejectSet.size);
        logger.error('sink refused pod events for good; dropped', {
          count: rejectSet.size,
          detail: outcome.detail,
        });
      }
      if (poisoned > 0) {
        metrics.drop('poison', poisoned);
        logger.error('sink kept refusing pod events; dropped', {
          count: poisoned,
          attempts: this.#o.maxEntryAttempts,
          detail: outcome.detail,
        });
      }
      buffer.remove(done);
      buffer.release(again);
      if (this.#failing) {
        this.#failing = false;
        logger.info('sink recovered', { buffered: buffer.size });
      }
      if (again.length > 0) {
        metrics.retried.inc(again.length);
        logger.warn('sink refused some pod events; retrying them', {
          count: again.length,
          detail: outcome.detail,
        });
        return this.#backoff.next();
      }
      this.#backoff.reset();
      return 0;
    } catch (err) {
      metrics.sinkLatency.observe({ outcome: 'error' }, (performance.now() - started) / 1000);
      buffer.release(batch);
      this.#lostInFlight(batch.filter((e) => e.evicted).length);
      if (this.#stop.signal.aborted) return 0;
      if (!(err instanceof SinkUnavailableError)) {
        logger.error('unexpected sink error', { err });
      }
      metrics.retried.inc(batch.filter((e) => !e.evicted).length);
      const retryAfter = err instanceof SinkUnavailableError ? err.retryAfterMs : undefined;
      const delay = this.#backoff.next(Math.min(retryAfter ?? 0, this.#o.retryMaxMs * 4));
      // One line per failure while it lasts would flood the log: warn on the first and then
      // on every tenth attempt.
      const attempt = this.#backoff.attempt;
      if (!this.#failing || attempt % 10 === 0) {
        logger.warn('sink unavailable; will retry', {
          err,
          attempt,
          retryInMs: delay,
          buffered: buffer.size,
        });
      }
      this.#failing = true;
      return delay;
    }
  }
}

function podName(e: BufferedEvent): string {
  const ev = e.event;
  return 'pod' in ev ? `${ev.pod.metadata.namespace}/${ev.pod.metadata.name}` : `(${ev.reason})`;
}
