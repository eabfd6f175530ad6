/** Exponential backoff with full jitter: spreads retries of many forwarders hitting one sink. */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** Defaults to Math.random; injectable for tests. */
  random?: () => number;
}

export class Backoff {
  #attempt = 0;
  readonly #opts: BackoffOptions;

  constructor(opts: BackoffOptions) {
    this.#opts = opts;
  }

  get attempt(): number {
    return this.#attempt;
  }

  /** The delay before the next try; each call doubles the ceiling up to `maxMs`. */
  next(minMs = 0): number {
    const ceiling = Math.min(
      this.#opts.maxMs,
      this.#opts.baseMs * 2 ** Math.min(this.#attempt, 30),
    );
    this.#attempt++;
    const jittered = Math.floor((this.#opts.random ?? Math.random)() * ceiling);
    return Math.max(minMs, jittered);
  }

  reset(): void {
    this.#attempt = 0;
  }
}

/** A sleep that `abort` ends early (resolves, never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
