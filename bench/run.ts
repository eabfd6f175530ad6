/**
 * `npm run bench [name…]`: runs every bench module in this folder that exports `run()`
 * (or only the named ones), one after another so they do not compete for the two cores,
 * prints each figure against its same-run baseline and writes `bench/out/latest.json`.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BenchResult, report } from './lib.ts';

const here = import.meta.dirname;
const NOT_BENCHES = new Set(['lib', 'run', 'installed']);

const wanted = process.argv.slice(2);
const names = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !f.startsWith('gen-'))
  .map((f) => f.slice(0, -3))
  .filter((n) => !NOT_BENCHES.has(n) && (wanted.length === 0 || wanted.includes(n)))
  .sort();

const all: Record<string, BenchResult[]> = {};
let failed = false;
for (const name of names) {
  const mod = (await import(pathToFileURL(path.join(here, `${name}.ts`)).href)) as {
    run?: () => Promise<BenchResult[]>;
  };
  if (typeof mod.run !== 'function') continue;
  console.log(`\n## ${name}`);
  try {
    const results = await mod.run();
    report(results);
    all[name] = results;
  } catch (err) {
    failed = true;
    console.error(`bench ${name} failed: ${err instanceof Error ? err.stack : String(err)}`);
  }
}
mkdirSync(path.join(here, 'out'), { recursive: true });
writeFileSync(
  path.join(here, 'out', 'latest.json'),
  `${JSON.stringify({ at: new Date().toISOString(), node: process.version, results: all }, null, 2)}\n`,
);
process.exitCode = failed ? 1 : 0;
