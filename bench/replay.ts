/**
 * Replay throughput: `regwatch replay` (read, pre-filter, interpret, evaluate, aggregate) over a
 * generated EKS-like audit log of at least 200 MB, beside `jq` extracting only pod images from
 * the same file, both as whole processes (start-up included; target ≥ 8× jq) and in-process.
 *
 * Processes timed: `bin/regwatch.ts replay` as shipped (every command's modules load); the CLI
 * with only `replay` registered (what lazy command loading gives); the same bundled with
 * esbuild (what a `dist/` build gives: no type stripping, one file).
 *
 *   npx node bench/replay.ts [--mb 200] [--runs 3] [--threads N]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { replayFiles } from '../cli/commands/replay.ts';
import { compileAllowlist, parseAllowlist } from '../lambdas/core/allowlist/index.ts';
import { writeAuditLog } from './gen-audit-log.ts';
import { type BenchResult, median, versus } from './lib.ts';

const root = path.resolve(import.meta.dirname, '..');
const JQ_POD_IMAGES =
  'select(.objectRef.resource == "pods" and (.verb == "create" or .verb == "update" or .verb == "patch")) ' +
  '| (.responseObject // .requestObject) | .spec? ' +
  '| ((.containers // []) + (.initContainers // []) + (.ephemeralContainers // [])) | .[].image';

async function logFile(mb: number): Promise<string> {
  const dir = path.join(root, 'bench', 'out');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `audit-${mb}mb.jsonl`);
  if (!existsSync(file) || statSync(file).size < mb * 1_000_000) {
    await writeAuditLog(file, { seed: 7, bytes: mb * 1_000_000 });
  }
  return file;
}

/** Wall time of a whole process (spawn to exit), or null when it failed. */
function timeProcess(cmd: string, args: readonly string[]): number | null {
  const start = performance.now();
  const res = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
  const ms = performance.now() - start;
  // replay exits 1 when there are findings.
  if (res.error || (res.status !== 0 && res.status !== 1)) return null;
  return ms;
}

/** `bench/entries/replay-cli.ts` bundled like a `dist/` build (esbuild, ESM, minified). */
async function bundleReplayCli(): Promise<string> {
  const { build } = await import('esbuild');
  const { ESM_REQUIRE_BANNER } = await import('../lib/constructs/handler-function.ts');
  const outfile = path.join(root, 'bench', 'out', 'replay-cli.mjs');
  await build({
    entryPoints: [path.join(root, 'bench', 'entries', 'replay-cli.ts')],
    outfile,
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    banner: { js: ESM_REQUIRE_BANNER },
    logLevel: 'error',
  });
  return outfile;
}

function timeJq(file: string): number | null {
  const start = performance.now();
  const res = spawnSync('jq', ['-c', JQ_POD_IMAGES, file], {
    stdio: ['ignore', 'ignore', 'pipe'],
    maxBuffer: 1 << 26,
  });
  if (res.error || res.status !== 0) return null;
  return performance.now() - start;
}

export async function run(
  opts: { mb?: number; runs?: number; threads?: number } = {},
): Promise<BenchResult[]> {
  const mb = opts.mb ?? 200;
  const runs = opts.runs ?? 3;
  const file = await logFile(mb);
  const bytes = statSync(file).size;
  const document = parseAllowlist(
    readFileSync(path.join(root, 'examples', 'allowlist.yaml'), 'utf8'),
  );
  const allowlist = compileAllowlist(document);

  const ours: number[] = [];
  let events = 0;
  let findings = 0;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    // As `regwatch replay` runs it: worker threads for a large JSON-lines file (--threads).
    const result = await replayFiles([file], {
      allowlist,
      allowlistDocument: document,
      cluster: 'bench',
      ...(opts.threads ? { threads: opts.threads } : {}),
    });
    ours.push(performance.now() - start);
    events = result.summary.reader.events;
    findings = result.findings.length;
  }
  const jqTimes: number[] = [];
  const replayArgs = [
    'replay',
    file,
    '--allowlist',
    path.join(root, 'examples', 'allowlist.yaml'),
    '--cluster',
    'bench',
    '--quiet',
    ...(opts.threads ? ['--threads', String(opts.threads)] : []),
  ];
  const bundle = await bundleReplayCli();
  const processes: Record<string, { args: string[]; times: number[] }> = {
    'regwatch replay process (bin, all commands load)': {
      args: [path.join(root, 'bin', 'regwatch.ts'), ...replayArgs],
      times: [],
    },
    'regwatch replay process (replay only: lazy loading)': {
      args: [path.join(root, 'bench', 'entries', 'replay-cli.ts'), ...replayArgs],
      times: [],
    },
    'regwatch replay process (replay only, bundled)': { args: [bundle, ...replayArgs], times: [] },
  };
  // Interleaved, so load from other work on the machine falls on every variant alike.
  for (let i = 0; i < runs; i++) {
    const t = timeJq(file);
    if (t !== null) jqTimes.push(t);
    for (const p of Object.values(processes)) {
      const ms = timeProcess(process.execPath, p.args);
      if (ms !== null) p.times.push(ms);
    }
  }
  const oursMs = median(ours);
  const mbps = bytes / 1e6 / (oursMs / 1000);
  const results: BenchResult[] = [
    {
      name: 'replay events/s',
      value: events / (oursMs / 1000),
      unit: 'events/s',
      note: `${events.toLocaleString('en-US')} events, ${findings} findings, ${(bytes / 1e6).toFixed(0)} MB`,
    },
  ];
  if (jqTimes.length > 0) {
    const jqMbps = bytes / 1e6 / (median(jqTimes) / 1000);
    results.push(
      versus(
        'replay throughput',
        mbps,
        'MB/s',
        { name: 'jq (pod images only)', value: jqMbps },
        'in-process, no start-up',
      ),
    );
    for (const [name, p] of Object.entries(processes)) {
      if (p.times.length === 0) continue;
      const ms = median(p.times);
      results.push(
        versus(
          name,
          bytes / 1e6 / (ms / 1000),
          'MB/s',
          { name: 'jq process (pod images only)', value: jqMbps },
          `${(ms / 1000).toFixed(2)} s wall; target ≥ 8x`,
        ),
      );
    }
  } else {
    results.push({
      name: 'replay throughput',
      value: mbps,
      unit: 'MB/s',
      note: 'jq not found: no baseline',
    });
  }
  return results;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { mb: { type: 'string' }, runs: { type: 'string' }, threads: { type: 'string' } },
  });
  const { report } = await import('./lib.ts');
  report(
    await run({
      ...(values.mb ? { mb: Number(values.mb) } : {}),
      ...(values.runs ? { runs: Number(values.runs) } : {}),
      ...(values.threads ? { threads: Number(values.threads) } : {}),
    }),
  );
}
