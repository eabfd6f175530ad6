/**
 * The CLI as an installed package runs it, for the process benches: `npm run build`'s dist/
 * with the package's own launcher (`bin/regwatch.js`) beside it and no TypeScript sources, so
 * the launcher takes dist/ exactly as it does under `node_modules/regwatch/`. Built into
 * `bench/out/package/`; the repository's node_modules resolve the one external (dynalite).
 */
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildCli } from '../scripts/build.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

/** Path of the launcher to run with `node`. */
export async function installedCli(): Promise<string> {
  const dir = path.join(ROOT, 'bench', 'out', 'package');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'bin'), { recursive: true });
  await buildCli(path.join(dir, 'dist'));
  copyFileSync(path.join(ROOT, 'bin', 'regwatch.js'), path.join(dir, 'bin', 'regwatch.js'));
  writeFileSync(
    path.join(dir, 'package.json'),
    `${JSON.stringify({ name: 'regwatch', private: true, type: 'module' })}\n`,
  );
  return path.join(dir, 'bin', 'regwatch.js');
}
