import type { Command } from 'commander';
import { UsageError } from '../../lambdas/core/errors.ts';
import { EXIT } from '../context.ts';
import type { Register } from '../main.ts';

/** One command path (`findings list`) with what may follow it. */
interface CompletionNode {
  readonly path: readonly string[];
  readonly description: string;
  readonly subcommands: readonly string[];
  readonly options: readonly { long?: string; short?: string; description: string }[];
}

/** Walks the command tree (every group is loaded for `completion`) into a flat list. */
function collect(cmd: Command, path: readonly string[], out: CompletionNode[]): CompletionNode[] {
  // Names go into fish conditions unquoted: only plain command words are completed.
  const subs = cmd.commands.filter(
    (c) => c.name() !== 'help' && /^[a-z0-9][a-z0-9-]*$/.test(c.name()),
  );
  out.push({
    path,
    description: cmd.description(),
    subcommands: subs.map((c) => c.name()),
    options: [
      ...cmd.options.map((o) => ({
        ...(o.long !== undefined ? { long: o.long } : {}),
        ...(o.short !== undefined ? { short: o.short } : {}),
        description: o.description,
      })),
      { long: '--help', short: '-h', description: 'display help' },
    ],
  });
  for (const sub of subs) collect(sub, [...path, sub.name()], out);
  return out;
}

/** Command and option names are ours, but quote them anyway: a script must never break. */
const shellWord = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
const firstLine = (s: string) => (s.split('\n')[0] ?? '').slice(0, 80);

function bashScript(nodes: readonly CompletionNode[]): string {
  const known = nodes.filter((n) => n.path.length > 0).map((n) => n.path.join(' '));
  const cases = nodes
    .map((n) => {
      const words = [
        ...n.subcommands,
        ...n.options.flatMap((o) => [o.long, o.short].filter((x) => x !== undefined)),
      ];
      return `    ${shellWord(n.path.join(' '))}) words=${shellWord(words.join(' '))} ;;`;
    })
    .join('\n');
  return `# regwatch bash completion: eval "$(regwatch completion bash)"
_regwatch() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" next w i words=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ $w == -* ]] && continue
    next="\${path:+$path }$w"
    case "$next" in
      ${known.map(shellWord).join('|')}) path="$next" ;;
    esac
  done
  case "$path" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _regwatch regwatch
`;
}

function zshScript(nodes: readonly CompletionNode[]): string {
  // zsh runs the bash function through bashcompinit: one completion logic for both shells.
  return `#compdef regwatch
# regwatch zsh completion: eval "$(regwatch completion zsh)"
autoload -U +X bashcompinit && bashcompinit
${bashScript(nodes)}`;
}

function fishScript(nodes: readonly CompletionNode[]): string {
  const lines = ['# regwatch fish completion: regwatch completion fish | source'];
  lines.push('complete -c regwatch -f');
  for (const n of nodes) {
    const condition =
      n.path.length === 0
        ? '__fish_use_subcommand'
        : n.path.map((p) => `__fish_seen_subcommand_from ${p}`).join('; and ');
    for (const sub of n.subcommands) {
      const child = nodes.find((c) => c.path.join(' ') === [...n.path, sub].join(' '));
      const guard =
        n.path.length === 0
          ? condition
          : `${condition}; and not __fish_seen_subcommand_from ${n.subcommands.join(' ')}`;
      lines.push(
        `complete -c regwatch -n ${shellWord(guard)} -a ${shellWord(sub)} -d ${shellWord(firstLine(child?.description ?? ''))}`,
      );
    }
    for (const o of n.options) {
      const flags = [
        o.long !== undefined ? `-l ${shellWord(o.long.replace(/^--/, ''))}` : '',
        o.short !== undefined ? `-s ${shellWord(o.short.replace(/^-/, ''))}` : '',
      ]
        .filter(Boolean)
        .join(' ');
      lines.push(
        `complete -c regwatch -n ${shellWord(condition)} ${flags} -d ${shellWord(firstLine(o.description))}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

const SHELLS = { bash: bashScript, zsh: zshScript, fish: fishScript } as const;

/** `regwatch completion bash|zsh|fish`: a completion script built from the command tree. */
export const registerCompletion: Register = (program: Command, io, setExit) => {
  program
    .command('completion')
    .description('print a shell completion script (bash, zsh or fish)')
    .argument('<shell>', 'bash, zsh or fish')
    .addHelpText(
      'after',
      '\nExamples:\n  eval "$(regwatch completion bash)"   # in ~/.bashrc\n  eval "$(regwatch completion zsh)"    # in ~/.zshrc\n  regwatch completion fish > ~/.config/fish/completions/regwatch.fish',
    )
    .action((shell: string) => {
      if (!Object.hasOwn(SHELLS, shell))
        throw new UsageError(`completion: unknown shell "${shell}" (bash, zsh or fish)`);
      const render = SHELLS[shell as keyof typeof SHELLS];
      io.stdout.write(render(collect(program, [], [])));
      setExit(EXIT.ok);
    });
};
