/**
 * CLI start-up: the built CLI as an installed package runs it (`bin/regwatch.js` taking
 * `dist/`, see installed.ts) as a whole process, against a bare `node -e 0` measured in the
 * same run, runs interleaved (A B A B …) so drift hits both.
 * Target (issue "Ship the CLI"): `check IMAGE` and `--help` within 3× of `node -e 0`.
 * `check IMAGE` is timed with the allowlist cache warm (every run after a file's first, the
 * usual case on a laptop) and cold (a fresh cache directory per run: full validation plus
 * the cache write; also what `REGWATCH_CACHE=off` and CI runs cost), and cold for a file the
 * plain-YAML reader declines (the YAML library then reads it). Also the sources run
 * directly (`bin/regwatch.ts`), which is what `npx regwatch` does in a checkout.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { installedCli } from './installed.ts';
import { type BenchResult, median } from './lib.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const RUNS = 21;

type Env = () => NodeJS.ProcessEnv;

function wallMs(args: readonly string[], env: NodeJS.ProcessEnv): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'ignore', env });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.error) throw r.error;
  return ms;
}

/** Median wall time of `args` and of the baseline, interleaved, after one warm-up each. */
function paired(args: readonly string[], env: Env, baseline: readonly string[]): [number, number] {
  wallMs(args, env());
  wallMs(baseline, process.env);
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    a.push(wallMs(args, env()));
    b.push(wallMs(baseline, process.env));
  }
  return [median(a), median(b)];
}

export async function run(): Promise<BenchResult[]> {
  const cli = await installedCli();
  const bare = ['-e', '0'];
  const allowlist = path.join(ROOT, 'examples/allowlist.yaml');
  const scratch = mkdtempSync(path.join(tmpdir(), 'regwatch-bench-startup-'));
  const warm = path.join(scratch, 'warm');
  let fresh = 0;
  const base: NodeJS.ProcessEnv = { ...process.env, CI: '', REGWATCH_CACHE: '' };
  const warmCache: Env = () => ({ ...base, XDG_CACHE_HOME: warm });
  // A directory no run used before: the allowlist is validated in full and cached.
  const coldCache: Env = () => ({ ...base, XDG_CACHE_HOME: path.join(scratch, `cold-${fresh++}`) });
  const check = ['check', '--allowlist', allowlist, 'nginx:1.27'];
  // The same document behind a `%YAML` directive: outside the plain block YAML that
  // lambdas/core/allowlist/yaml-subset.ts reads, so the first run loads the YAML library.
  const directive = path.join(scratch, 'allowlist-directive.yaml');
  writeFileSync(directive, `%YAML 1.2\n---\n${readFileSync(allowlist, 'utf8')}`);
  const checkLibrary = ['check', '--allowlist', directive, 'nginx:1.27'];
  const cases: [string, string[], Env][] = [
    ['installed: --help', [cli, '--help'], warmCache],
    ['installed: --version', [cli, '--version'], warmCache],
    ['installed: check IMAGE (allowlist cached)', [cli, ...check], warmCache],
    ['installed: check IMAGE (first run: no cache)', [cli, ...check], coldCache],
    ['installed: check IMAGE (first run, YAML library)', [cli, ...checkLibrary], coldCache],
    ['installed: ref IMAGE', [cli, 'ref', 'nginx:1.27'], warmCache],
    ['sources: --help', ['bin/regwatch.ts', '--help'], warmCache],
    ['sources: check IMAGE', ['bin/regwatch.ts', ...check], warmCache],
  ];
  const results: BenchResult[] = [];
  try {
    for (const [name, args, env] of cases) {
      const [ms, baseMs] = paired(args, env, bare);
      // Lower is better: the ratio is how many times `node -e 0` the command takes.
      results.push({
        name,
        value: ms,
        unit: 'ms',
        baseline: { name: 'node -e 0', value: baseMs },
        ratio: ms / baseMs,
        note: name.startsWith('installed') ? 'target <= 3x' : 'checkout (type stripping)',
      });
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return results;
}

if (import.meta.main) {
  const { report } = await import('./lib.ts');
  report(await run());
}
