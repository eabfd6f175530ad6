import { Command, CommanderError } from 'commander';
import { RegwatchError, UsageError } from '../lambdas/core/errors.ts';
import { type CliIo, EXIT } from './context.ts';

/** Each command group registers itself; its action returns an exit code through `setExit`. */
export type Register = (program: Command, io: CliIo, setExit: (code: number) => void) => void;

/** Maps errors to exit codes and messages: the only place the CLI does so. */
export function reportError(err: unknown, io: CliIo): number {
  if (err instanceof UsageError) {
    io.stderr.write(`regwatch: ${err.message}\n`);
    return EXIT.usage;
  }
  if (err instanceof RegwatchError) {
    io.stderr.write(`regwatch: ${err.message}\n`);
    const issues = (err as { issues?: readonly { path: string; message: string }[] }).issues ?? [];
    for (const issue of issues) io.stderr.write(`  ${issue.path}: ${issue.message}\n`);
    return err.code === 'NOT_FOUND' || err.code === 'CONFLICT' ? EXIT.violations : EXIT.usage;
  }
  io.stderr.write(
    `regwatch: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  return EXIT.internal;
}

/** Runs the CLI with `argv` (without `node` and the script) and resolves to the exit code. */
export async function main(
  argv: readonly string[],
  io: CliIo,
  registrations: readonly Register[],
): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = new Command('regwatch')
    .description('Where do your container images come from? Checks them against an allowlist.')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .showHelpAfterError('(run with --help for usage)');
  for (const register of registrations) {
    register(program, io, (code) => {
      exitCode = code;
    });
  }
  try {
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
