/**
 * Resource tests: each bomb runs in its own child process (`bomb-child.ts`) that reports its
 * peak RSS; the ceiling is the issue's: a 1 MB gzip inflating to 1 GiB, a 2 GiB single line,
 * a 5 MiB body of junk records must each leave RSS under 512 MiB, and end with a named error
 * or a report, never a crash. Bombs are generated here; nothing large is committed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gzipBomb } from '../helpers/bombs.ts';

const CHILD = path.resolve(import.meta.dirname, 'bomb-child.ts');
const CEILING_MIB = 512;
const GiB = 1 << 30;
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'regwatch-bombs-'));
  const bomb = gzipBomb(GiB);
  writeFileSync(path.join(dir, 'bomb.jsonl.gz'), bomb);
  writeFileSync(
    path.join(dir, 'payload.json'),
    `${JSON.stringify({ awslogs: { data: bomb.toString('base64') } })}\n`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runChild(scenario: string): { maxRssMiB: number; result: Record<string, unknown> } {
  const res = spawnSync(process.execPath, [CHILD, scenario, dir], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
    timeout: 110_000,
  });
  if (res.status !== 0) throw new Error(`${scenario} exited ${res.status}: ${res.stderr}`);
  return JSON.parse(res.stdout.trim().split('\n').at(-1) ?? '{}');
}

describe(`bombs stay under ${CEILING_MIB} MiB RSS`, { timeout: 120_000 }, () => {
  it('replay of a 1 MB .gz inflating to 1 GiB: the file is malformed, the next file is read', () => {
    // Act
    const { maxRssMiB, result } = runChild('replay-gz-bomb');
    // Assess
    expect(maxRssMiB).toBeLessThan(CEILING_MIB);
    expect(result.stderr).toMatch(
      /bomb\.jsonl\.gz:1: gzip input inflates more than 100× .*a gzip bomb\? the rest is not read/,
    );
    expect(result.stderr).toContain('2 file(s), 4 line(s), 4 audit event(s)');
    expect(result.stderr).toContain('evaluated: 3 workload write(s)');
    // No audit event in it at all: the bomb is not a quiet log but the wrong input.
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('bomb.jsonl.gz: no audit events found');
  });

  it('256 MiB of inflated JSON lines read whole (no ratio cap): memory is flat', () => {
    // Act
    const { maxRssMiB, result } = runChild('replay-gz-bomb-lines');
    // Assess
    expect(maxRssMiB).toBeLessThan(CEILING_MIB);
    expect(result.lines).toBeGreaterThan(8_000_000);
    expect(result.prefiltered).toBe(result.lines);
  });

  it('replay - of a 2 GiB single line: one malformed line, then the events after it', () => {
    // Act
    const { maxRssMiB, result } = runChild('replay-2gib-line');
    // Assess
    expect(maxRssMiB).toBeLessThan(CEILING_MIB);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `<stdin>:1: line of ${2 * GiB} bytes is longer than the limit (16777216 bytes): not read`,
    );
    expect(result.stderr).toContain('5 line(s), 4 audit event(s)');
    expect(result.stderr).toContain('evaluated: 3 workload write(s)');
  });

  it('replay - of a 256 MiB pretty-printed document: malformed, the documents after it read', () => {
    // Act
    const { maxRssMiB, result } = runChild('replay-huge-document');
    // Assess
    expect(maxRssMiB).toBeLessThan(CEILING_MIB);
    expect(result.stderr).toContain(
      '<stdin>:1: JSON document is larger than the limit (33554432 characters): not read',
    );
    expect(result.stderr).toContain('4 audit event(s)');
    expect(result.stderr).toContain('evaluated: 3 workload write(s)');
  });

  it('a CloudWatch awslogs payload inflating to 1 GiB: a ValidationError, a malformed line', () => {
    // Act
    const { maxRssMiB, result } = runChild('cloudwatch-bomb');
    // Assess
    expect(maxRssMiB).toBeLessThan(CEILING_MIB);
    expect(result.error).toBe(
      'ValidationError: awslogs.data is not base64-encoded gzip: decoded size exceeds the limit',
    );
    expect((result.cli as { stderr: string }).stderr).toContain(
      'payload.json:1: awslogs.data is not base64-encoded gzip: decoded size exceeds the limit',
    );
  });

  it('local mode: a 1 MB gzip body inflating to 1 GiB is refused at the cap', () => {
    // Act
    const { maxRssMiB, result } = runChild('local-gzip-bomb');
    // Assess
    expect(maxRssMiB).toBeLessThan(CEILING_MIB);
    expect(result).toEqual({
      status: 413,
      text: `compressed payload inflates past ${32 * 1024 * 1024} bytes`,
    });
  });

  it('local mode: a 5 MiB array of 2.6 million junk pod events gets a bounded report', () => {
    // Act
    const { maxRssMiB, result } = runChild('local-junk-array');
    // Assess
    expect(maxRssMiB).toBeLessThan(CEILING_MIB);
    expect(result).toEqual({ listed: 100, total: 2_600_001 });
  });
});
