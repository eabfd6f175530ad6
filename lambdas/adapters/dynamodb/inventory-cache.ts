/**
 * What one process last read or wrote of each workload's inventory partition: bounded (least
 * recently remembered goes first) and trusted for a short time only. Nothing here is needed
 * for correctness: a miss or a stale hint costs a request, never a lost change, because every
 * write is conditional on what the table holds.
 */
import { entryKey } from '../../core/inventory.ts';
import type { StoredEntry } from './inventory.ts';

export interface WorkloadCacheOptions {
  /** How long remembered entries may answer a sighting that would change nothing. */
  ttlMs: number;
  /** At most this many workloads are remembered. */
  maxWorkloads: number;
  now: () => number;
}

interface Remembered {
  /** When the entries were read or written; -Infinity once they may be outdated. */
  at: number;
  stored: StoredEntry[];
}

export class WorkloadCache {
  readonly #items = new Map<string, Remembered>();
  readonly #options: WorkloadCacheOptions;

  constructor(options: WorkloadCacheOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#items.size;
  }

  /** The workload's entries as last read or written, while they are fresh enough to trust. */
  fresh(workloadKey: string): StoredEntry[] | undefined {
    const item = this.#items.get(workloadKey);
    if (!item || this.#options.now() - item.at >= this.#options.ttlMs) return undefined;
    return item.stored;
  }

  /**
   * The entry keys the workload had when this process last knew it, at any age (undefined:
   * never known, or forgotten). A hint for choosing a strategy, never for planning a write.
   */
  knownKeys(workloadKey: string): string[] | undefined {
    return this.#items.get(workloadKey)?.stored.map((s) => entryKey(s.entry));
  }

  remember(workloadKey: string, stored: StoredEntry[]): void {
    this.#items.delete(workloadKey);
    this.#items.set(workloadKey, { at: this.#options.now(), stored });
    if (this.#items.size > this.#options.maxWorkloads) {
      const oldest = this.#items.keys().next().value;
      if (oldest !== undefined) this.#items.delete(oldest);
    }
  }

  /** Another writer may have changed the workload: keep its keys as a hint only. */
  outdate(workloadKey: string): void {
    const item = this.#items.get(workloadKey);
    if (item) item.at = Number.NEGATIVE_INFINITY;
  }
}
