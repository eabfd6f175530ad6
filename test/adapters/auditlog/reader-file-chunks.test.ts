/**
 * A file is read into one reused buffer (`fileChunks` in reader.ts): whatever the reader keeps
 * past a chunk (a line that goes on into the next chunk, the head read before the format is
 * known, what zlib has not inflated yet) must be a copy. Files of several MiB whose lines
 * straddle chunk boundaries, one line longer than a chunk, plain and gzip, and byte ranges
 * read the same records as the same bytes from a stream of fresh buffers.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type AuditRecord,
  newReaderStats,
  readAuditLog,
  splitAtNewlines,
} from '../../../lambdas/adapters/auditlog/reader.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'regwatch-reader-chunks-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function read(source: string | Readable, opts: Parameters<typeof readAuditLog>[1] = {}) {
  const records: AuditRecord[] = [];
  const stats = newReaderStats();
  for await (const r of readAuditLog(source, { file: 'log', ...opts, stats })) records.push(r);
  return { records, stats };
}

/** Fresh buffers of an odd size: nothing is reused, so this is the reference reading. */
function stream(bytes: Buffer): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 65_521) {
    parts.push(Buffer.from(bytes.subarray(i, i + 65_521)));
  }
  return Readable.from(parts);
}

/** A pod create the pre-filter keeps, whose image names the line it is on. */
function podCreate(i: number, padding = ''): string {
  return JSON.stringify({
    kind: 'Event',
    auditID: `id-${i}`,
    stage: 'ResponseComplete',
    verb: 'create',
    user: { username: 'dev' },
    objectRef: { resource: 'pods', namespace: 'ns', name: `p${i}` },
    responseStatus: { code: 201 },
    stageTimestamp: '2025-01-01T00:00:00Z',
    requestObject: {
      metadata: { name: `p${i}`, namespace: 'ns', annotations: { pad: padding } },
      spec: { containers: [{ name: 'c', image: `registry.example/app:${i}` }] },
    },
  });
}

/** A lease renewal the byte pre-filter drops, of varying length so lines land anywhere. */
function lease(i: number): string {
  return JSON.stringify({
    kind: 'Event',
    auditID: `l-${i}`,
    stage: 'ResponseComplete',
    verb: 'update',
    objectRef: { resource: 'leases', namespace: 'kube-system', name: `n${'x'.repeat(i % 97)}` },
  });
}

function log(): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < 30_000; i++) {
    lines.push(i % 7 === 0 ? podCreate(i, 'é'.repeat(i % 300)) : lease(i));
    // One line of 1.5 MiB: it spans two chunk boundaries.
    if (i === 15_000) lines.push(podCreate(-1, 'y'.repeat(1_536 * 1024)));
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

describe('readAuditLog on a file read in reused chunks', () => {
  const bytes = log();

  it('a plain file of several MiB reads as the same bytes from a stream', async () => {
    // Prepare
    const file = path.join(tmp, 'audit.jsonl');
    writeFileSync(file, bytes);
    expect(bytes.length).toBeGreaterThan(4 * 1024 * 1024);

    // Act
    const fromFile = await read(file);
    const fromStream = await read(stream(bytes));

    // Assess
    expect(fromFile.records).toEqual(fromStream.records);
    expect(fromFile.stats).toEqual(fromStream.stats);
    const events = fromFile.records.filter((r) => r.kind === 'event');
    expect(events.length).toBe(Math.ceil(30_000 / 7) + 1);
    expect(fromFile.stats.malformed).toBe(0);
  });

  it('a gzip file larger than a chunk (compressed) reads as the same bytes from a stream', async () => {
    // Prepare: gzip at level 0 so the compressed file spans many chunks too.
    const gz = gzipSync(bytes, { level: 0 });
    const file = path.join(tmp, 'audit.jsonl.gz');
    writeFileSync(file, gz);
    expect(gz.length).toBeGreaterThan(4 * 1024 * 1024);

    // Act
    const fromFile = await read(file);
    const fromStream = await read(stream(bytes));

    // Assess
    expect(fromFile.records).toEqual(fromStream.records);
    expect(fromFile.stats.events).toBe(fromStream.stats.events);
  });

  it('byte ranges cut at newlines read, together, what the whole file reads', async () => {
    // Prepare
    const file = path.join(tmp, 'ranges.jsonl');
    writeFileSync(file, bytes);
    const ranges = await splitAtNewlines(file, bytes.length, 5);
    expect(ranges.length).toBe(5);

    // Act
    const parts: AuditRecord[] = [];
    for (const range of ranges) parts.push(...(await read(file, { range, lines: true })).records);
    const whole = await read(stream(bytes));

    // Assess: line numbers restart per range; the events are the same, in order.
    const events = (rs: AuditRecord[]) =>
      rs.flatMap((r) => (r.kind === 'event' ? [JSON.stringify(r.event)] : []));
    expect(events(parts)).toEqual(events(whole.records));
  });
});
