/**
 * Bundles the forwarder for the container image: `node forwarder/build.ts [outfile]` (default
 * `forwarder/dist/main.mjs`) writes the entry there and its chunks under `chunks/` beside it;
 * the image copies that directory. Everything is inlined, so the image needs no node_modules
 * and no shell. Split at each dynamic import: what a cluster with a service-account token
 * and the http or EventBridge sink never needs (client-node, yaml for kubeconfigs, the AWS SDK
 * until the EventBridge sink is chosen) is a chunk loaded only when asked for. Parsing it all
 * at start-up cost ~30 MiB of RSS (docs/performance.md "Forwarder").
 */
import path from 'node:path';
import { type BuildResult, build, type Metafile } from 'esbuild';

export const ENTRY = path.resolve(import.meta.dirname, 'src/main.ts');

/**
 * Optional native speed-ups that `ws` (pulled in by client-node) tries in a try/catch and
 * does without; left out of the bundle on purpose.
 */
export const OPTIONAL_EXTERNALS = ['bufferutil', 'utf-8-validate'] as const;

export async function bundle(outfile: string): Promise<BuildResult<{ metafile: true }>> {
  return build({
    entryPoints: { [path.basename(outfile).replace(/\.mjs$/, '')]: ENTRY },
    outdir: path.dirname(outfile),
    entryNames: '[name]',
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    splitting: true,
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

/** Output files loaded at start-up: the entry and every chunk it imports statically. */
export function startupOutputs(metafile: Metafile, outfile: string): string[] {
  const outputs = metafile.outputs;
  const entry = Object.keys(outputs).find((o) => path.resolve(o) === path.resolve(outfile));
  if (!entry) throw new Error(`${outfile} is not an output of this build`);
  const seen = new Set<string>();
  const visit = (o: string) => {
    if (seen.has(o)) return;
    seen.add(o);
    for (const i of outputs[o]?.imports ?? []) {
      if (i.kind === 'import-statement' && !i.external) visit(i.path);
    }
  };
  visit(entry);
  return [...seen];
}

/** Source files (and package files) whose code is in the start-up outputs. */
export function startupInputs(metafile: Metafile, outfile: string): string[] {
  return startupOutputs(metafile, outfile).flatMap((o) =>
    Object.keys(metafile.outputs[o]?.inputs ?? {}),
  );
}

if (import.meta.main) {
  const out = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, 'dist/main.mjs'));
  const result = await bundle(out);
  const bytes = Object.values(result.metafile.outputs).reduce((a, o) => a + o.bytes, 0);
  process.stdout.write(`bundled ${path.relative(process.cwd(), out)} (${bytes} bytes)\n`);
}
