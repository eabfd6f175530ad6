/**
 * Replay throughput: `regwatch replay` (read, pre-filter, interpret, evaluate, aggregate) over a
 * generated EKS-like audit log of at least 200 MB, beside `jq` extracting only pod images from
 * the same file. Target: at least 5× jq's throughput.
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
  for (let i = 0; i < runs; i++) {
    const t = timeJq(file);
    if (t !== null) jqTimes.push(t);
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
        'target ≥ 5x',
      ),
    );
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
