/**
 * `npm run build`: the installable package's JavaScript in `dist/`.
 * - `dist/regwatch.js` + `dist/chunks/`: the CLI, bundled with esbuild and split at each
 *   command's dynamic import, so a command loads only its own code (`check` never loads the AWS
 *   SDK). Source maps beside every file.
 * - `dist/validate/`: the allowlist reader and validator (`cli/allowlist-parse.ts`), a bundle of
 *   its own that the CLI's chunks import when the allowlist cache has no entry for a file.
 * - `dist/forwarder/main.mjs`: the forwarder bundle (the same one its container image runs).
 * The development workflow needs none of this: `npx regwatch` in a checkout runs the sources.
 */
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { type BuildOptions, build, type Plugin } from 'esbuild';
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

/** Where the CLI's chunks import the validator bundle from (they sit in `chunks/`). */
const VALIDATOR_IMPORT = '../validate/allowlist-parse.js';

/**
 * The main bundle takes `cli/allowlist-parse.ts` from the validator bundle instead of bundling
 * it: inside the main bundle, zod's core would be the chunk every command shares, holding what
 * all of their (classic zod) schemas use; on its own it holds only what the allowlist schema
 * uses, which loads in a fraction of the time on `check`'s first run of a file.
 */
const validatorExternal: Plugin = {
  name: 'regwatch-validator-external',
  setup(b) {
    b.onResolve({ filter: /\/allowlist-parse\.ts$/ }, (args) =>
      path.resolve(args.resolveDir, args.path) === path.join(ROOT, 'cli/allowlist-parse.ts')
        ? { path: VALIDATOR_IMPORT, external: true }
        : undefined,
    );
  },
};

const SHARED_OPTIONS = {
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
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
  legalComments: 'external',
  banner: { js: REQUIRE_SHIM },
} as const satisfies BuildOptions;

/** `dist/validate/`: reading and validating allowlist text (the YAML library a chunk of its own). */
async function buildValidator(outdir: string): Promise<number> {
  const result = await build({
    ...SHARED_OPTIONS,
    entryPoints: { 'allowlist-parse': path.join(ROOT, 'cli/allowlist-parse.ts') },
    outdir: path.join(outdir, 'validate'),
  });
  return Object.values(result.metafile.outputs).reduce((a, o) => a + o.bytes, 0);
}

export async function buildCli(outdir = DIST): Promise<number> {
  const validatorBytes = await buildValidator(outdir);
  const result = await build({
    ...SHARED_OPTIONS,
    plugins: [validatorExternal],
    define: { REGWATCH_VALIDATOR_ID: JSON.stringify(await validatorId()) },
    entryPoints: { regwatch: path.join(ROOT, 'bin/regwatch.ts') },
    outdir,
    external: [...CLI_EXTERNALS, 'bufferutil', 'utf-8-validate'],
  });
  // The relative import resolves only from a chunk in `chunks/`.
  for (const [file, output] of Object.entries(result.metafile.outputs)) {
    const imports = output.imports.some((i) => i.path === VALIDATOR_IMPORT);
    if (imports && path.basename(path.dirname(file)) !== 'chunks') {
      throw new Error(`${file} imports ${VALIDATOR_IMPORT} but is not in chunks/`);
    }
  }
  return validatorBytes + Object.values(result.metafile.outputs).reduce((a, o) => a + o.bytes, 0);
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
