/**
 * Scan checks in local mode: where the stack delays an SQS message, local mode sets a timer
 * and runs the same `handleScanCheck`. Timers do not keep the process alive and are dropped on
 * shutdown: pending checks are lost with the process (as local mode has no queue to keep them).
 */
import type { ScanCheckMessage } from '../core/registry/schedule.ts';
import type { UpsertResult } from '../core/types.ts';
import {
  handleScanCheck,
  type RegistryDeps,
  type ScanCheckScheduler,
} from '../services/registry.ts';

export interface TimerSchedulerOptions {
  /** The registry deps the checks run with (set after construction: they include this scheduler). */
  deps: () => RegistryDeps;
  /** Told about each check's findings (to alert on them). */
  onResults: (results: readonly UpsertResult[]) => Promise<void>;
  onError: (error: unknown, message: ScanCheckMessage) => void;
}

export class TimerScanScheduler implements ScanCheckScheduler {
  readonly #options: TimerSchedulerOptions;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #running = new Set<Promise<void>>();
  #stopped = false;

  constructor(options: TimerSchedulerOptions) {
    this.#options = options;
  }

  async schedule(message: ScanCheckMessage, delaySeconds: number): Promise<void> {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      const run = this.#run(message).finally(() => this.#running.delete(run));
      this.#running.add(run);
    }, delaySeconds * 1000);
    timer.unref();
    this.#timers.add(timer);
  }

  /** Checks waiting for their time. */
  get pending(): number {
    return this.#timers.size;
  }

  async #run(message: ScanCheckMessage): Promise<void> {
    try {
      const outcome = await handleScanCheck(message, this.#options.deps());
      await this.#options.onResults(outcome.findings);
    } catch (error) {
      this.#options.onError(error, message);
    }
  }

  /** Drops waiting checks and waits for running ones. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await Promise.all(this.#running);
  }
}
