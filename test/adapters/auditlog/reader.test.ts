import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { generateAuditLog } from '../../../bench/gen-audit-log.ts';
import {
  type AuditRecord,
  newReaderStats,
  readAuditLog,
} from '../../../lambdas/adapters/auditlog/reader.ts';
import { decodeCloudWatchPayload } from '../../../lambdas/core/audit/cloudwatch.ts';
import { interpretAuditEvent } from '../../../lambdas/core/audit/interpret.ts';
import { ValidationError } from '../../../lambdas/core/errors.ts';
import { SHARED_FIXTURES } from '../../helpers/fixtures.ts';

const FIX = path.resolve(import.meta.dirname, '../../fixtures/audit');
const SHARED = path.join(SHARED_FIXTURES, 'audit-events');
const tmp = mkdtempSync(path.join(tmpdir(), 'regwatch-auditlog-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function readAll(source: string | Readable, opts: Parameters<typeof readAuditLog>[1] = {}) {
  const records: AuditRecord[] = [];
  for await (const r of readAuditLog(source, opts)) records.push(r);
  return records;
}
const ids = (rs: AuditRecord[]) =>
  rs.flatMap((r) => (r.kind === 'event' ? [(r.event as { auditID?: string }).auditID] : []));
const constructedLines = () =>
  readFileSync(path.join(FIX, 'eks-audit-events.jsonl'), 'utf8').split('\n').filter(Boolean);
const CONSTRUCTED_IDS = [
  '6c1f9a52-0b8e-4d37-a2c4-91e5f0d3b7a8',
  'e2b7c4d9-1a3f-4c86-b5e0-7d2a9f1c8e64',
  '4f8a2d6b-93c1-4e7f-a0b5-6d3c9e1f2a87',
  'a93d5e17-2c4b-4f60-8d1e-b7f2c9a0e356',
];
const stream = (text: string | Buffer, chunk = 7) => {
  const buf = Buffer.from(text);
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) parts.push(buf.subarray(i, i + chunk));
  return Readable.from(parts);
};

describe('readAuditLog formats', () => {
  it('JSON lines of Events, with line numbers', async () => {
    // Act
    const rs = await readAll(path.join(FIX, 'eks-audit-events.jsonl'));
    // Assess
    expect(ids(rs)).toEqual(CONSTRUCTED_IDS);
    expect(rs.map((r) => r.line)).toEqual([1, 2, 3, 4]);
    expect(rs[0]?.file).toBe('eks-audit-events.jsonl');
  });

  it('the same file gzip-compressed, split into tiny chunks (multi-byte text intact)', async () => {
    // Prepare
    const text = constructedLines().join('\n').replace('"web"', '"wéb✓"');
    // Act
    const rs = await readAll(stream(gzipSync(text), 5), { file: 'x.gz' });
    // Assess
    expect(ids(rs)).toEqual(CONSTRUCTED_IDS);
    expect(JSON.stringify(rs[0])).toContain('wéb✓');
  });

  it('a pretty-printed EventList document: both stages yielded, the interpreter keeps one', async () => {
    // Act
    const rs = await readAll(path.join(FIX, 'webhook-eventlist-pod-create-two-stages.json'));
    const kept = rs.filter(
      (r) =>
        r.kind === 'event' && interpretAuditEvent(r.event, { cluster: 'c' }).kind === 'observation',
    );
    // Assess
    expect(rs.map((r) => [r.kind, r.line, r.index])).toEqual([
      ['event', 1, 0],
      ['event', 1, 1],
    ]);
    expect(kept).toHaveLength(1);
  });

  it('EventList documents one per line (the real webhook capture)', async () => {
    // Act
    const rs = await readAll(path.join(SHARED, 'webhook-eventlist-pod-create-v1.jsonl'));
    // Assess
    expect(
      rs.map((r) => [
        r.line,
        (r.kind === 'event' && (r.event as { stage: string }).stage) || r.kind,
      ]),
    ).toEqual([
      [1, 'RequestReceived'],
      [2, 'ResponseComplete'],
    ]);
  });

  it('a CloudWatch subscription payload (pretty-printed): cluster from the log group', async () => {
    // Act
    const rs = await readAll(path.join(FIX, 'eks-cloudwatch-subscription-event.json'));
    // Assess
    expect(ids(rs)).toEqual(CONSTRUCTED_IDS);
    expect(rs.every((r) => r.kind === 'event' && r.cluster === 'orion-prod-euc1')).toBe(true);
    expect(rs.map((r) => r.index)).toEqual([0, 1, 2, 3]);
  });

  it('CloudWatch payloads one per line, with the default cluster for other log groups', async () => {
    // Prepare
    const eks = JSON.stringify(
      JSON.parse(readFileSync(path.join(FIX, 'eks-cloudwatch-subscription-event.json'), 'utf8')),
    );
    const other = JSON.stringify(
      JSON.parse(readFileSync(path.join(FIX, 'aws-lambda-go.cloudwatch-logs-event.json'), 'utf8')),
    );
    const stats = newReaderStats();
    // Act
    const rs = await readAll(stream(`${other}\n${eks}\n`, 4096), { cluster: 'fallback', stats });
    // Assess
    expect(
      rs
        .filter((r) => r.kind === 'skipped')
        .map((r) => [r.line, r.index, r.kind === 'skipped' && r.text]),
    ).toEqual([
      [1, 0, '[ERROR] First test message'],
      [1, 1, '[ERROR] Second test message'],
    ]);
    expect(
      rs
        .filter((r) => r.kind === 'skipped')
        .every((r) => r.kind === 'skipped' && r.cluster === 'fallback'),
    ).toBe(true);
    expect(ids(rs)).toEqual(CONSTRUCTED_IDS);
    expect(stats.notJson).toBe(2);
  });

  it('the aws-lambda-go payload: plain-text messages are not-json, nothing fails', async () => {
    // Act
    const rs = await readAll(
      path.join(SHARED, 'cloudwatch/aws-lambda-go.cloudwatch-logs-event.json'),
    );
    // Assess
    expect(rs.map((r) => r.kind === 'skipped' && r.reason)).toEqual(['not-json', 'not-json']);
  });

  it('CloudWatch export records: JSON lines with message, aws logs CLI output, S3 text lines', async () => {
    // Prepare
    const [a, b, c] = constructedLines();
    const jsonRecord = JSON.stringify({ timestamp: 1748852071431, message: a, logStreamName: 's' });
    const cli = JSON.stringify({
      events: [{ timestamp: 1, message: b, ingestionTime: 2 }],
      searchedLogStreams: [],
    });
    const s3 = `2025-06-02T08:21:47.629Z ${c}`;
    // Act
    const rs = await readAll(stream(`${jsonRecord}\n${cli}\n${s3}\nnot json at all\n`, 64));
    // Assess
    expect(ids(rs)).toEqual(CONSTRUCTED_IDS.slice(0, 3));
    expect(rs.map((r) => [r.kind, r.line])).toEqual([
      ['event', 1],
      ['event', 2],
      ['event', 3],
      ['skipped', 4],
    ]);
  });

  it('concatenated pretty-printed events (as `jq .` writes them), CRLF and a BOM', async () => {
    // Prepare
    const [a, b] = constructedLines();
    const text = `\uFEFF${JSON.stringify(JSON.parse(a as string), null, 2)}\r\n${JSON.stringify(JSON.parse(b as string), null, 2)}\r\n`;
    // Act
    const rs = await readAll(stream(text, 1000));
    // Assess
    expect(ids(rs)).toEqual(CONSTRUCTED_IDS.slice(0, 2));
    expect(rs[1]?.line).toBe(text.slice(0, text.lastIndexOf('{\n  "kind"')).split('\n').length);
  });
});

describe('readAuditLog bad input', () => {
  it('malformed lines are reported with their line numbers and reading goes on', async () => {
    // Prepare
    const [a, b] = constructedLines();
    const text = `${a}\n{"kind":"Event","verb":"create",\n\n${(b as string).slice(0, 200)}\n${b}\n`;
    const stats = newReaderStats();
    // Act
    const rs = await readAll(stream(text, 333), { stats });
    // Assess
    expect(rs.map((r) => [r.kind, r.line])).toEqual([
      ['event', 1],
      ['malformed', 2],
      ['malformed', 4],
      ['event', 5],
    ]);
    expect(stats).toMatchObject({ lines: 5, malformed: 2 });
  });

  it('a truncated pretty-printed document and junk between documents are reported', async () => {
    // Prepare
    const text =
      '{\n  "kind": "EventList",\n  "items": []\n}\ngarbage here\n{\n  "kind": "Event",\n';
    // Act
    const rs = await readAll(stream(text, 3));
    // Assess
    expect(rs.map((r) => [r.kind, r.line])).toEqual([
      ['malformed', 5],
      ['malformed', 6],
    ]);
  });

  it('a corrupt gzip file ends that file with a malformed record, not an exception', async () => {
    // Prepare
    const gz = gzipSync(constructedLines().join('\n'));
    const file = path.join(tmp, 'broken.jsonl.gz');
    writeFileSync(file, gz.subarray(0, Math.floor(gz.length / 2)));
    // Act
    const rs = await readAll(file);
    // Assess
    expect(rs.at(-1)?.kind).toBe('malformed');
  });

  it('an undecodable CloudWatch payload is malformed; decodeCloudWatchPayload names the problem', async () => {
    // Prepare
    const bad = JSON.stringify({ awslogs: { data: Buffer.from('not gzip').toString('base64') } });
    // Act
    const rs = await readAll(stream(`${bad}\n`));
    // Assess
    expect(rs.map((r) => r.kind)).toEqual(['malformed']);
    expect(() => decodeCloudWatchPayload(JSON.parse(bad))).toThrow(ValidationError);
    expect(() => decodeCloudWatchPayload({})).toThrow(/awslogs\.data/);
    expect(() => decodeCloudWatchPayload('{')).toThrow(/not JSON/);
  });

  it('an empty file yields nothing', async () => {
    expect(await readAll(stream(''))).toEqual([]);
  });
});

describe('readAuditLog on a generated EKS-like log', () => {
  it('the pre-filter loses nothing: same outcomes with and without it, matching the generator truth', async () => {
    // Prepare
    const lines = [...generateAuditLog({ seed: 42, bytes: 3 * 1024 * 1024 })];
    const text = `${lines.map((l) => l.line).join('\n')}\n`;
    const truth = { observation: 0, 'metadata-only': 0, 'failed-request': 0 } as Record<
      string,
      number
    >;
    const truthImages: string[] = [];
    for (const l of lines) {
      if (l.truth in truth) truth[l.truth] = (truth[l.truth] ?? 0) + 1;
      truthImages.push(...l.images);
    }
    const run = async (prefilter: boolean) => {
      const stats = newReaderStats();
      const counts: Record<string, number> = {
        observation: 0,
        'metadata-only': 0,
        'failed-request': 0,
      };
      const images: string[] = [];
      for await (const r of readAuditLog(stream(gzipSync(text), 65536), { prefilter, stats })) {
        if (r.kind !== 'event') throw new Error(`unexpected ${r.kind}`);
        const out = interpretAuditEvent(r.event, { cluster: 'c' });
        const key = out.kind === 'observation' ? 'observation' : out.reason;
        if (key in counts) counts[key] = (counts[key] ?? 0) + 1;
        if (out.kind === 'observation')
          images.push(...out.observation.containers.map((c) => c.image));
      }
      return { counts, images, stats };
    };
    // Act
    const filtered = await run(true);
    const unfiltered = await run(false);
    // Assess
    expect(filtered.counts).toEqual(truth);
    expect(unfiltered.counts).toEqual(truth);
    expect(filtered.images).toEqual(truthImages);
    expect(filtered.stats.events).toBe(lines.length);
    expect(filtered.stats.prefiltered).toBeGreaterThan(lines.length * 0.8);
    expect(truth.observation).toBeGreaterThan(50);
  });
});
