import type { Readable, Writable } from 'node:stream';

/** What a command may touch, injected so tests run commands in-process. */
export interface CliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** Exit codes shared by every command. */
export const EXIT = {
  ok: 0,
  /** At least one violation / finding. */
  violations: 1,
  /** Usage error, invalid input or invalid allowlist. */
  usage: 2,
  /** Anything unexpected. */
  internal: 3,
} as const;

export function write(stream: Writable, text: string): void {
  stream.write(text.endsWith('\n') ? text : `${text}\n`);
}
