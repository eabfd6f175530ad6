import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCK_FILE, lockDataFolder } from '../../../lambdas/adapters/dynamodb/data-lock.ts';
import { startEmbeddedDynamo } from '../../../lambdas/adapters/dynamodb/embedded.ts';
import { ConfigError } from '../../../lambdas/core/errors.ts';

const folder = () => mkdtempSync(path.join(tmpdir(), 'regwatch-lock-'));

/** A pid that ran and is gone: a child that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

describe('one regwatch local per data folder', () => {
  it('refuses a second embedded DynamoDB on a folder in use, with a named error', async () => {
    // Prepare
    const dir = folder();
    const first = await startEmbeddedDynamo({ path: dir });
    try {
      // Act / Assess
      await expect(startEmbeddedDynamo({ path: dir })).rejects.toThrow(ConfigError);
      await expect(startEmbeddedDynamo({ path: dir })).rejects.toThrow(
        /in use by another regwatch local/,
      );
    } finally {
      await first.stop();
    }
    // After a clean stop the folder is free again.
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    const again = await startEmbeddedDynamo({ path: dir });
    await again.stop();
  });

  it('takes over the lock of an owner that was killed', () => {
    // Prepare
    const dir = folder();
    writeFileSync(path.join(dir, LOCK_FILE), `${deadPid()}\n`);
    // Act
    const lock = lockDataFolder(dir);
    // Assess
    expect(readFileSync(path.join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
    lock.release();
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
  });

  it('takes over an unreadable lock file; keeps a live owner', () => {
    // Prepare
    const dir = folder();
    writeFileSync(path.join(dir, LOCK_FILE), 'garbage');
    // Act
    const lock = lockDataFolder(dir);
    // Assess: a live owner (this process, seen from a child) refuses the child.
    const child = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { lockDataFolder } from ${JSON.stringify(path.resolve('lambdas/adapters/dynamodb/data-lock.ts'))};
         try { lockDataFolder(${JSON.stringify(dir)}); console.log('locked'); } catch (e) { console.log(e.name, e.message); }`,
      ],
      { encoding: 'utf8' },
    );
    expect(child.stdout).toContain(`pid ${process.pid}`);
    lock.release();
  });
});
