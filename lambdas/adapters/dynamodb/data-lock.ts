/**
 * One `regwatch local` per data folder. LevelDB locks its folder too, but dynalite turns a
 * lost lock into an uncaught "Database is closed" thrown from a callback; taking our own lock
 * first makes a second process fail at start with a message that says what to do.
 *
 * The lock is a file created exclusively (`wx`) holding the owner's pid. A lock whose pid no
 * longer runs (the owner was killed) is taken over. Two processes taking over the same stale
 * lock at the same instant could both get past it (one may remove the other's fresh lock);
 * LevelDB's own lock is still the final guard then, so the cost is the old crash, never two
 * writers.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../core/errors.ts';

export const LOCK_FILE = 'regwatch-local.lock';

/** Lock files this process holds (a lock naming our pid that is not here is a stale one, e.g. pid 1 in a restarted container). */
const held = new Set<string>();

export interface DataLock {
  /** Removes the lock if it is still ours. Idempotent. */
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ownerOf(file: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export function lockDataFolder(folder: string): DataLock {
  const file = path.resolve(folder, LOCK_FILE);
  if (held.has(file)) {
    throw new ConfigError(
      `data folder ${folder} is in use by another regwatch local (pid ${process.pid}, this process)`,
    );
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      held.add(file);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          held.delete(file);
          if (ownerOf(file) === process.pid) rmSync(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = ownerOf(file);
    if (owner !== null && owner !== process.pid && alive(owner)) {
      throw new ConfigError(
        `data folder ${folder} is in use by another regwatch local (pid ${owner}); stop it, use another --data folder, or remove ${file} if no regwatch local runs`,
      );
    }
    // Stale (its owner is gone) or unreadable: take it over through the exclusive create.
    rmSync(file, { force: true });
  }
  throw new ConfigError(`cannot lock data folder ${folder}: ${LOCK_FILE} keeps reappearing`);
}
