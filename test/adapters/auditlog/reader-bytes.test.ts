import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type AuditRecord,
  newReaderStats,
  readAuditLog,
} from '../../../lambdas/adapters/auditlog/reader.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'regwatch-reader-bytes-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function read(source: string | Readable, opts: Parameters<typeof readAuditLog>[1]) {
  const records: AuditRecord[] = [];
  const stats = newReaderStats();
  for await (const r of readAuditLog(source, { ...opts, stats })) records.push(r);
  return { records, stats };
}

const chunks = (buf: Buffer, size: number) => {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
};

const ev = (verb: string, resource: string, extra = '') =>
  `{"kind":"Event","auditID":"a-${verb}-${resource}","stage":"ResponseComplete","verb":"${verb}","user":{"username":"ü"},"objectRef":{"resource":"${resource}","namespace":"ns"}${extra},"stageTimestamp":"2025-01-01T00:00:00Z"}`;

/** Lines that exercise what the byte splitter must get exactly as the string path did. */
const line = fc.constantFrom(
  ev('get', 'pods'),
  ev('update', 'leases'),
  ev('create', 'pods', ',"requestObject":{"spec":{"containers":[{"name":"c","image":"nginx"}]}}'),
  ev('patch', 'pods', ',"annotations":{"note":"wéb ✓ 日本"}'),
  ev('get', 'pods', ',"annotations":{"note":"wéb ✓ 日本"}'),
  `\u00a0${ev('get', 'pods')}`,
  `\ufeff${ev('get', 'pods')}`,
  `  ${ev('list', 'pods')}\t`,
  `${ev('watch', 'pods')}\r`,
  '{"kind": "Event", broken',
  '{"verb":"get"} trailing',
  '2025-01-01T00:00:00.000Z {"verb":"get","objectRef":{"resource":"pods"}}',
  'plain text line',
  '',
  '   ',
  `{"kind":"EventList","items":[${ev('get', 'pods')}]}`,
);

describe('readAuditLog on raw bytes', () => {
  it('records and counts are the same with and without the byte pre-filter, however the bytes are chunked', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 1, max: 64 }),
        fc.boolean(),
        async (lines, chunkSize, trailingNewline) => {
          // Prepare: the first line decides line mode, as in real logs.
          const text = [ev('get', 'pods'), ...lines].join('\n') + (trailingNewline ? '\n' : '');
          const bytes = Buffer.from(text, 'utf8');
          // Act
          const fast = await read(chunks(bytes, chunkSize), { file: 'x' });
          const plain = await read(Readable.from([bytes]), { file: 'x', bytePrefilter: false });
          // Assess
          expect(fast.records).toEqual(plain.records);
          expect(fast.stats).toEqual(plain.stats);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a byte range of a file reads its lines only, numbered from the range start', async () => {
    // Prepare
    const lines = [
      ev('create', 'pods'),
      ev('get', 'pods'),
      '{"kind": "Event", broken',
      ev('patch', 'pods'),
    ];
    const file = path.join(tmp, 'r.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const start = Buffer.byteLength(`${lines[0]}\n`);
    const end = start + Buffer.byteLength(`${lines[1]}\n${lines[2]}\n`);
    // Act
    const { records, stats } = await read(file, { lines: true, range: { start, end } });
    // Assess
    expect(stats).toMatchObject({ lines: 2, events: 1, prefiltered: 1, malformed: 1 });
    expect(records.map((r) => [r.kind, r.line])).toEqual([['malformed', 2]]);
  });
});
