import { Command, CommanderError } from 'commander';
import { RegwatchError, UsageError } from '../lambdas/core/errors.ts';
import { visible } from '../lambdas/core/visible.ts';
import type { CommandEntry } from './commands/index.ts';
import { type CliIo, EXIT } from './context.ts';
import { environmentError } from './errors.ts';
import { VERSION } from './version.ts';

/** Each command group registers itself; its action returns an exit code through `setExit`. */
export type Register = (program: Command, io: CliIo, setExit: (code: number) => void) => void;

/** Maps errors to exit codes and messages: the only place the CLI does so. */
export function reportError(thrown: unknown, io: CliIo): number {
  const err = thrown instanceof RegwatchError ? thrown : (environmentError(thrown) ?? thrown);
  // Messages quote input (file names, flag values, rule fields): shown escaped, one line each.
  if (err instanceof UsageError) {
    io.stderr.write(`regwatch: ${visible(err.message)}\n`);
    return EXIT.usage;
  }
  if (err instanceof RegwatchError) {
    const issues = (err as { issues?: readonly { path: string; message: string }[] }).issues ?? [];
    io.stderr.write(`regwatch: ${visible(headline(err.message, issues.length))}\n`);
    for (const issue of issues)
      io.stderr.write(`  ${visible(issue.path)}: ${visible(issue.message)}\n`);
    return err.code === 'NOT_FOUND' || err.code === 'CONFLICT' ? EXIT.violations : EXIT.usage;
  }
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  io.stderr.write(`regwatch: unexpected error: ${detail.split('\n').map(visible).join('\n')}\n`);
  return EXIT.internal;
}

/**
 * The first line of an error whose issues are listed one per line below it: its message also
 * summarises them ("FILE is invalid (N issues):" and the first five, for logs), which escaped as
 * one line would print them again as `\x0a`-joined text.
 */
function headline(message: string, issueCount: number): string {
  if (issueCount === 0) return message;
  const end = message.lastIndexOf('):\n');
  return end < 0 ? message : message.slice(0, end + 2);
}

/** A command group: registered as it is, or (a `CommandEntry`) loaded only when needed. */
export type Registration = Register | CommandEntry;

/**
 * The command groups to load for `argv`: only the one named by the first word that is not an
 * option; every group for `completion` (it describes them all); none for top-level help or
 * `--version`, where the entries' own names and descriptions are enough.
 */
function entriesToLoad(argv: readonly string[], entries: readonly CommandEntry[]): CommandEntry[] {
  const word = argv.find((a) => !a.startsWith('-'));
  if (word === undefined) return [];
  if (word === 'completion') return [...entries];
  if (word === 'help') {
    const topic = argv[argv.indexOf(word) + 1];
    return entries.filter((e) => e.name === topic);
  }
  return entries.filter((e) => e.name === word);
}

/** A reader that went away (`regwatch … | head`): not an error, just the end of output. */
function isClosedPipe(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_WRITE_AFTER_END'
  );
}

/** Set when stdout closed early; `bin/regwatch.ts` then exits at once with the code so far. */
export const outputClosed = new WeakSet<CliIo>();

/**
 * Runs the CLI with `argv` (without `node` and the script) and resolves to the exit code. When
 * stdout is closed under it, it resolves at once with the exit code set so far (commands set
 * it before printing); later writes are dropped.
 */
export async function main(
  argv: readonly string[],
  io: CliIo,
  registrations: readonly Registration[],
): Promise<number> {
  let exitCode: number = EXIT.ok;
  let closed: (code: number) => void = () => {};
  const whenClosed = new Promise<number>((resolve) => {
    closed = resolve;
  });
  const onStdoutError = (err: unknown) => {
    if (isClosedPipe(err)) {
      outputClosed.add(io);
      closed(exitCode);
      return;
    }
    io.stderr.write(`regwatch: cannot write the output: ${(err as Error).message}\n`);
    outputClosed.add(io);
    closed(EXIT.internal);
  };
  // Never removed: output still queued when the command ends may meet a closed pipe later.
  io.stdout.on('error', onStdoutError);
  return Promise.race([
    run(argv, io, registrations, (code) => {
      exitCode = code;
    }),
    whenClosed,
  ]);
}

async function run(
  argv: readonly string[],
  io: CliIo,
  registrations: readonly Registration[],
  setExit: (code: number) => void,
): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = new Command('regwatch')
    .description('Where do your container images come from? Checks them against an allowlist.')
    .version(VERSION, '-V, --version', 'print the regwatch version')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .showHelpAfterError('(run with --help for usage)');
  const set = (code: number) => {
    exitCode = code;
    setExit(code);
  };
  try {
    const lazy = registrations.filter((r): r is CommandEntry => typeof r !== 'function');
    const wanted = new Set(entriesToLoad(argv, lazy));
    const loaded = await Promise.all([...wanted].map((e) => e.load()));
    for (const registration of registrations) {
      if (typeof registration === 'function') {
        registration(program, io, set);
      } else if (wanted.has(registration)) {
        const register = loaded[[...wanted].indexOf(registration)];
        register?.(program, io, set);
      } else {
        // Listed in help with its description; never run (its word did not name it).
        program.command(registration.name).description(registration.description);
      }
    }
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exitCode 0; bad usage with 1, which we map to 2.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return reportError(err, io);
  }
}
