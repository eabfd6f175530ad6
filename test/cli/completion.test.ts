import { execFile, spawnSync } from 'node:child_process';
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

/** Shells other than bash may not be installed; their real-shell tests run where they are. */
const has = (shell: string) => spawnSync(shell, ['-c', 'exit 0'], { stdio: 'ignore' }).status === 0;

/**
 * What zsh offers: the candidates bashcompinit's `_bash_complete` collects (COMP_WORDS from
 * zsh's 1-based `words`, COMP_CWORD = CURRENT − 1, `compgen -F` under `emulate sh`), narrowed
 * by the typed prefix as `compadd` does (zsh's compgen leaves matching to compadd).
 */
async function zshComplete(script: string, words: string[]): Promise<string[]> {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'regwatch-completion-')), 'c.zsh');
  writeFileSync(file, script);
  const { stdout } = await run('zsh', [
    '-f',
    '-c',
    `autoload -U +X compinit && compinit -u -D; source "$1"; shift; words=("$@"); CURRENT=$#words;
     COMP_WORDS=("\${words[@]}"); COMP_CWORD=$((CURRENT - 1));
     print -rl -- \${(f)"$(compgen -o default -F _regwatch -- \${words[CURRENT]})"}`,
    'zsh',
    file,
    ...words,
  ]);
  const typed = words[words.length - 1] ?? '';
  return stdout
    .split('\n')
    .filter((w) => w !== '' && w.startsWith(typed))
    .sort();
}

/** What fish completes for the command line (`complete -C`), candidates only. */
async function fishComplete(script: string, line: string): Promise<string[]> {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'regwatch-completion-')), 'c.fish');
  writeFileSync(file, script);
  const { stdout } = await run('fish', [
    '--no-config',
    '-c',
    'source $argv[1]; complete -C $argv[2]',
    file,
    line,
  ]);
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t')[0] ?? '')
    .sort();
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

  it.skipIf(!has('zsh'))(
    'zsh (a real zsh): completes commands, subcommands and options',
    async () => {
      // Prepare
      const { stdout } = await runCli(['completion', 'zsh']);

      // Act / Assess
      expect(await zshComplete(stdout, ['regwatch', 'fi'])).toEqual(['findings']);
      expect(await zshComplete(stdout, ['regwatch', 'findings', ''])).toEqual(
        ['ack', 'list', 'resolve', 'show', 'suppress', '--help', '-h'].sort(),
      );
      expect(await zshComplete(stdout, ['regwatch', 'findings', 'list', '--sev'])).toEqual([
        '--severity',
      ]);
      expect(await zshComplete(stdout, ['regwatch', 'check', '-f', 'x.yaml', '--all'])).toEqual([
        '--allowlist',
      ]);
    },
  );

  it('fish: one line per subcommand and option, guarded by the command path', async () => {
    const { code, stdout } = await runCli(['completion', 'fish']);
    expect(code).toBe(0);
    expect(stdout).toContain(
      "complete -c regwatch -n '__fish_seen_subcommand_from findings; and __fish_seen_subcommand_from list' -l 'severity'",
    );
    expect(stdout).toMatch(/-n '__fish_use_subcommand' -a 'replay' -d 'evaluate audit logs/);
  });

  it.skipIf(!has('fish'))(
    'fish (a real fish): completes commands, subcommands and options',
    async () => {
      // Prepare
      const { stdout } = await runCli(['completion', 'fish']);

      // Act / Assess
      expect(await fishComplete(stdout, 'regwatch fi')).toEqual(['findings']);
      expect(await fishComplete(stdout, 'regwatch findings ')).toEqual(
        ['ack', 'list', 'resolve', 'show', 'suppress'].sort(),
      );
      expect(await fishComplete(stdout, 'regwatch findings list --sev')).toEqual(['--severity']);
      expect(await fishComplete(stdout, 'regwatch check -f x.yaml --all')).toEqual(['--allowlist']);
    },
  );

  it('an unknown shell is a usage error', async () => {
    const r = await runCli(['completion', 'tcsh']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown shell "tcsh"');
  });
});
