/**
 * `npm run build`: the installable package's JavaScript in `dist/`.
 * - `dist/regwatch.js` + `dist/chunks/`: the CLI, bundled with esbuild and split at each
 *   command's dynamic import, so a command loads only its own code (`check` never loads the AWS
 *   SDK). Source maps beside every file.
 * - `dist/forwarder/main.mjs`: the forwarder bundle (the same one its container image runs).
 * The development workflow needs none of this: `npx regwatch` in a checkout runs the sources.
 */
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { bundle as bundleForwarder } from '../forwarder/build.ts';

export const ROOT = path.resolve(import.meta.dirname, '..');
export const DIST = path.join(ROOT, 'dist');

/** Loaded at run time from the package's own node_modules: native code (leveldb). */
export const CLI_EXTERNALS = ['dynalite'] as const;

const REQUIRE_SHIM =
  "import { createRequire as __regwatchCreateRequire } from 'node:module'; const require = __regwatchCreateRequire(import.meta.url);";

/**
 * The allowlist cache's validator id (cli/build-id.ts): a hash of every file that goes into
 * reading and validating an allowlist (cli/allowlist-parse.ts and all it imports, zod and yaml
 * included), of the cache's own code and of the package version. Any change to how a file is
 * judged valid changes it, so entries made by another build are never used.
 */
export async function validatorId(): Promise<string> {
  const graph = await build({
    entryPoints: [
      path.join(ROOT, 'cli/allowlist-parse.ts'),
      path.join(ROOT, 'cli/allowlist-cache.ts'),
    ],
    bundle: true,
    write: false,
    outdir: path.join(ROOT, 'dist-validator-id'),
    absWorkingDir: ROOT,
    platform: 'node',
    format: 'esm',
    metafile: true,
    logLevel: 'warning',
  });
  const hash = createHash('sha256');
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
  };
  hash.update(`regwatch ${pkg.version}\0`);
  for (const input of Object.keys(graph.metafile.inputs).sort()) {
    hash.update(`${input}\0`);
    hash.update(readFileSync(path.resolve(ROOT, input)));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 32);
}

export async function buildCli(outdir = DIST): Promise<number> {
  const result = await build({
    define: { REGWATCH_VALIDATOR_ID: JSON.stringify(await validatorId()) },
    entryPoints: { regwatch: path.join(ROOT, 'bin/regwatch.ts') },
    outdir,
    entryNames: '[name]',
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    platform: 'node',
    // The oldest Node that `engines` allows.
    target: 'node22',
    format: 'esm',
    minify: true,
    sourcemap: 'linked',
    sourcesContent: false,
    metafile: true,
    external: [...CLI_EXTERNALS, 'bufferutil', 'utf-8-validate'],
    logLevel: 'warning',
    legalComments: 'external',
    banner: { js: REQUIRE_SHIM },
  });
  return Object.values(result.metafile.outputs).reduce((a, o) => a + o.bytes, 0);
}

if (import.meta.main) {
  rmSync(DIST, { recursive: true, force: true });
  const cliBytes = await buildCli();
  const fw = await bundleForwarder(path.join(DIST, 'forwarder/main.mjs'));
  const fwBytes = Object.values(fw.metafile.outputs).reduce((a, o) => a + o.bytes, 0);
  // stderr: `npm pack --json` prints its report on stdout after this.
  process.stderr.write(
    `built dist/regwatch.js (${Math.round(cliBytes / 1024)} KiB with chunks and maps), dist/forwarder/main.mjs (${Math.round(fwBytes / 1024)} KiB)\n`,
  );
}
