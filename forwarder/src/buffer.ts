/**
 * The bounded buffer between the informer and the sink. Memory stays flat while the sink is
 * down: it holds at most `maxEvents` events and `maxBytes` bytes of JSON. When full, the
 * oldest event that is not an `added` goes first (a later resync re-sends running pods, while
 * an `added` of a short-lived pod may be the only trace of it); only when every event is an
 * `added` does the oldest `added` go. An event in a sink call still counts against the
 * limits and may be evicted: if that call then fails, the sender counts it as dropped.
 */
import type { AnyPodEvent } from '../../lambdas/core/kube/pod-event.ts';

export interface BufferedEvent {
  readonly seq: number;
  /** The event, parsed again from `json` on each read: only the JSON is held in memory. */
  readonly event: AnyPodEvent;
  readonly reason: AnyPodEvent['reason'];
  /** The pod's uid, or null for an event without a pod. */
  readonly uid: string | null;
  /** The event as JSON, serialised once (decoded again on each read). */
  readonly json: string;
  /** UTF-8 length of `json`. */
  readonly bytes: number;
  readonly enqueuedAt: number;
  /** Times the sink refused this entry alone (partial failures). */
  attempts: number;
  /** Taken by the sender for a call that has not finished. */
  inFlight: boolean;
  /** Pushed out of the buffer to make room; if in flight, the sender decides if it was lost. */
  evicted: boolean;
}

export interface BufferLimits {
  maxEvents: number;
  maxBytes: number;
}

export interface PushResult {
  accepted: boolean;
  evicted: BufferedEvent[];
  /** Merged into a waiting event of the same pod instead of taking a place of its own. */
  coalesced?: boolean;
}

/**
 * A buffered event as UTF-8 JSON outside the V8 heap plus the few fields the buffer and the
 * sinks read. Off the heap because a full buffer (32 MiB by default) would otherwise have to
 * fit under the heap limit beside the pod cache, and the heap limit is what bounds RSS during
 * a burst (V8 lets garbage grow to it): with the bytes here the limit can stay small. Parsed
 * objects would cost several times their JSON.
 */
class Entry implements BufferedEvent {
  readonly seq: number;
  /** Its own allocation (not a slice of Node's shared pool, which one entry would pin). */
  readonly #data: Buffer;
  readonly enqueuedAt: number;
  readonly reason: AnyPodEvent['reason'];
  readonly uid: string | null;
  attempts = 0;
  inFlight = false;
  evicted = false;
  constructor(seq: number, event: AnyPodEvent, json: string, bytes: number, enqueuedAt: number) {
    this.seq = seq;
    this.#data = Buffer.allocUnsafeSlow(bytes);
    this.#data.write(json, 'utf8');
    this.enqueuedAt = enqueuedAt;
    this.reason = event.reason;
    this.uid = 'pod' in event ? event.pod.metadata.uid : null;
  }
  get bytes(): number {
    return this.#data.length;
  }
  get json(): string {
    return this.#data.toString('utf8');
  }
  get event(): AnyPodEvent {
    return JSON.parse(this.json) as AnyPodEvent;
  }
}

export class EventBuffer {
  readonly #limits: BufferLimits;
  // Maps keep insertion order, so the first key is the oldest and deletes are O(1).
  readonly #all = new Map<number, BufferedEvent>();
  readonly #nonAdded = new Map<number, BufferedEvent>();
  #bytes = 0;
  #seq = 0;
  /** Buffered events in a sink call: kept so `waiting()` is O(1) (the sender asks on every wake). */
  #inFlight = 0;
  /** pod uid → seq of its waiting single-part `added`/`running`, which a `running` may update. */
  readonly #sightings = new Map<string, number>();
  #waiters: (() => void)[] = [];
  readonly #now: () => number;

  constructor(limits: BufferLimits, now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
  }

  get size(): number {
    return this.#all.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Sequence number of the last event pushed (0 before any). */
  get lastSeq(): number {
    return this.#seq;
  }

  /** True while an event pushed at or before `seq` is still buffered (waiting or in flight). */
  holdsUpTo(seq: number): boolean {
    for (const e of this.#all.keys()) return e <= seq;
    return false;
  }

  get limits(): BufferLimits {
    return this.#limits;
  }

  /** True when one more event of `bytes` would not fit without evicting. */
  isFull(bytes = 0): boolean {
    return this.#all.size >= this.#limits.maxEvents || this.#bytes + bytes > this.#limits.maxBytes;
  }

  /**
   * Adds an event, evicting as the class comment says; one larger than the byte limit is
   * refused. With `coalesce` (a whole pod, not a part), a `running` for a pod whose `added` or
   * `running` still waits replaces that one's pod in place, keeping its reason and time: a
   * burst of status changes then costs no extra room and evicts nothing.
   */
  push(event: AnyPodEvent, opts: { coalesce?: boolean } = {}): PushResult {
    if (opts.coalesce && event.reason === 'running') {
      const merged = this.#coalesce(event);
      if (merged) return merged;
    }
    const json = JSON.stringify(event);
    const bytes = Buffer.byteLength(json);
    const evicted: BufferedEvent[] = [];
    if (bytes > this.#limits.maxBytes) return { accepted: false, evicted };
    while (this.isFull(bytes)) {
      // Events not in a sink call go before those that are (which may still get through).
      const victim =
        this.#oldestNotInFlight(this.#nonAdded) ??
        first(this.#nonAdded) ??
        this.#oldestNotInFlight(this.#all) ??
        first(this.#all);
      if (!victim) return { accepted: false, evicted };
      this.#delete(victim);
      victim.evicted = true;
      evicted.push(victim);
    }
    const entry = new Entry(++this.#seq, event, json, bytes, this.#now());
    this.#all.set(entry.seq, entry);
    if (event.reason !== 'added') this.#nonAdded.set(entry.seq, entry);
    this.#bytes += bytes;
    if (opts.coalesce && (event.reason === 'added' || event.reason === 'running')) {
      this.#sightings.set(event.pod.metadata.uid, entry.seq);
    }
    return { accepted: true, evicted };
  }

  #coalesce(event: Extract<AnyPodEvent, { pod: unknown }>): PushResult | null {
    const seq = this.#sightings.get(event.pod.metadata.uid);
    const old = seq === undefined ? undefined : this.#all.get(seq);
    if (seq === undefined || !old || old.inFlight) return null;
    const prior = old.event;
    if (prior.reason !== 'added' && prior.reason !== 'running') return null;
    const merged: AnyPodEvent = { ...prior, pod: event.pod };
    const json = JSON.stringify(merged);
    const bytes = Buffer.byteLength(json);
    if (this.#bytes - old.bytes + bytes > this.#limits.maxBytes) return null;
    const entry = new Entry(seq, merged, json, bytes, old.enqueuedAt);
    entry.attempts = old.attempts;
    this.#all.set(seq, entry);
    if (this.#nonAdded.has(seq)) this.#nonAdded.set(seq, entry);
    this.#bytes += bytes - old.bytes;
    return { accepted: true, evicted: [], coalesced: true };
  }

  /** Enqueue time of the oldest event not in flight, or null. */
  oldestWaitingSince(): number | null {
    return this.#oldestNotInFlight(this.#all)?.enqueuedAt ?? null;
  }

  /** Count of events not in flight. */
  waiting(): number {
    return this.#all.size - this.#inFlight;
  }

  /**
   * Marks and returns the oldest waiting events, at most `maxEvents` of them and, past the
   * first, at most `maxBytes` in `size(entry)` summed.
   */
  take(maxEvents: number, maxBytes: number, size: (e: BufferedEvent) => number): BufferedEvent[] {
    const batch: BufferedEvent[] = [];
    let total = 0;
    for (const e of this.#all.values()) {
      if (batch.length >= maxEvents) break;
      if (e.inFlight) continue;
      const s = size(e);
      if (batch.length > 0 && total + s > maxBytes) break;
      e.inFlight = true;
      this.#inFlight++;
      batch.push(e);
      total += s;
    }
    return batch;
  }

  /** Removes events that were delivered or given up on. */
  remove(entries: readonly BufferedEvent[]): void {
    for (const e of entries) if (this.#all.get(e.seq) === e) this.#delete(e);
    this.#wake();
  }

  /** Hands events back for another try. */
  release(entries: readonly BufferedEvent[]): void {
    for (const e of entries) {
      if (e.inFlight && this.#all.get(e.seq) === e) this.#inFlight--;
      e.inFlight = false;
    }
  }

  /** Resolves when the buffer has room again (or at once if it has). */
  whenNotFull(): Promise<void> {
    if (!this.isFull()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Wakes every waiter (used at shutdown). */
  wakeAll(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const r of w) r();
  }

  #wake(): void {
    if (!this.isFull()) this.wakeAll();
  }

  #oldestNotInFlight(map: Map<number, BufferedEvent>): BufferedEvent | undefined {
    for (const e of map.values()) if (!e.inFlight) return e;
    return undefined;
  }

  #delete(e: BufferedEvent): void {
    if (e.inFlight) this.#inFlight--;
    if (e.uid !== null && this.#sightings.get(e.uid) === e.seq) this.#sightings.delete(e.uid);
    this.#all.delete(e.seq);
    this.#nonAdded.delete(e.seq);
    this.#bytes -= e.bytes;
  }
}

function first(map: Map<number, BufferedEvent>): BufferedEvent | undefined {
  for (const e of map.values()) return e;
  return undefined;
}
