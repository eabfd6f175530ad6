import type { BufferedEvent } from '../buffer.ts';

/** What a sink did with a batch it reached. */
export interface SinkOutcome {
  /** Indices into the batch to send again (the sink refused them this time only). */
  retry: number[];
  /** Indices refused for good: bad input never becomes good, so they are dropped. */
  rejected: number[];
  /** Why, for the log. */
  detail?: string;
}

/** The whole call failed in a way that may pass later (network, 5xx, 408, 429, throttling). */
export class SinkUnavailableError extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SinkUnavailableError';
    this.retryAfterMs = retryAfterMs;
  }
}

export interface Sink {
  readonly kind: 'http' | 'eventbridge';
  readonly maxBatchEvents: number;
  /** Upper bound of one call, in `entrySize` units summed. */
  readonly maxBatchBytes: number;
  /** The largest event JSON (bytes) one call can carry: larger events are trimmed or split. */
  readonly maxEventBytes: number;
  entrySize(e: BufferedEvent): number;
  /** Resolves with the outcome, or rejects with `SinkUnavailableError`. */
  send(batch: readonly BufferedEvent[], signal: AbortSignal): Promise<SinkOutcome>;
}
