import { PassThrough, Readable } from 'node:stream';
import { allCommands } from '../../cli/commands/index.ts';
import { main } from '../../cli/main.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process with the given arguments and stdin text. */
export async function runCli(
  argv: readonly string[],
  opts: { stdin?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await main(
    argv,
    {
      stdin: Readable.from(opts.stdin === undefined ? [] : [opts.stdin]),
      stdout,
      stderr,
      env: opts.env ?? {},
      cwd: opts.cwd ?? process.cwd(),
    },
    allCommands,
  );
  return {
    code,
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
  };
}

/** Parses JSON lines output. */
export function jsonLines(text: string): unknown[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}
