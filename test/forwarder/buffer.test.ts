import { describe, expect, it } from 'vitest';
import { EventBuffer } from '../../forwarder/src/buffer.ts';
import type { AnyPodEvent, PodEvent } from '../../lambdas/core/kube/pod-event.ts';

function event(name: string, reason: PodEvent['reason'], padding = 0): PodEvent {
  return {
    cluster: 'c',
    observedAt: '2026-01-01T00:00:00.000Z',
    reason,
    pod: {
      metadata: {
        name,
        namespace: 'ns',
        uid: `uid-${name}`,
        ...(padding > 0 ? { labels: { pad: 'x'.repeat(padding) } } : {}),
      },
      spec: { containers: [{ name: 'app', image: 'nginx' }] },
    },
  };
}

const nameOf = (e: AnyPodEvent) => ('pod' in e ? e.pod.metadata.name : e.reason);

const names = (b: EventBuffer) =>
  b.take(1000, Number.MAX_SAFE_INTEGER, () => 1).map((e) => nameOf(e.event));

describe('EventBuffer', () => {
  it('evicts the oldest non-added events first, then the oldest added', () => {
    // Prepare
    const b = new EventBuffer({ maxEvents: 4, maxBytes: 1 << 20 });
    b.push(event('a1', 'added'));
    b.push(event('r1', 'running'));
    b.push(event('a2', 'added'));
    b.push(event('s1', 'resync'));

    // Act
    const first = b.push(event('a3', 'added'));
    const second = b.push(event('a4', 'added'));
    const third = b.push(event('a5', 'added'));

    // Assess
    expect(first.evicted.map((e) => nameOf(e.event))).toEqual(['r1']);
    expect(second.evicted.map((e) => nameOf(e.event))).toEqual(['s1']);
    expect(third.evicted.map((e) => nameOf(e.event))).toEqual(['a1']);
    expect(names(b)).toEqual(['a2', 'a3', 'a4', 'a5']);
  });

  it('keeps bytes under the limit however many events arrive, and refuses one bigger than it', () => {
    // Prepare
    const b = new EventBuffer({ maxEvents: 1_000_000, maxBytes: 64 * 1024 });
    let peak = 0;

    // Act
    for (let i = 0; i < 5_000; i++) {
      b.push(event(`p${i}`, i % 3 === 0 ? 'added' : 'running', 200));
      peak = Math.max(peak, b.bytes);
    }
    const huge = b.push(event('huge', 'added', 70 * 1024));

    // Assess
    expect(peak).toBeLessThanOrEqual(64 * 1024);
    expect(b.size).toBeGreaterThan(100);
    expect(huge.accepted).toBe(false);
    const held = b.take(1_000_000, Number.MAX_SAFE_INTEGER, () => 1);
    expect(held.reduce((a, e) => a + e.bytes, 0)).toBe(b.bytes);
  });

  it('evicts an event in flight only when nothing else can go, and marks it so the sender can count it if its call fails', () => {
    // Prepare
    const b = new EventBuffer({ maxEvents: 2, maxBytes: 1 << 20 });
    b.push(event('r1', 'running'));
    b.push(event('r2', 'running'));
    const batch = b.take(2, 1 << 20, (e) => e.bytes);

    // Act
    const pushed = b.push(event('a1', 'added'));

    // Assess
    expect(pushed.evicted).toHaveLength(1);
    expect(pushed.evicted[0]?.inFlight).toBe(true);
    expect(batch[0]?.evicted).toBe(true);
    expect(batch[1]?.evicted).toBe(false);
    expect(names(b)).toEqual(['a1']);
    expect(b.size).toBe(2);
  });

  it('takes batches within the byte budget but always at least one event', () => {
    // Prepare
    const b = new EventBuffer({ maxEvents: 100, maxBytes: 1 << 20 });
    for (let i = 0; i < 5; i++) b.push(event(`p${i}`, 'added'));

    // Act
    const one = b.take(10, 1, (e) => e.bytes);
    const rest = b.take(10, 1 << 20, (e) => e.bytes);

    // Assess
    expect(one).toHaveLength(1);
    expect(rest).toHaveLength(4);
    expect(b.waiting()).toBe(0);
  });

  it("merges a running into its pod's waiting added (no room taken), never into one in flight or into a part", () => {
    // Prepare
    const b = new EventBuffer({ maxEvents: 2, maxBytes: 1 << 20 });
    b.push(event('a', 'added'), { coalesce: true });
    b.push(event('b', 'added'), { coalesce: true });
    const running = event('a', 'running');
    if ('pod' in running)
      running.pod.spec.containers = [{ name: 'app', image: `nginx@sha256:${'e'.repeat(64)}` }];

    // Act
    const merged = b.push(running, { coalesce: true });
    const [inFlight] = b.take(1, Number.MAX_SAFE_INTEGER, () => 1);
    const again = b.push(event('a', 'running'), { coalesce: true });
    const part = b.push(event('b', 'running'), { coalesce: false });

    // Assess
    expect(merged).toEqual({ accepted: true, evicted: [], coalesced: true });
    expect(inFlight?.event.reason).toBe('added');
    expect(inFlight?.json).toContain('e'.repeat(64));
    expect(again.coalesced).toBeUndefined();
    expect(part.coalesced).toBeUndefined();
    expect(b.size).toBe(2);
  });
});
