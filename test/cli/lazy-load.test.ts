/**
 * Commands load only what they use: `check`, `ref` and `replay` never load the AWS SDK, the
 * Kubernetes client, dynalite or the forwarder. Checked on a real process, with a module hook
 * that records every module Node loads.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { allCommands } from '../../cli/commands/index.ts';
import { SHARED_FIXTURES } from '../helpers/fixtures.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');

// Prints each loaded module's URL on stderr, prefixed so the CLI's own output is told apart.
const HOOK = `data:text/javascript,${encodeURIComponent(
  "import { registerHooks } from 'node:module';" +
    'registerHooks({ load(url, context, next) { process.stderr.write("LOADED " + url + "\\n"); return next(url, context); } });',
)}`;

async function loadedModules(args: string[]): Promise<string[]> {
  const r = await run(process.execPath, ['--import', HOOK, 'bin/regwatch.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH },
    maxBuffer: 32 * 1024 * 1024,
  }).catch((e: { stdout: string; stderr: string }) => e);
  return r.stderr
    .split('\n')
    .filter((l) => l.startsWith('LOADED '))
    .map((l) => l.slice('LOADED '.length));
}

const HEAVY = [/@aws-sdk\//, /@smithy\//, /@kubernetes\/client-node/, /dynalite/, /\/forwarder\//];
const allowlist = path.join(ROOT, 'examples/allowlist.yaml');

describe('lazy command loading', () => {
  it.each([
    ['check', ['check', '--allowlist', allowlist, 'nginx:1.27']],
    ['ref', ['ref', 'nginx']],
    [
      'replay',
      [
        'replay',
        '--allowlist',
        allowlist,
        path.join(SHARED_FIXTURES, 'audit-events/constructed/eks-audit-events.jsonl'),
      ],
    ],
    ['--help', ['--help']],
  ])('%s loads no AWS SDK, Kubernetes client, dynalite or forwarder', async (_name, args) => {
    // Act
    const loaded = await loadedModules(args);

    // Assess: the hook saw the command's own module, so it was watching.
    expect(loaded.some((u) => u.includes('/cli/main.ts'))).toBe(true);
    expect(loaded.filter((u) => HEAVY.some((re) => re.test(u)))).toEqual([]);
  });

  it('the findings command does load the AWS SDK (the hook sees heavy modules when they load)', async () => {
    const loaded = await loadedModules(['findings', 'list', '--help']);
    expect(loaded.some((u) => /@aws-sdk\//.test(u))).toBe(true);
  });

  it("lists each command with the module's own description", async () => {
    for (const entry of allCommands) {
      // Prepare
      const program = new Command('regwatch');
      const register = await entry.load();

      // Act
      register(
        program,
        { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: {}, cwd: '' },
        () => {},
      );

      // Assess
      const own = program.commands.find((c) => c.name() === entry.name);
      expect(own?.description(), entry.name).toBe(entry.description);
    }
  });
});
