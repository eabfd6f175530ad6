import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBuffer } from '../../forwarder/src/buffer.ts';
import {
  EVENT_DETAIL_TYPE,
  EVENT_SOURCE,
  PUT_EVENTS_MAX_BYTES,
} from '../../forwarder/src/constants.ts';
import { createMetrics } from '../../forwarder/src/metrics.ts';
import { Shipper } from '../../forwarder/src/shipper.ts';
import { createEventBridgeSink } from '../../forwarder/src/sinks/eventbridge.ts';
import { type PodEvent, podEventSchema } from '../../lambdas/core/kube/pod-event.ts';
import { eventually } from './fake-sink.ts';
import { counter, memoryLogger } from './helpers.ts';

const eb = mockClient(EventBridgeClient);
afterEach(() => eb.reset());

function event(i: number, labelBytes = 0): PodEvent {
  return {
    cluster: 'prod',
    observedAt: '2026-03-04T05:06:07.000Z',
    reason: 'added',
    pod: {
      metadata: {
        name: `p${i}`,
        namespace: 'apps',
        uid: `u${i}`,
        ...(labelBytes ? { labels: { big: 'x'.repeat(labelBytes) } } : {}),
      },
      spec: { containers: [{ name: 'app', image: 'ghcr.io/acme/app:1' }] },
    },
  };
}

function setup(events: PodEvent[]) {
  const buffer = new EventBuffer({ maxEvents: 10_000, maxBytes: 64 * 1024 * 1024 });
  const metrics = createMetrics(buffer);
  const sink = createEventBridgeSink({
    client: new EventBridgeClient({ region: 'eu-west-1' }),
    eventBusName: 'regwatch-bus',
  });
  const shipper = new Shipper({
    buffer,
    sink,
    metrics,
    logger: memoryLogger().logger,
    batchSize: 10,
    batchWaitMs: 5,
    retryBaseMs: 5,
    retryMaxMs: 20,
    maxEntryAttempts: 3,
  });
  for (const e of events) buffer.push(e);
  shipper.start();
  shipper.notify();
  return { buffer, metrics, shipper };
}

type Entry = { Source?: string; DetailType?: string; Detail?: string; EventBusName?: string };
const callEntries = () =>
  eb.commandCalls(PutEventsCommand).map((c) => (c.args[0].input.Entries ?? []) as Entry[]);

describe('EventBridge sink', () => {
  it('puts at most 10 entries per call and retries only the entries a partial failure names', async () => {
    // Prepare
    eb.on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 2,
        Entries: Array.from({ length: 10 }, (_, i) =>
          i === 3 || i === 7
            ? { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' }
            : { EventId: `e${i}` },
        ),
      })
      .callsFake((input: { Entries: unknown[] }) => ({
        FailedEntryCount: 0,
        Entries: input.Entries.map((_, i) => ({ EventId: `ok${i}` })),
      }));
    const events = Array.from({ length: 25 }, (_, i) => event(i));

    // Act
    const { buffer, metrics, shipper } = setup(events);
    await eventually(() => buffer.size === 0);
    await shipper.flush(1_000);

    // Assess
    const calls = callEntries();
    for (const entries of calls) expect(entries.length).toBeLessThanOrEqual(10);
    const all = calls.flat();
    for (const e of all) {
      expect(e).toMatchObject({
        Source: EVENT_SOURCE,
        DetailType: EVENT_DETAIL_TYPE,
        EventBusName: 'regwatch-bus',
      });
      expect(podEventSchema.safeParse(JSON.parse(e.Detail ?? '')).success).toBe(true);
    }
    const names = all.map((e) => (JSON.parse(e.Detail ?? '') as PodEvent).pod.metadata.name);
    expect(names).toHaveLength(27);
    expect(names.filter((n) => n === 'p3')).toHaveLength(2);
    expect(names.filter((n) => n === 'p7')).toHaveLength(2);
    expect(new Set(names).size).toBe(25);
    const retriedCall = calls[1] ?? [];
    expect(
      retriedCall.slice(0, 2).map((e) => JSON.parse(e.Detail ?? '').pod.metadata.name),
    ).toEqual(['p3', 'p7']);
    expect(await counter(metrics.sent)).toBe(25);
    expect(await counter(metrics.retried)).toBe(2);
  });

  it('keeps each call under 256 KB when events are large', async () => {
    // Prepare
    eb.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => ({
      FailedEntryCount: 0,
      Entries: input.Entries.map(() => ({ EventId: 'x' })),
    }));

    // Act
    const { buffer, shipper } = setup(Array.from({ length: 12 }, (_, i) => event(i, 60_000)));
    await eventually(() => buffer.size === 0);
    await shipper.flush(1_000);

    // Assess
    const calls = callEntries();
    expect(calls.flat()).toHaveLength(12);
    for (const entries of calls) {
      const bytes = entries.reduce(
        (a, e) =>
          a +
          Buffer.byteLength(e.Source ?? '') +
          Buffer.byteLength(e.DetailType ?? '') +
          Buffer.byteLength(e.Detail ?? '') +
          14,
        0,
      );
      expect(bytes).toBeLessThanOrEqual(PUT_EVENTS_MAX_BYTES);
      expect(entries.length).toBeLessThan(10);
    }
  });

  it('retries a whole call that fails, and drops an entry refused on its own too often', async () => {
    // Prepare
    eb.on(PutEventsCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))
      .callsFake((input: { Entries: { Detail: string }[] }) => {
        const entries = input.Entries.map((e) =>
          JSON.parse(e.Detail).pod.metadata.name === 'p1'
            ? { ErrorCode: 'InternalFailure', ErrorMessage: 'no' }
            : { EventId: 'x' },
        );
        return {
          FailedEntryCount: entries.filter((e) => 'ErrorCode' in e).length,
          Entries: entries,
        };
      });

    // Act
    const { buffer, metrics, shipper } = setup([event(0), event(1), event(2)]);
    await eventually(() => buffer.size === 0);
    await shipper.flush(1_000);

    // Assess
    expect(await counter(metrics.sent)).toBe(2);
    expect(await counter(metrics.dropped, { cause: 'poison' })).toBe(1);
    // 1 failed call, then p1 tried 3 times in all.
    expect(callEntries()).toHaveLength(4);
  });
});
