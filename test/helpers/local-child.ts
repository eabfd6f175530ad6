/**
 * `regwatch local` as a child process, the way a user runs it: `node bin/regwatch.ts local`
 * on free ports with `--ready-file`, its stdout and stderr collected. Each test keeps its own
 * choice of how to stop it (SIGTERM, SIGKILL) and when.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface LocalChild {
  child: ChildProcess;
  /** Everything it wrote so far, stdout and stderr interleaved. */
  output(): string;
  /** Its exit code (null when ended by a signal). */
  exited: Promise<number | null>;
}

/** What `--ready-file` holds once the child listens. */
export interface LocalReady {
  url: string;
  dynamodbEndpoint: string;
}

/** Starts `regwatch local --port 0 --dynamodb-port 0 ARGS --ready-file FILE`. */
export function spawnLocal(args: readonly string[], readyFile: string): LocalChild {
  rmSync(readyFile, { force: true });
  let out = '';
  const child = spawn(
    process.execPath,
    [
      path.join(ROOT, 'bin/regwatch.ts'),
      'local',
      '--port',
      '0',
      '--dynamodb-port',
      '0',
      ...args,
      '--ready-file',
      readyFile,
    ],
    {
      cwd: ROOT,
      env: { ...process.env, REGWATCH_LOCAL_TOKEN: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const collect = (c: Buffer) => {
    out += c.toString('utf8');
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, output: () => out, exited };
}

/** Waits for the ready file; fails at once, with the child's output, if the child ends first. */
export async function localReady<T extends LocalReady = LocalReady>(
  local: LocalChild,
  readyFile: string,
  limitMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    if (local.child.exitCode !== null || local.child.signalCode !== null) {
      throw new Error(`regwatch local exited early:\n${local.output()}`);
    }
    try {
      return JSON.parse(readFileSync(readyFile, 'utf8')) as T;
    } catch {
      // Not written yet (or half written): look again.
    }
    if (Date.now() > deadline)
      throw new Error(`regwatch local did not get ready:\n${local.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
