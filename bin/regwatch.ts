#!/usr/bin/env node
// The `regwatch` CLI. Node 24 runs this TypeScript file directly (type stripping).
import { addCommands, main } from '../cli/main.ts';

addCommands();

const code = await main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = code;
