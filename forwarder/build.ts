/**
 * Bundles the forwarder into one ESM file for the container image: `node forwarder/build.ts
 * [outfile]` (default `forwarder/dist/main.mjs`). Everything is inlined, so the runtime
 * image needs no node_modules and no shell.
 */
import path from 'node:path';
import { type BuildResult, build } from 'esbuild';

export const ENTRY = path.resolve(import.meta.dirname, 'src/main.ts');

/**
 * Optional native speed-ups that `ws` (pulled in by client-node) tries in a try/catch and
 * does without; left out of the bundle on purpose.
 */
export const OPTIONAL_EXTERNALS = ['bufferutil', 'utf-8-validate'] as const;

export async function bundle(outfile: string): Promise<BuildResult<{ metafile: true }>> {
  return build({
    entryPoints: [ENTRY],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    minify: true,
    sourcemap: false,
    metafile: true,
    external: [...OPTIONAL_EXTERNALS],
    logLevel: 'warning',
    legalComments: 'external',
    // Some bundled CommonJS dependencies call require() for Node built-ins.
    banner: {
      js: "import { createRequire as __regwatchCreateRequire } from 'node:module'; const require = __regwatchCreateRequire(import.meta.url);",
    },
  });
}

if (import.meta.main) {
  const out = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, 'dist/main.mjs'));
  const result = await bundle(out);
  const bytes = Object.values(result.metafile.outputs).reduce((a, o) => a + o.bytes, 0);
  process.stdout.write(`bundled ${path.relative(process.cwd(), out)} (${bytes} bytes)\n`);
}
