import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAuditLog } from '../../bench/gen-audit-log.ts';
import { findingJson, replayFiles } from '../../cli/commands/replay.ts';
import type { ReplayProgress } from '../../cli/replay-progress.ts';
import { splitAtNewlines } from '../../lambdas/adapters/auditlog/reader.ts';
import {
  DecisionCache,
  MAX_LISTED_MALFORMED,
} from '../../lambdas/adapters/auditlog/replay-pipeline.ts';
import {
  type ReplayRangeTask,
  replayRange,
  replayRanges,
} from '../../lambdas/adapters/auditlog/replay-worker.ts';
import { compileAllowlist, parseAllowlist } from '../../lambdas/core/allowlist/index.ts';
import { jsonLines, runCli } from '../helpers/cli.ts';
import { SHARED_FIXTURES } from '../helpers/fixtures.ts';

const EXAMPLE = path.resolve(import.meta.dirname, '../../examples/allowlist.yaml');
const BROKEN = '{"kind": "Event", broken';

describe('replay fast paths give the plain path’s results', () => {
  let dir: string;
  let file: string;
  /** 1-based line numbers of the malformed lines put into the log. */
  const brokenLines: number[] = [];
  const document = parseAllowlist(readFileSync(EXAMPLE, 'utf8'));
  const allowlist = compileAllowlist(document);

  beforeAll(() => {
    // Prepare: a 6 MB generated EKS log with malformed, plain-text, blank and CRLF lines spread
    // through it, so several ranges hold some and line numbers must be carried across ranges.
    dir = mkdtempSync(path.join(tmpdir(), 'regwatch-replay-par-'));
    file = path.join(dir, 'audit.jsonl');
    const lines: string[] = [];
    let n = 0;
    for (const g of generateAuditLog({ seed: 11, bytes: 6_000_000 })) {
      n++;
      if (n % 40 === 0) {
        lines.push(BROKEN);
        brokenLines.push(lines.length);
      }
      if (n % 997 === 0) lines.push('I1125 12:00:00 plain text from a log shipper');
      if (n % 1009 === 0) lines.push('');
      lines.push(n % 13 === 0 ? `${g.line}\r` : g.line);
    }
    writeFileSync(file, `${lines.join('\n')}\n`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('progress counts every range read in parallel, and ends at the file size', async () => {
    // Prepare
    let progress: ReplayProgress | undefined;
    // Act
    const run = await replayFiles([file], {
      allowlist,
      allowlistDocument: document,
      cluster: 'c1',
      threads: 3,
      parallelMinBytes: 0,
      onProgress: (p) => {
        progress = p;
      },
    });
    // Assess
    expect(run.summary.parallelRanges).toBeGreaterThanOrEqual(3);
    expect(progress?.totalBytes).toBe(statSync(file).size);
    expect(progress?.bytes()).toBe(statSync(file).size);
    expect(progress?.events()).toBe(run.summary.reader.events);
    expect(progress?.findings()).toBe(run.findings.length);
  });

  it('replayRanges tells about each range as it is done (what progress adds up)', async () => {
    // Prepare
    const size = statSync(file).size;
    const ranges = await splitAtNewlines(file, size, 6);
    const tasks = ranges.map((range) => ({
      path: file,
      file: 'audit.jsonl',
      cluster: 'c1',
      atMs: null,
      range,
    }));
    const seen: number[] = [];
    // Act
    const results = await replayRanges(tasks, {
      allowlist,
      document,
      decider: new DecisionCache(allowlist),
      workers: 2,
      onRange: (r) => seen.push(r.counts.reader.bytes),
    });
    // Assess
    expect(seen).toHaveLength(tasks.length);
    expect(seen.reduce((a, b) => a + b, 0)).toBe(size);
    expect([...seen].sort()).toEqual(results.map((r) => r.counts.reader.bytes).sort());
  });

  it('--max-record-bytes reaches the worker threads: the same lines are refused', async () => {
    // Act
    const opts = { allowlist, cluster: 'c1', maxRecordBytes: 4096 };
    const plain = await replayFiles([file], { ...opts, reference: true });
    const threeThreads = await replayFiles([file], {
      ...opts,
      allowlistDocument: document,
      threads: 3,
      parallelMinBytes: 0,
    });
    // Assess
    expect(threeThreads.summary.parallelRanges).toBeGreaterThanOrEqual(3);
    expect(plain.summary.reader.malformed).toBeGreaterThan(brokenLines.length);
    expect({ ...threeThreads.summary, parallelRanges: 0 }).toEqual(plain.summary);
  });

  it('same findings, counts, skip reasons and malformed line numbers on 1 and 3 threads', async () => {
    // Act
    const plain = await replayFiles([file], { allowlist, cluster: 'c1', reference: true });
    const oneThread = await replayFiles([file], {
      allowlist,
      allowlistDocument: document,
      cluster: 'c1',
      threads: 1,
    });
    const threeThreads = await replayFiles([file], {
      allowlist,
      allowlistDocument: document,
      cluster: 'c1',
      threads: 3,
      parallelMinBytes: 0,
    });
    // Assess
    expect(plain.summary.parallelRanges).toBe(0);
    expect(oneThread.summary.parallelRanges).toBe(0);
    expect(threeThreads.summary.parallelRanges).toBeGreaterThanOrEqual(3);
    expect(plain.findings.length).toBeGreaterThan(50);
    expect(plain.summary.reader.prefiltered).toBeGreaterThan(plain.summary.reader.events / 2);
    expect(plain.summary.reader.malformed).toBe(brokenLines.length);
    expect(plain.summary.malformed.map((m) => m.line)).toEqual(
      brokenLines.slice(0, MAX_LISTED_MALFORMED),
    );
    expect(brokenLines.length).toBeGreaterThan(MAX_LISTED_MALFORMED);
    for (const run of [oneThread, threeThreads]) {
      expect(run.findings).toEqual(plain.findings);
      expect(run.findings.map(findingJson)).toEqual(plain.findings.map(findingJson));
      expect({ ...run.summary, parallelRanges: 0 }).toEqual(plain.summary);
      expect(Object.keys(run.summary.skipped)).toEqual(Object.keys(plain.summary.skipped));
    }
  });

  it('same results when judged at one time (--at), where the expiring exception has lapsed', async () => {
    // Act
    const at = new Date('2027-01-01T00:00:00Z');
    const plain = await replayFiles([file], { allowlist, at, reference: true });
    const parallel = await replayFiles([file], {
      allowlist,
      allowlistDocument: document,
      at,
      threads: 2,
      parallelMinBytes: 0,
    });
    // Assess
    expect(parallel.summary.parallelRanges).toBeGreaterThanOrEqual(2);
    expect(parallel.findings).toEqual(plain.findings);
    expect({ ...parallel.summary, parallelRanges: 0 }).toEqual(plain.summary);
    expect(plain.findings.some((f) => f.rule === 'expired-exception')).toBe(true);
  });

  it('ranges cut at newlines cover the file; a range read in a worker equals one read here', async () => {
    // Prepare
    const size = statSync(file).size;
    const ranges = await splitAtNewlines(file, size, 5);
    const bytes = readFileSync(file);
    const tasks: ReplayRangeTask[] = ranges.map((range) => ({
      path: file,
      file: 'audit.jsonl',
      cluster: 'c1',
      atMs: null,
      range,
    }));
    // Act
    const inWorkers = await replayRanges(tasks, {
      allowlist,
      document,
      decider: new DecisionCache(allowlist),
      workers: 2,
    });
    const here = [];
    for (const t of tasks) here.push(await replayRange(t, allowlist));
    // Assess
    expect(ranges).toHaveLength(5);
    expect(ranges[0]?.start).toBe(0);
    expect(ranges.at(-1)?.end).toBe(size);
    for (const [i, r] of ranges.entries()) {
      if (i > 0) expect(bytes[r.start - 1]).toBe(10);
      expect(r.start).toBe(i === 0 ? 0 : ranges[i - 1]?.end);
    }
    expect(inWorkers).toEqual(here);
  });

  it('decision cache: an expiring rule is judged at each event’s time, not remembered', () => {
    // Prepare
    const doc = parseAllowlist(
      `version: 1\nrules:\n  - id: tmp\n    image: "docker.io/library/nginx"\n    expiresAt: "2026-01-01T00:00:00Z"\n`,
    );
    const cache = new DecisionCache(compileAllowlist(doc));
    const scope = { cluster: 'c', namespace: 'n' };
    // Act
    const before = cache.decide('nginx:1', scope, new Date('2025-06-01T00:00:00Z'));
    const after = cache.decide('nginx:1', scope, new Date('2026-06-01T00:00:00Z'));
    const other1 = cache.decide('ghcr.io/x/y:1', scope, new Date('2025-06-01T00:00:00Z'));
    const other2 = cache.decide('ghcr.io/x/y:1', scope, new Date('2026-06-01T00:00:00Z'));
    // Assess
    expect(before.allowed).toBe(true);
    expect(after.violations.map((v) => v.rule)).toEqual(['expired-exception']);
    expect(other2).toBe(other1);
  });
});

describe('regwatch replay --threads', () => {
  it('rejects a thread count that is not a positive whole number', async () => {
    // Act
    const run = await runCli(['replay', '--allowlist', EXAMPLE, '--threads', '0', EXAMPLE]);
    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--threads');
  });

  it('prints the same with --threads 1 as by default', async () => {
    // Prepare
    const log = path.join(SHARED_FIXTURES, 'audit-events/constructed/eks-audit-events.jsonl');
    // Act
    const one = await runCli(['replay', '--allowlist', EXAMPLE, '--threads', '1', '--json', log]);
    const auto = await runCli(['replay', '--allowlist', EXAMPLE, '--json', log]);
    // Assess
    expect(jsonLines(one.stdout).length).toBeGreaterThan(0);
    expect(one).toEqual(auto);
  });
});
