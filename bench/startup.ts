/**
 * CLI start-up: the built CLI (`dist/regwatch.js`, built first) as a whole process, against a
 * bare `node -e 0` measured in the same run, runs interleaved (A B A B …) so drift hits both.
 * Target (issue "Ship the CLI"): `check IMAGE` and `--help` within 3× of `node -e 0`.
 * Also the sources run directly (`bin/regwatch.ts`), which is what `npx regwatch` does in a
 * checkout, for comparison.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { buildCli } from '../scripts/build.ts';
import { type BenchResult, median } from './lib.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const RUNS = 21;

function wallMs(args: readonly string[]): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'ignore' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.error) throw r.error;
  return ms;
}

/** Median wall time of `args` and of the baseline, interleaved, after one warm-up each. */
function paired(args: readonly string[], baseline: readonly string[]): [number, number] {
  wallMs(args);
  wallMs(baseline);
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    a.push(wallMs(args));
    b.push(wallMs(baseline));
  }
  return [median(a), median(b)];
}

export async function run(): Promise<BenchResult[]> {
  await buildCli();
  const bare = ['-e', '0'];
  const allowlist = path.join(ROOT, 'examples/allowlist.yaml');
  const cases: [string, string[]][] = [
    ['dist: --help', ['dist/regwatch.js', '--help']],
    ['dist: --version', ['dist/regwatch.js', '--version']],
    ['dist: check IMAGE', ['dist/regwatch.js', 'check', '--allowlist', allowlist, 'nginx:1.27']],
    ['dist: ref IMAGE', ['dist/regwatch.js', 'ref', 'nginx:1.27']],
    ['sources: --help', ['bin/regwatch.ts', '--help']],
    ['sources: check IMAGE', ['bin/regwatch.ts', 'check', '--allowlist', allowlist, 'nginx:1.27']],
  ];
  const results: BenchResult[] = [];
  for (const [name, args] of cases) {
    const [ms, baseMs] = paired(args, bare);
    // Lower is better: the ratio is how many times `node -e 0` the command takes.
    results.push({
      name,
      value: ms,
      unit: 'ms',
      baseline: { name: 'node -e 0', value: baseMs },
      ratio: ms / baseMs,
      note: name.startsWith('dist') ? 'target <= 3x' : 'checkout (type stripping)',
    });
  }
  return results;
}

if (import.meta.main) {
  const { report } = await import('./lib.ts');
  report(await run());
}
