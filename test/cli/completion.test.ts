import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

const run = promisify(execFile);
const pkg = JSON.parse(
  readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8'),
) as { version: string };

/** What bash completes for the words typed so far (the last one is being completed). */
async function bashComplete(script: string, words: string[]): Promise<string[]> {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'regwatch-completion-')), 'c.bash');
  writeFileSync(file, script);
  const array = words.map((w) => `'${w}'`).join(' ');
  const { stdout } = await run('bash', [
    '-c',
    `source "$1"; COMP_WORDS=(${array}); COMP_CWORD=${words.length - 1}; _regwatch; printf '%s\\n' "\${COMPREPLY[@]}"`,
    'bash',
    file,
  ]);
  return stdout.split('\n').filter(Boolean).sort();
}

describe('regwatch --version', () => {
  it("prints the package's version", async () => {
    expect(await runCli(['--version'])).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });
});

describe('regwatch completion', () => {
  it('bash: completes commands, subcommands and their options', async () => {
    // Prepare
    const { code, stdout } = await runCli(['completion', 'bash']);
    expect(code).toBe(0);

    // Act / Assess
    expect(await bashComplete(stdout, ['regwatch', 'fi'])).toEqual(['findings']);
    expect(await bashComplete(stdout, ['regwatch', 'findings', ''])).toEqual(
      ['ack', 'list', 'resolve', 'show', 'suppress', '--help', '-h'].sort(),
    );
    expect(await bashComplete(stdout, ['regwatch', 'findings', 'list', '--sev'])).toEqual([
      '--severity',
    ]);
    expect(await bashComplete(stdout, ['regwatch', 'check', '-f', 'x.yaml', '--all'])).toEqual([
      '--allowlist',
    ]);
  });

  it('zsh: the same completion through bashcompinit', async () => {
    const { code, stdout } = await runCli(['completion', 'zsh']);
    expect(code).toBe(0);
    expect(stdout.startsWith('#compdef regwatch\n')).toBe(true);
    expect(stdout).toContain('bashcompinit');
    expect(stdout).toContain('complete -o default -F _regwatch regwatch');
  });

  it('fish: one line per subcommand and option, guarded by the command path', async () => {
    const { code, stdout } = await runCli(['completion', 'fish']);
    expect(code).toBe(0);
    expect(stdout).toContain(
      "complete -c regwatch -n '__fish_seen_subcommand_from findings; and __fish_seen_subcommand_from list' -l 'severity'",
    );
    expect(stdout).toMatch(/-n '__fish_use_subcommand' -a 'replay' -d 'evaluate audit logs/);
  });

  it('an unknown shell is a usage error', async () => {
    const r = await runCli(['completion', 'tcsh']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown shell "tcsh"');
  });
});
