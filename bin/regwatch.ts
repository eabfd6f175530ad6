#!/usr/bin/env node
// The `regwatch` CLI. Node 24 runs this TypeScript file directly (type stripping).
import { allCommands } from '../cli/commands/index.ts';
import { main } from '../cli/main.ts';

const code = await main(
  process.argv.slice(2),
  {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
  },
  allCommands,
);
process.exitCode = code;
