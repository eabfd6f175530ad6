/**
 * The inventory steps of one batch, run beside the rest of the batch: one lane per workload,
 * so one workload's steps run one at a time and in the batch's order, while different
 * workloads' steps (their own partitions, their own findings) overlap each other and the
 * findings writes. A bounded number run at once; the batch waits for all before it answers,
 * and the first failure fails the batch (the caller retries it: every step is idempotent).
 */

export class Lanes {
  readonly #width: number;
  readonly #running = new Map<string, Promise<void>>();
  #failure: { error: unknown } | undefined;

  constructor(width: number) {
    if (!(width >= 1)) throw new RangeError(`lanes: width must be at least 1, got ${width}`);
    this.#width = width;
  }

  /** Steps started and not yet finished. */
  get running(): number {
    return this.#running.size;
  }

  /**
   * Call before any work on `key`'s workload (its findings too): waits for its running step
   * and for a free lane. Without a key (work that spans workloads), waits for every step.
   * Throws the first failure of a step.
   */
  async ready(key?: string): Promise<void> {
    if (key === undefined) await this.#settled();
    else {
      const own = this.#running.get(key);
      if (own) await own;
      while (this.#running.size >= this.#width) await Promise.race(this.#running.values());
    }
    this.#throwFailure();
  }

  /** Starts `step` in `key`'s lane; call `ready(key)` first. */
  start(key: string, step: () => Promise<void>): void {
    if (this.#running.has(key)) throw new Error(`lanes: ${key} already has a running step`);
    const run: Promise<void> = step()
      .catch((error: unknown) => {
        this.#failure ??= { error };
      })
      .finally(() => {
        if (this.#running.get(key) === run) this.#running.delete(key);
      });
    this.#running.set(key, run);
  }

  /** Waits for every step; throws the first failure. */
  async drain(): Promise<void> {
    await this.#settled();
    this.#throwFailure();
  }

  /** Waits for every step without throwing (cleanup after another error). */
  async #settled(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running.values());
  }

  /** Waits for every step, keeping any failure for `drain` / `ready` (cleanup in `finally`). */
  async settle(): Promise<void> {
    await this.#settled();
  }

  #throwFailure(): void {
    if (this.#failure) throw this.#failure.error;
  }
}
