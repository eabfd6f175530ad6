/**
 * Replay throughput: `regwatch replay` (read, pre-filter, interpret, evaluate, aggregate) over a
 * generated EKS-like audit log of at least 200 MB, beside `jq` extracting only pod images from
 * the same file, both as whole processes (start-up included; target ≥ 8× jq) and in-process.
 *
 * Processes timed: the CLI as an installed package runs it (`bin/regwatch.js` taking the built
 * `dist/`, see installed.ts), and the sources as `npx regwatch` runs them in a checkout. Each
 * process's user + system CPU time is reported too: steadier than wall time on a shared machine.
 *
 *   npx node bench/replay.ts [--mb 200] [--runs 3] [--threads N]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { replayFiles } from '../cli/commands/replay.ts';
import { compileAllowlist, parseAllowlist } from '../lambdas/core/allowlist/index.ts';
import { writeAuditLog } from './gen-audit-log.ts';
import { installedCli } from './installed.ts';
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

/**
 * Wall time of a whole process (spawn to exit) and its user + system CPU time (from
 * `/usr/bin/time` when there is one), or null when it failed.
 */
function timeProcess(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): { ms: number; cpuMs: number | null } | null {
  const time = existsSync('/usr/bin/time');
  const start = performance.now();
  const res = time
    ? spawnSync('/usr/bin/time', ['-f', '\nregwatch-bench-cpu %U %S', cmd, ...args], {
        stdio: ['ignore', 'ignore', 'pipe'],
        maxBuffer: 1 << 26,
        env,
      })
    : spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26, env });
  const ms = performance.now() - start;
  // replay exits 1 when there are findings.
  if (res.error || (res.status !== 0 && res.status !== 1)) return null;
  const m = /regwatch-bench-cpu ([\d.]+) ([\d.]+)\s*$/.exec(res.stderr.toString());
  return { ms, cpuMs: m ? (Number(m[1]) + Number(m[2])) * 1000 : null };
}

function timeJq(file: string): { ms: number; cpuMs: number | null } | null {
  const which = spawnSync('jq', ['--version'], { stdio: 'ignore' });
  if (which.error || which.status !== 0) return null;
  return timeProcess('jq', ['-c', JQ_POD_IMAGES, file], process.env);
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
  const installed = await installedCli();
  const processes: Record<string, { args: string[]; times: number[]; cpu: number[] }> = {
    'regwatch replay process (installed package)': {
      args: [installed, ...replayArgs],
      times: [],
      cpu: [],
    },
    'regwatch replay process (sources in a checkout)': {
      args: [path.join(root, 'bin', 'regwatch.ts'), ...replayArgs],
      times: [],
      cpu: [],
    },
  };
  // The allowlist cache as on a user's machine: warm after the first run.
  const cacheHome = mkdtempSync(path.join(tmpdir(), 'regwatch-bench-replay-'));
  const env = { ...process.env, XDG_CACHE_HOME: cacheHome, CI: '', REGWATCH_CACHE: '' };
  for (const p of Object.values(processes)) timeProcess(process.execPath, p.args, env);
  const jqCpu: number[] = [];
  // Interleaved, so load from other work on the machine falls on every variant alike.
  for (let i = 0; i < runs; i++) {
    const t = timeJq(file);
    if (t !== null) {
      jqTimes.push(t.ms);
      if (t.cpuMs !== null) jqCpu.push(t.cpuMs);
    }
    for (const p of Object.values(processes)) {
      const r = timeProcess(process.execPath, p.args, env);
      if (r !== null) {
        p.times.push(r.ms);
        if (r.cpuMs !== null) p.cpu.push(r.cpuMs);
      }
    }
  }
  rmSync(cacheHome, { recursive: true, force: true });
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
    const spread = (xs: readonly number[]) =>
      `${(Math.min(...xs) / 1000).toFixed(2)}–${(Math.max(...xs) / 1000).toFixed(2)} s`;
    for (const [name, p] of Object.entries(processes)) {
      if (p.times.length === 0) continue;
      const ms = median(p.times);
      const cpu =
        p.cpu.length > 0 && jqCpu.length > 0
          ? `; CPU ${spread(p.cpu)} vs jq ${spread(jqCpu)}: ${(median(jqCpu) / median(p.cpu)).toFixed(2)}x`
          : '';
      results.push(
        versus(
          name,
          bytes / 1e6 / (ms / 1000),
          'MB/s',
          { name: 'jq process (pod images only)', value: jqMbps },
          `wall ${spread(p.times)} (jq ${spread(jqTimes)})${cpu}; target ≥ 8x`,
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
