/**
 * The audit-log reader keeps memory bounded whatever the input: over-long lines and documents
 * are reported without being buffered, gzip inflation stops at its caps, and bad records are
 * listed up to a bound and counted after it. (Peak memory itself: test/resources/.)
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  type AuditRecord,
  INFLATE_RATIO_FLOOR,
  MAX_LISTED_BAD_RECORDS,
  newReaderStats,
  type ReadAuditLogOptions,
  readAuditLog,
} from '../../../lambdas/adapters/auditlog/reader.ts';

const FIX = path.resolve(import.meta.dirname, '../../fixtures/audit');
const [EVENT_A, EVENT_B] = readFileSync(path.join(FIX, 'eks-audit-events.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean) as [string, string];

async function readAll(source: Readable, opts: ReadAuditLogOptions = {}) {
  const records: AuditRecord[] = [];
  for await (const r of readAuditLog(source, opts)) records.push(r);
  return records;
}
const chunked = (data: string | Buffer, size: number) => {
  const buf = Buffer.from(data);
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
};
const kinds = (rs: AuditRecord[]) => rs.map((r) => [r.kind, r.line]);

describe('line and document caps', () => {
  it.each([7, 1000, 65536])(
    'an over-long line is one malformed line, the others are read (chunks of %i bytes)',
    async (chunk) => {
      // Prepare: the long line starts mid-chunk and spans several chunks.
      const long = `{"kind":"Event","junk":"${'x'.repeat(20_000)}"}`;
      const text = `${EVENT_A}\n${long}\n${EVENT_B}\n${long}`;
      const stats = newReaderStats();
      // Act
      const rs = await readAll(chunked(text, chunk), { stats, maxLineBytes: 16_384 });
      // Assess
      expect(kinds(rs)).toEqual([
        ['event', 1],
        ['malformed', 2],
        ['event', 3],
        ['malformed', 4],
      ]);
      const bad = rs[1] as Extract<AuditRecord, { kind: 'malformed' }>;
      expect(bad.error).toBe(
        `line of ${long.length} bytes is longer than the limit (16384 bytes): not read`,
      );
      expect(stats).toMatchObject({ lines: 4, malformed: 2, events: 2 });
    },
  );

  it('a first line longer than the format-detection head is read as a JSON line', async () => {
    // Prepare: 3 MiB without a newline, then an event.
    const long = `{"kind":"Event","junk":"${'y'.repeat(3 << 20)}"}`;
    // Act
    const rs = await readAll(chunked(`${long}\n${EVENT_A}\n`, 1 << 16), { maxLineBytes: 1 << 20 });
    // Assess
    expect(kinds(rs)).toEqual([
      ['malformed', 1],
      ['event', 2],
    ]);
  });

  it('a pretty-printed document over the cap is malformed; the next one is read', async () => {
    // Prepare
    const big = JSON.stringify({ kind: 'EventList', items: [JSON.parse(EVENT_A)] }, null, 2);
    const small = JSON.stringify(JSON.parse(EVENT_B), null, 2);
    const text = `${big.replace('"items"', `"pad": "${'z'.repeat(30_000)}",\n  "items"`)}\n${small}\n`;
    const bigChars = text.indexOf('\n}\n') + 2;
    expect(bigChars).toBeGreaterThan(2 * small.length);
    // Act
    const capped = await readAll(chunked(text, 100), { maxDocumentChars: bigChars - 1 });
    const fits = await readAll(chunked(text, 100), { maxDocumentChars: bigChars });
    // Assess
    expect(capped.map((r) => r.kind)).toEqual(['malformed', 'event']);
    expect(capped[0]).toMatchObject({
      line: 1,
      error: `JSON document is larger than the limit (${bigChars - 1} characters): not read`,
    });
    expect(fits.map((r) => r.kind)).toEqual(['event', 'event']);
  });
});

describe('gzip caps', () => {
  it('inflating past maxInflatedBytes ends the file with a fatal malformed record', async () => {
    // Prepare: 2,000 events, gzip; the cap falls inside them.
    const text = `${Array.from({ length: 2000 }, () => EVENT_A).join('\n')}\n`;
    const stats = newReaderStats();
    // Act
    const rs = await readAll(chunked(gzipSync(text), 4096), { stats, maxInflatedBytes: 1 << 20 });
    // Assess
    const last = rs.at(-1);
    expect(last).toMatchObject({
      kind: 'malformed',
      fatal: true,
      error: `gzip input inflates past ${1 << 20} bytes: the rest is not read`,
    });
    const events = rs.filter((r) => r.kind === 'event').length;
    expect(events).toBeGreaterThan(0);
    expect(events).toBeLessThan(2000);
    expect(stats.lines * (EVENT_A.length + 1)).toBeLessThanOrEqual((1 << 20) + 256 * 1024);
  });

  it('a gzip bomb past the ratio floor is refused by its inflate ratio', async () => {
    // Prepare: spaces compress about 1000×.
    const bomb = gzipSync(Buffer.alloc(INFLATE_RATIO_FLOOR + (8 << 20), 0x20));
    // Act
    const rs = await readAll(chunked(bomb, 1 << 16));
    // Assess
    expect(rs).toHaveLength(1);
    expect(rs[0]).toMatchObject({
      kind: 'malformed',
      fatal: true,
      error: expect.stringMatching(/^gzip input inflates more than 100× .* a gzip bomb\?/),
    });
  });

  it('a well-compressed real log under the caps is read whole', async () => {
    // Prepare
    const text = `${Array.from({ length: 3000 }, (_, i) => (i % 2 ? EVENT_A : EVENT_B)).join('\n')}\n`;
    // Act
    const rs = await readAll(chunked(gzipSync(text), 1 << 16));
    // Assess
    expect(rs.filter((r) => r.kind === 'event')).toHaveLength(3000);
  });
});

describe('bounded reports', () => {
  it(`lists the first ${MAX_LISTED_BAD_RECORDS} malformed and not-JSON records, counts the rest`, async () => {
    // Prepare: 1,000 of each, interleaved, then a good event.
    const lines: string[] = [];
    for (let i = 0; i < 1000; i++) lines.push('{"broken":}', 'plain text');
    lines.push(EVENT_A);
    const stats = newReaderStats();
    // Act
    const rs = await readAll(chunked(lines.join('\n'), 1 << 16), { stats });
    // Assess
    const malformed = rs.filter((r) => r.kind === 'malformed');
    const text = rs.filter((r) => r.kind === 'skipped');
    expect(malformed.map((r) => r.line)).toEqual(
      Array.from({ length: MAX_LISTED_BAD_RECORDS }, (_, i) => 2 * i + 1),
    );
    expect(text).toHaveLength(MAX_LISTED_BAD_RECORDS);
    expect(rs.at(-1)).toMatchObject({ kind: 'event', line: 2001 });
    expect(stats).toMatchObject({ malformed: 1000, notJson: 1000, lines: 2001 });
  });
});
