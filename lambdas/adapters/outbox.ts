/**
 * A directory of pending items, one file each, that survives `kill -9`: an item is written to
 * a temporary name, flushed to disk and renamed into place (a rename is atomic), so a crash
 * leaves either the whole item or none of it. Local mode keeps its undelivered alerts here.
 * Bounded: at most `maxItems` items of at most `maxItemBytes` each; past that the oldest goes.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';

export interface OutboxItem<T> {
  /** The file name: the item's key for `remove`. */
  name: string;
  value: T;
}

export interface OutboxOptions {
  maxItems?: number;
  maxItemBytes?: number;
  /** Told about items that could not be read back (moved aside as `.bad`) or pushed out. */
  onProblem?: (message: string) => void;
}

export class FileOutbox<T> {
  readonly #dir: string;
  readonly #maxItems: number;
  readonly #maxItemBytes: number;
  readonly #onProblem: (message: string) => void;
  #seq = 0;

  constructor(dir: string, options: OutboxOptions = {}) {
    this.#dir = dir;
    this.#maxItems = options.maxItems ?? 10_000;
    this.#maxItemBytes = options.maxItemBytes ?? 256 * 1024;
    this.#onProblem = options.onProblem ?? (() => {});
    mkdirSync(dir, { recursive: true });
    // Leftovers of a write cut short by a crash are not items.
    for (const f of readdirSync(dir))
      if (f.endsWith('.tmp')) rmSync(path.join(dir, f), { force: true });
  }

  /** Stores `value` durably before it returns; resolves with its name. */
  put(value: T): string {
    const body = JSON.stringify(value);
    if (Buffer.byteLength(body) > this.#maxItemBytes) {
      throw new RangeError(
        `outbox item of ${Buffer.byteLength(body)} bytes exceeds ${this.#maxItemBytes}`,
      );
    }
    const names = this.#names();
    for (const old of names.slice(0, Math.max(0, names.length - this.#maxItems + 1))) {
      this.remove(old);
      this.#onProblem(`outbox full (${this.#maxItems} items): dropped the oldest, ${old}`);
    }
    // Time first so names sort in write order across restarts; the counter breaks ties.
    const name = `${Date.now().toString().padStart(15, '0')}-${process.pid}-${(++this.#seq).toString().padStart(8, '0')}.json`;
    const tmp = path.join(this.#dir, `${name}.tmp`);
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, body);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path.join(this.#dir, name));
    this.#syncDir();
    return name;
  }

  /** Every stored item, oldest first; an unreadable one is moved aside and reported. */
  list(): OutboxItem<T>[] {
    const out: OutboxItem<T>[] = [];
    for (const name of this.#names()) {
      const file = path.join(this.#dir, name);
      try {
        out.push({ name, value: JSON.parse(readFileSync(file, 'utf8')) as T });
      } catch (error) {
        renameSync(file, `${file}.bad`);
        this.#onProblem(
          `outbox item ${name} unreadable (${(error as Error).message}); moved aside`,
        );
      }
    }
    return out;
  }

  remove(name: string): void {
    // Names come from `put`/`list` only; a path separator would be a bug.
    if (name.includes('/') || name.includes('\\')) throw new Error(`bad outbox item name ${name}`);
    rmSync(path.join(this.#dir, name), { force: true });
  }

  get size(): number {
    return this.#names().length;
  }

  #names(): string[] {
    return readdirSync(this.#dir)
      .filter((f) => f.endsWith('.json'))
      .sort();
  }

  #syncDir(): void {
    // Makes the rename itself durable; not every platform allows opening a directory.
    try {
      const fd = openSync(this.#dir, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch {
      // Best effort.
    }
  }
}
