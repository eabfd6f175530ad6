#!/usr/bin/env node
// The `regwatch` CLI with only `replay` registered: the module graph `regwatch replay` loads
// once commands are registered lazily. `bench/replay.ts` runs it as sources and bundled.
import { registerReplay } from '../../cli/commands/replay.ts';
import { main } from '../../cli/main.ts';

process.exitCode = await main(
  process.argv.slice(2),
  {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
  },
  [registerReplay],
);
