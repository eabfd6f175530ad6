/**
 * The `eventbridge` sink: PutEvents to the regwatch bus. Credentials come from the client's
 * default chain (IRSA web identity or EKS Pod Identity in a cluster). Calls carry at most 10
 * entries and 256 KB; only the entries that a partial failure names are retried.
 */
import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandOutput,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import type { BufferedEvent } from '../buffer.ts';
import {
  EVENT_DETAIL_TYPE,
  EVENT_SOURCE,
  PUT_EVENTS_MAX_BYTES,
  PUT_EVENTS_MAX_ENTRIES,
} from '../constants.ts';
import { type Sink, type SinkOutcome, SinkUnavailableError } from './types.ts';

/**
 * A client with the default credential chain and region (IRSA, EKS Pod Identity). Made here,
 * not by the caller: this module is loaded lazily as a whole, and a named import of the
 * CommonJS SDK resolves only in a static import of the bundle.
 */
export function defaultEventBridgeClient(): EventBridgeClient {
  return new EventBridgeClient({});
}

export interface EventBridgeSinkOptions {
  client: EventBridgeClient;
  eventBusName: string;
}

const FIXED_BYTES = Buffer.byteLength(EVENT_SOURCE) + Buffer.byteLength(EVENT_DETAIL_TYPE);

/** The entry PutEvents gets for one pod event. */
export function toEntry(e: BufferedEvent, eventBusName: string): PutEventsRequestEntry {
  return {
    Source: EVENT_SOURCE,
    DetailType: EVENT_DETAIL_TYPE,
    Detail: e.json,
    EventBusName: eventBusName,
    Time: new Date(e.event.observedAt),
  };
}

export function createEventBridgeSink(opts: EventBridgeSinkOptions): Sink {
  // AWS counts Source, DetailType and Detail in UTF-8 and 14 bytes for Time; the bus name
  // is added too so a batch never trips the limit on a rounding difference.
  const busBytes = Buffer.byteLength(opts.eventBusName);
  return {
    kind: 'eventbridge',
    maxBatchEvents: PUT_EVENTS_MAX_ENTRIES,
    maxBatchBytes: PUT_EVENTS_MAX_BYTES,
    maxEventBytes: PUT_EVENTS_MAX_BYTES - (FIXED_BYTES + 14 + busBytes),
    entrySize: (e) => FIXED_BYTES + e.bytes + 14 + busBytes,
    async send(batch: readonly BufferedEvent[], signal: AbortSignal): Promise<SinkOutcome> {
      let out: PutEventsCommandOutput;
      try {
        out = await opts.client.send(
          new PutEventsCommand({ Entries: batch.map((e) => toEntry(e, opts.eventBusName)) }),
          { abortSignal: signal },
        );
      } catch (err) {
        const name = err instanceof Error ? err.name : 'error';
        const msg = err instanceof Error ? err.message : String(err);
        throw new SinkUnavailableError(`PutEvents failed (${name}: ${msg})`, undefined, {
          cause: err,
        });
      }
      const failed = out.FailedEntryCount ?? 0;
      if (failed === 0) return { retry: [], rejected: [] };
      const retry: number[] = [];
      const codes = new Set<string>();
      (out.Entries ?? []).forEach((entry, i) => {
        if (entry.ErrorCode) {
          retry.push(i);
          codes.add(entry.ErrorCode);
        }
      });
      // A count without per-entry codes cannot say which failed: send them all again.
      if (retry.length === 0) return { retry: batch.map((_, i) => i), rejected: [] };
      return { retry, rejected: [], detail: `PutEvents refused entries: ${[...codes].join(', ')}` };
    },
  };
}
