#!/usr/bin/env node
// The `regwatch` CLI. Node 24 runs this TypeScript file directly (type stripping).
import { allCommands } from '../cli/commands/index.ts';
import type { CliIo } from '../cli/context.ts';
import { main, outputClosed } from '../cli/main.ts';

const io: CliIo = {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
};
const code = await main(process.argv.slice(2), io, allCommands);
// stdout closed (`| head`): stop now, quietly, instead of computing output nobody reads.
if (outputClosed.has(io)) process.exit(code);
process.exitCode = code;
