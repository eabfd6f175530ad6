#!/usr/bin/env node
// The `regwatch` CLI. Node 24 runs this TypeScript file directly (type stripping); `npm run
// build` bundles it into dist/regwatch.js for the installable package.
import module from 'node:module';
import { allCommands } from '../cli/commands/index.ts';
import type { CliIo } from '../cli/context.ts';
import { main, outputClosed } from '../cli/main.ts';

// Each command's code is loaded lazily, after this: V8 keeps its compiled code on disk
// (os.tmpdir()/node-compile-cache), so every start after the first skips most compilation.
module.enableCompileCache?.();

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
