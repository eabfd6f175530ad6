/**
 * Streaming reader for Kubernetes audit logs as people have them: JSON lines of `Event`s,
 * `EventList` documents (one per line or pretty-printed), CloudWatch Logs subscription payloads
 * (`{"awslogs":{"data":…}}`), decoded subscription payloads, CloudWatch Logs exports (JSON
 * records with a `message`, `aws logs filter-log-events` output, or the `<timestamp> <message>`
 * lines of S3 exports), each optionally gzip-compressed (detected by magic bytes).
 *
 * Built for months of logs: JSON lines are split on raw bytes and the byte pre-filter
 * (`BytePrefilter`, same rules as `mayBeRelevant`) drops get/list/watch and other irrelevant
 * events before they are even decoded; kept lines take the string path to `JSON.parse`. Malformed input becomes a `malformed` record with its line number and
 * reading goes on.
 */
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import {
  clusterFromLogGroup,
  decodeCloudWatchPayload,
  isCloudWatchLogsData,
  isCloudWatchPayload,
  parseCloudWatchLogsData,
} from '../../core/audit/cloudwatch.ts';
import { mayBeRelevant } from '../../core/audit/prefilter.ts';
import { BytePrefilter, headAt } from '../../core/audit/prefilter-bytes.ts';
import { ValidationError } from '../../core/errors.ts';

interface Position {
  file: string;
  /** 1-based line where the line or JSON document holding the record starts. */
  line: number;
  /** Index inside a batch (EventList item, CloudWatch log event), when the record came from one. */
  index?: number | undefined;
}

export type AuditRecord =
  | (Position & { kind: 'event'; event: unknown; cluster?: string | undefined })
  | (Position & {
      kind: 'malformed';
      error: string;
      /** The error ended the file (unreadable, a gzip bomb): always reported. */
      fatal?: boolean | undefined;
    })
  | (Position & {
      kind: 'skipped';
      reason: 'not-json';
      text: string;
      cluster?: string | undefined;
    });

export interface ReaderStats {
  /** Bytes read from the source (before decompression). */
  bytes: number;
  /** Physical lines read (after decompression). */
  lines: number;
  /** Audit events seen: yielded as `event` records plus those the pre-filter dropped. */
  events: number;
  /** Events dropped by the pre-filter (their verb or resource cannot matter). */
  prefiltered: number;
  notJson: number;
  malformed: number;
}

export function newReaderStats(): ReaderStats {
  return { bytes: 0, lines: 0, events: 0, prefiltered: 0, notJson: 0, malformed: 0 };
}

export interface ReadAuditLogOptions {
  /** Name used in records; defaults to the path's base name, or `<stream>`. */
  file?: string | undefined;
  /** Cluster for events whose container does not name one (a CloudWatch log group does). */
  cluster?: string | undefined;
  /** Drop events that cannot matter before parsing them (default true). */
  prefilter?: boolean | undefined;
  /** Counters, updated while reading. */
  stats?: ReaderStats | undefined;
  /**
   * Judge JSON lines on their raw bytes before decoding them (default true). False decodes
   * every line and leaves the decision to the string pre-filter: the reference path for tests.
   */
  bytePrefilter?: boolean | undefined;
  /** Skip format detection: the source is known to be uncompressed JSON lines (or text lines). */
  lines?: boolean | undefined;
  /**
   * Only these bytes of a path source (`end` exclusive), for reading one file in parallel.
   * Line numbers count from the range's start; ranges should start just after a newline.
   */
  range?: { start: number; end: number } | undefined;
  /** Longest physical line read (bytes); a longer one is a malformed line, never buffered. */
  maxLineBytes?: number | undefined;
  /** Largest pretty-printed JSON document (UTF-16 units); a larger one is malformed. */
  maxDocumentChars?: number | undefined;
  /** Most bytes a gzip source may inflate to; past it the rest of the source is not read. */
  maxInflatedBytes?: number | undefined;
  /**
   * Most inflated bytes per compressed byte, checked once `INFLATE_RATIO_FLOOR` bytes are out:
   * real audit logs compress about 10-20×; a gzip bomb about 1000×.
   */
  maxInflateRatio?: number | undefined;
  /** Malformed and not-JSON records yielded (the rest are only counted in `stats`). */
  maxListed?: number | undefined;
}

/** A JSON-lines audit event is rarely above a few MiB (the apiserver caps a request at 3 MiB). */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;
export const MAX_DOCUMENT_CHARS = 32 * 1024 * 1024;
export const MAX_INFLATE_RATIO = 100;
/** Inflated bytes below which the ratio is not checked (small, very regular files pass). */
export const INFLATE_RATIO_FLOOR = 64 * 1024 * 1024;
/** Bad records reported one by one; the rest are counted. */
export const MAX_LISTED_BAD_RECORDS = 100;

const CHUNK_BYTES = 1 << 20;
const EVENT_LIST = Buffer.from('{"kind":"EventList"', 'latin1');

/**
 * The byte pre-filter's answer for a line: dropped; kept where the string pre-filter would
 * keep it too; or left to the string path.
 */
type ByteVerdict = 'dropped' | 'kept' | 'unjudged';

/** Tab, LF, VT, FF, CR, space: the ASCII characters String.prototype.trim removes. */
function isAsciiSpace(c: number | undefined): boolean {
  return c === 32 || (c !== undefined && c >= 9 && c <= 13);
}
const TEXT_SAMPLE = 200;

/** Read one audit log (a path or a byte stream) as records; never throws for bad content. */
export async function* readAuditLog(
  source: string | Readable,
  opts: ReadAuditLogOptions = {},
): AsyncGenerator<AuditRecord> {
  const file = opts.file ?? (typeof source === 'string' ? basename(source) : '<stream>');
  const range = opts.range;
  if (range && range.end <= range.start) return;
  const input = typeof source === 'string' ? fileChunks(source, range) : source;
  const sink = new RecordSink(file, opts);
  const maxLine = opts.maxLineBytes ?? MAX_LINE_BYTES;
  let splitter: Splitter | null = opts.lines ? new ByteLineSplitter(sink, maxLine) : null;
  // Until the format is known: the bytes read so far, and their text for `chooseSplitter`.
  const head: Buffer[] = [];
  let headBytes = 0;
  const headDecoder = new TextDecoder('utf-8');
  let headText = '';
  const limits: InflateLimits = {
    maxBytes: opts.maxInflatedBytes ?? Number.POSITIVE_INFINITY,
    maxRatio: opts.maxInflateRatio ?? MAX_INFLATE_RATIO,
  };
  try {
    for await (const bytes of decompressed(input, limits, sink.stats)) {
      if (splitter) splitter.push(bytes);
      else {
        // Copied: a file's chunks are one reused buffer (`fileChunks`).
        head.push(Buffer.from(bytes));
        headBytes += bytes.length;
        headText += headDecoder.decode(bytes, { stream: true });
        // A first line that does not end within the head is one long JSON line (or junk).
        splitter = chooseSplitter(headText, sink, maxLine, false, headBytes >= HEAD_BYTES);
        if (splitter) {
          splitter.push(Buffer.concat(head));
          head.length = 0;
          headText = '';
        }
      }
      if (sink.pending.length > 0) yield* sink.drain();
    }
    if (!splitter) {
      headText += headDecoder.decode();
      splitter = chooseSplitter(headText, sink, maxLine, true);
      if (head.length > 0) splitter.push(Buffer.concat(head));
    }
    splitter.end();
  } catch (err) {
    // A corrupt gzip stream, a gzip bomb or a read error ends this file; what was read stays
    // reported, and the line that was being read is named.
    sink.malformed(
      splitter?.currentLine() ?? 1,
      err instanceof InflateLimitError
        ? err.message
        : `cannot read ${file}: ${(err as Error).message}`,
      undefined,
      true,
    );
  }
  yield* sink.drain();
}

async function* copies(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) yield Buffer.from(chunk);
}

interface InflateLimits {
  maxBytes: number;
  maxRatio: number;
}

/**
 * A file's bytes (or the byte range `start`..`end`), read into one buffer that is reused for
 * every chunk: a chunk is valid only until the next is asked for, so whoever keeps bytes past
 * that copies them. A fresh 1 MiB buffer per chunk (as a read stream gives) cost ~80 ms per
 * 200 MB in page faults and allocation. Reads are asynchronous, so timers (progress) still run.
 */
async function* fileChunks(
  path: string,
  range: { start: number; end: number } | undefined,
): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafeSlow(CHUNK_BYTES);
    let position = range?.start ?? 0;
    const end = range?.end ?? Number.POSITIVE_INFINITY;
    for (;;) {
      const want = Math.min(CHUNK_BYTES, end - position);
      if (want <= 0) return;
      const { bytesRead } = await fh.read(buf, 0, want, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

/** A gzip source inflates past a cap: the rest of it is not read. */
export class InflateLimitError extends ValidationError {}

/**
 * Bytes of the source, gunzipped when it starts with the gzip magic number. Inflation is
 * streamed (backpressure from the consumer) and stops at the first chunk past a limit.
 */
async function* decompressed(
  input: AsyncIterable<Buffer | string>,
  limits: InflateLimits,
  stats: ReaderStats,
): AsyncGenerator<Buffer> {
  const it = input[Symbol.asyncIterator]();
  // Chunks are not copied on the way (~10 % of a replay); a file's are one reused buffer.
  const asBuffer = (v: Buffer | string) => (Buffer.isBuffer(v) ? v : Buffer.from(v));
  let first: Buffer = Buffer.alloc(0);
  while (first.length < 2) {
    const n = await it.next();
    if (n.done) break;
    // Shorter than the magic number: kept past the next read, so copied.
    first = Buffer.concat([first, asBuffer(n.value)]);
  }
  if (first.length === 0) return;
  let compressed = 0;
  async function* all(): AsyncGenerator<Buffer> {
    compressed += first.length;
    stats.bytes += first.length;
    yield first;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      const b = asBuffer(n.value);
      compressed += b.length;
      stats.bytes += b.length;
      yield b;
    }
  }
  if (first[0] !== 0x1f || first[1] !== 0x8b) {
    yield* all();
    return;
  }
  // zlib holds its input past the next read: each chunk is copied for it.
  const source = Readable.from(copies(all()));
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  source.on('error', (err) => gunzip.destroy(err));
  source.pipe(gunzip);
  let inflated = 0;
  try {
    for await (const out of gunzip as AsyncIterable<Buffer>) {
      inflated += out.length;
      if (inflated > limits.maxBytes) {
        throw new InflateLimitError(
          `gzip input inflates past ${limits.maxBytes} bytes: the rest is not read`,
        );
      }
      if (inflated > INFLATE_RATIO_FLOOR && inflated > compressed * limits.maxRatio) {
        throw new InflateLimitError(
          `gzip input inflates more than ${limits.maxRatio}× (${inflated} bytes from ${compressed}): a gzip bomb? the rest is not read`,
        );
      }
      yield out;
    }
  } finally {
    source.destroy();
    gunzip.destroy();
  }
}

interface Splitter {
  push(bytes: Buffer): void;
  end(): void;
  currentLine(): number;
}

/**
 * Line mode when the first non-blank line is a complete JSON value or text (S3 export lines);
 * document mode when it opens a JSON value that continues on later lines (pretty-printed).
 * Null: the head is too short to say.
 */
function chooseMode(head: string, atEnd: boolean, full = false): 'lines' | 'document' | null {
  const start = head.search(/\S/);
  if (start < 0) return atEnd || full ? 'lines' : null;
  const c = head[start];
  if (c !== '{' && c !== '[') return 'lines';
  const nl = head.indexOf('\n', start);
  // A first line longer than the head is a (long) JSON line, never a pretty-printed document.
  if (nl < 0 && full) return 'lines';
  if (nl < 0 && !atEnd) return null;
  const firstLine = head.slice(start, nl < 0 ? undefined : nl).trim();
  try {
    JSON.parse(firstLine);
    return 'lines';
  } catch {
    // A line that looks complete but does not parse is a malformed JSON line, not a document.
    const last = firstLine[firstLine.length - 1];
    const complete = (c === '{' && last === '}') || (c === '[' && last === ']');
    return complete ? 'lines' : 'document';
  }
}

function chooseSplitter(head: string, sink: RecordSink, maxLine: number, atEnd: true): Splitter;
function chooseSplitter(
  head: string,
  sink: RecordSink,
  maxLine: number,
  atEnd: boolean,
  full: boolean,
): Splitter | null;
function chooseSplitter(
  head: string,
  sink: RecordSink,
  maxLine: number,
  atEnd: boolean,
  full = false,
): Splitter | null {
  const mode = chooseMode(head, atEnd, full);
  if (mode === null) return null;
  return mode === 'lines'
    ? new ByteLineSplitter(sink, maxLine)
    : new TextDocumentSplitter(sink, sink.maxDocumentChars);
}

const HEAD_BYTES = 1 << 20;

/**
 * True when the file at `path` is uncompressed and `readAuditLog` reads it in line mode: then
 * it can be read as byte ranges cut at newlines (`splitAtNewlines`) with `lines: true`.
 * A head that does not decide within 1 MiB answers false.
 */
export async function isLineModeFile(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    const head = buf.subarray(0, bytesRead);
    if (head[0] === 0x1f && head[1] === 0x8b) return false;
    const text = new TextDecoder('utf-8').decode(head);
    return chooseMode(text, bytesRead < HEAD_BYTES) === 'lines';
  } finally {
    await fh.close();
  }
}

/**
 * Up to `parts` byte ranges covering `size` bytes of the file, of about equal size, each but
 * the first starting just after a newline (so none splits a line).
 */
export async function splitAtNewlines(
  path: string,
  size: number,
  parts: number,
): Promise<{ start: number; end: number }[]> {
  const cuts = [0];
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(1 << 16);
    for (let k = 1; k < parts; k++) {
      let pos = Math.max(Math.floor((size * k) / parts), cuts[cuts.length - 1] ?? 0);
      let cut = size;
      while (pos < size) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) break;
        const nl = buf.subarray(0, bytesRead).indexOf(10);
        if (nl >= 0) {
          cut = pos + nl + 1;
          break;
        }
        pos += bytesRead;
      }
      if (cut >= size) break;
      if (cut > (cuts[cuts.length - 1] ?? 0)) cuts.push(cut);
    }
  } finally {
    await fh.close();
  }
  return cuts.map((start, i) => ({ start, end: cuts[i + 1] ?? size }));
}

/** Collects records while text is processed synchronously; the generator yields them. */
class RecordSink {
  readonly pending: AuditRecord[] = [];
  readonly file: string;
  readonly cluster: string | undefined;
  readonly prefilter: boolean;
  readonly bytePrefilter: boolean;
  readonly stats: ReaderStats;
  readonly maxDocumentChars: number;
  private readonly maxListed: number;
  /** Malformed and not-JSON records yielded so far (each kind bounded on its own). */
  private readonly listed = { malformed: 0, notJson: 0 };

  constructor(file: string, opts: ReadAuditLogOptions) {
    this.file = file;
    this.cluster = opts.cluster;
    this.prefilter = opts.prefilter ?? true;
    this.bytePrefilter = opts.bytePrefilter ?? true;
    this.stats = opts.stats ?? newReaderStats();
    this.maxDocumentChars = opts.maxDocumentChars ?? MAX_DOCUMENT_CHARS;
    this.maxListed = opts.maxListed ?? MAX_LISTED_BAD_RECORDS;
  }

  /** Whether one more bad record is yielded (else it is only counted): reports stay bounded. */
  private list(kind: 'malformed' | 'notJson', always = false): boolean {
    if (!always && this.listed[kind] >= this.maxListed) return false;
    this.listed[kind]++;
    return true;
  }

  *drain(): Generator<AuditRecord> {
    const batch = this.pending.splice(0);
    yield* batch;
  }

  /** `always`: listed even past `maxListed` (the one error that ends a file). */
  malformed(line: number, error: string, index?: number, always = false): void {
    this.stats.malformed++;
    if (!this.list('malformed', always)) return;
    this.pending.push({
      kind: 'malformed',
      file: this.file,
      line,
      index,
      error,
      ...(always ? { fatal: true } : {}),
    });
  }

  event(event: unknown, line: number, index?: number, cluster?: string): void {
    this.stats.events++;
    this.pending.push({
      kind: 'event',
      file: this.file,
      line,
      index,
      event,
      cluster: cluster ?? this.cluster,
    });
  }

  notJson(text: string, line: number, index?: number, cluster?: string): void {
    this.stats.notJson++;
    if (!this.list('notJson')) return;
    this.pending.push({
      kind: 'skipped',
      reason: 'not-json',
      file: this.file,
      line,
      index,
      text: text.length > TEXT_SAMPLE ? `${text.slice(0, TEXT_SAMPLE)}…` : text,
      cluster: cluster ?? this.cluster,
    });
  }

  /** True when the pre-filter drops this JSON text (counted as a seen event). */
  dropped(json: string): boolean {
    if (!this.prefilter) return false;
    const last = json.charCodeAt(json.length - 1);
    // Only whole-looking objects are judged unparsed, so truncated lines still get reported.
    if (json.charCodeAt(0) !== 123 || last !== 125) return false;
    // An EventList line is parsed so that each of its events is counted.
    if (json.startsWith('{"kind":"EventList"')) return false;
    if (mayBeRelevant(json)) return false;
    this.stats.events++;
    this.stats.prefiltered++;
    return true;
  }

  /**
   * `dropped` for the line in bytes `start`..`end` of `buf`, judged without decoding it. Only
   * a line whose ASCII-trimmed bytes are `{…}` is judged (String.prototype.trim would trim the
   * same range then); anything else answers false and takes the string path.
   */
  droppedBytes(buf: Buffer, filter: BytePrefilter, start: number, end: number): ByteVerdict {
    if (!this.prefilter || !this.bytePrefilter) return 'unjudged';
    while (start < end && isAsciiSpace(buf[start])) start++;
    while (end > start && isAsciiSpace(buf[end - 1])) end--;
    if (end - start < 2 || buf[start] !== 123 || buf[end - 1] !== 125) return 'unjudged';
    if (end - start >= EVENT_LIST.length && headAt(buf, EVENT_LIST, start)) return 'unjudged';
    // Kept with only ASCII names read: the string filter would keep it too, no need to ask.
    if (filter.mayBeRelevant(start, end)) return filter.undecoded ? 'unjudged' : 'kept';
    this.stats.events++;
    this.stats.prefiltered++;
    return 'dropped';
  }

  /** One JSON text (a line, a document, a message) that should hold audit data. */
  json(json: string, line: number, index?: number, cluster?: string, kept = false): void {
    if (!kept && this.dropped(json)) return;
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch (err) {
      this.malformed(line, `invalid JSON: ${(err as Error).message}`, index);
      return;
    }
    this.value(value, line, index, cluster);
  }

  /** A complete multi-line JSON document: parsed without the pre-filter. */
  document(json: string, line: number): void {
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch (err) {
      this.malformed(line, `invalid JSON: ${(err as Error).message}`);
      return;
    }
    this.value(value, line);
  }

  /** Route a parsed value by shape. */
  value(value: unknown, line: number, index?: number, cluster?: string): void {
    if (Array.isArray(value)) {
      value.forEach((v, i) => {
        this.value(v, line, i, cluster);
      });
      return;
    }
    if (value === null || typeof value !== 'object') {
      this.event(value, line, index, cluster);
      return;
    }
    const o = value as Record<string, unknown>;
    if (o.kind === 'Event' || typeof o.auditID === 'string') {
      this.event(o, line, index, cluster);
    } else if (o.kind === 'EventList' && Array.isArray(o.items)) {
      o.items.forEach((item, i) => {
        this.event(item, line, i, cluster);
      });
    } else if (isCloudWatchPayload(o) || isCloudWatchLogsData(o)) {
      this.cloudWatch(o, line);
    } else if (Array.isArray(o.events) && o.events.every(hasMessage)) {
      // `aws logs filter-log-events` / `get-log-events` output.
      o.events.forEach((e, i) => {
        this.message(e.message, line, i, cluster);
      });
    } else if (hasMessage(o)) {
      this.message(o.message, line, index, cluster);
    } else if (typeof o['@message'] === 'string') {
      // CloudWatch Logs Insights results exported as JSON.
      this.message(o['@message'], line, index, cluster);
    } else {
      this.event(o, line, index, cluster);
    }
  }

  cloudWatch(o: Record<string, unknown>, line: number): void {
    let data: ReturnType<typeof parseCloudWatchLogsData>;
    try {
      data = isCloudWatchPayload(o) ? decodeCloudWatchPayload(o) : parseCloudWatchLogsData(o);
    } catch (err) {
      this.malformed(line, (err as Error).message);
      return;
    }
    const cluster = clusterFromLogGroup(data.logGroup) ?? undefined;
    data.logEvents.forEach((e, i) => {
      this.message(e.message, line, i, cluster);
    });
  }

  message(message: string, line: number, index?: number, cluster?: string): void {
    const text = message.trim();
    if (text.charCodeAt(0) !== 123 /* { */) {
      this.notJson(text, line, index, cluster);
      return;
    }
    this.json(text, line, index, cluster);
  }

  /** One physical line in line mode. */
  line(raw: string, line: number, kept = false): void {
    const text = raw.trim();
    if (text === '') return;
    const c = text.charCodeAt(0);
    if (c === 123 || c === 91) {
      this.json(text, line, undefined, undefined, kept);
      return;
    }
    // `<timestamp> <message>` as CloudWatch Logs exports to S3 write it.
    const brace = text.indexOf(' {');
    if (brace > 0 && !text.slice(0, brace).includes('"')) this.message(text.slice(brace + 1), line);
    else this.notJson(text, line);
  }
}

/**
 * JSON lines, split on raw bytes: a line the byte pre-filter drops is counted and never
 * decoded; every other line is decoded and takes the string path (`RecordSink.line`).
 */
class ByteLineSplitter implements Splitter {
  private readonly sink: RecordSink;
  private readonly maxLine: number;
  /** Bytes of a line that began in an earlier chunk. */
  private carry: Buffer[] = [];
  private carried = 0;
  /** Bytes of an over-long line being skipped (its bytes are not kept), or -1. */
  private skipped = -1;
  private lineNo = 0;

  constructor(sink: RecordSink, maxLine: number) {
    this.sink = sink;
    this.maxLine = maxLine;
  }

  currentLine(): number {
    return this.lineNo + 1;
  }

  push(chunk: Buffer): void {
    let start = 0;
    if (this.skipped >= 0 || this.carry.length > 0) {
      const nl = chunk.indexOf(10);
      const head = nl < 0 ? chunk.length : nl;
      if (this.skipped < 0 && this.carried + head > this.maxLine) {
        this.skipped = this.carried;
        this.carry = [];
        this.carried = 0;
      }
      if (this.skipped >= 0) {
        this.skipped += head;
        if (nl < 0) return;
        this.tooLong(this.skipped);
      } else if (nl < 0) {
        // Kept past this chunk, which the reader reuses: copied.
        this.carry.push(Buffer.from(chunk));
        this.carried += chunk.length;
        return;
      } else {
        this.carry.push(chunk.subarray(0, nl));
        const joined = Buffer.concat(this.carry);
        this.carry = [];
        this.carried = 0;
        this.line(joined, new BytePrefilter(joined), 0, joined.length);
      }
      start = nl + 1;
    }
    const filter = new BytePrefilter(chunk);
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      if (nl - start > this.maxLine) this.tooLong(nl - start);
      else this.line(chunk, filter, start, nl);
      start = nl + 1;
    }
    if (start >= chunk.length) return;
    if (chunk.length - start > this.maxLine) this.skipped = chunk.length - start;
    else {
      this.carry.push(Buffer.from(chunk.subarray(start)));
      this.carried = chunk.length - start;
    }
  }

  end(): void {
    if (this.skipped >= 0) {
      this.tooLong(this.skipped);
      return;
    }
    if (this.carry.length === 0) return;
    const joined = Buffer.concat(this.carry);
    this.carry = [];
    this.carried = 0;
    this.line(joined, new BytePrefilter(joined), 0, joined.length);
  }

  /** An over-long line: counted and reported, never buffered or decoded. */
  private tooLong(bytes: number): void {
    this.skipped = -1;
    this.lineNo++;
    this.sink.stats.lines++;
    this.sink.malformed(
      this.lineNo,
      `line of ${bytes} bytes is longer than the limit (${this.maxLine} bytes): not read`,
    );
  }

  private line(buf: Buffer, filter: BytePrefilter, start: number, end: number): void {
    this.lineNo++;
    this.sink.stats.lines++;
    const verdict = this.sink.droppedBytes(buf, filter, start, end);
    if (verdict === 'dropped') return;
    this.sink.line(buf.toString('utf8', start, end), this.lineNo, verdict === 'kept');
  }
}

/** Pretty-printed documents: decodes the bytes (streaming) for `DocumentSplitter`. */
class TextDocumentSplitter implements Splitter {
  private readonly inner: DocumentSplitter;
  private readonly decoder = new TextDecoder('utf-8');

  constructor(sink: RecordSink, maxChars: number) {
    this.inner = new DocumentSplitter(sink, maxChars);
  }

  currentLine(): number {
    return this.inner.currentLine();
  }

  push(bytes: Buffer): void {
    this.inner.push(this.decoder.decode(bytes, { stream: true }));
  }

  end(): void {
    const rest = this.decoder.decode();
    if (rest) this.inner.push(rest);
    this.inner.end();
  }
}

/**
 * Splits a stream of JSON values that may span lines (pretty-printed documents, several
 * concatenated). Tracks depth and strings per character; the text of a value is joined from
 * the chunks only once it is complete, so a large document costs linear time.
 */
class DocumentSplitter {
  private readonly sink: RecordSink;
  private readonly maxChars: number;
  private parts: string[] = [];
  /** Characters held in `parts`; past `maxChars` the value is dropped (`oversized`). */
  private held = 0;
  private oversized = false;
  private depth = 0;
  private inString = false;
  private escape = false;
  private lineNo = 1;
  private valueLine = 0;
  private skipLine = false;
  private first = true;
  private lastChar = -1;

  constructor(sink: RecordSink, maxChars: number) {
    this.sink = sink;
    this.maxChars = maxChars;
  }

  currentLine(): number {
    return this.lineNo;
  }

  push(chunk: string): void {
    if (this.first) {
      this.first = false;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    let valueStart = this.depth > 0 ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      this.lastChar = c;
      if (c === 10) {
        this.lineNo++;
        this.sink.stats.lines++;
        this.skipLine = false;
      }
      if (this.depth > 0) {
        if (this.inString) {
          if (this.escape) this.escape = false;
          else if (c === 92) this.escape = true;
          else if (c === 34) this.inString = false;
          continue;
        }
        if (c === 34) this.inString = true;
        else if (c === 123 || c === 91) this.depth++;
        else if (c === 125 || c === 93) {
          this.depth--;
          if (this.depth === 0) {
            const size = this.held + (i + 1 - valueStart);
            if (this.oversized || size > this.maxChars) {
              this.sink.malformed(
                this.valueLine,
                `JSON document is larger than the limit (${this.maxChars} characters): not read`,
              );
            } else {
              this.parts.push(chunk.slice(valueStart, i + 1));
              // Whole documents are parsed: the pre-filter judges one event, not a batch.
              this.sink.document(this.parts.join(''), this.valueLine);
            }
            this.parts = [];
            this.held = 0;
            this.oversized = false;
            valueStart = -1;
          }
        }
        continue;
      }
      if (this.skipLine || c === 32 || c === 9 || c === 10 || c === 13 || c === 44 /* , */)
        continue;
      if (c === 123 || c === 91) {
        this.depth = 1;
        valueStart = i;
        this.valueLine = this.lineNo;
      } else {
        this.sink.malformed(this.lineNo, 'unexpected text outside a JSON value');
        this.skipLine = true;
      }
    }
    if (this.depth > 0 && valueStart >= 0 && !this.oversized) {
      this.held += chunk.length - valueStart;
      // Past the limit the value's text is dropped; its end is still found, then reported.
      if (this.held > this.maxChars) {
        this.oversized = true;
        this.parts = [];
      } else this.parts.push(chunk.slice(valueStart));
    }
  }

  end(): void {
    if (this.depth > 0) {
      this.sink.malformed(this.valueLine, 'truncated JSON value (input ended inside it)');
      this.parts = [];
      this.held = 0;
      this.oversized = false;
      this.depth = 0;
    }
    if (this.lastChar !== 10 && this.lastChar !== -1) this.sink.stats.lines++;
  }
}

function hasMessage(v: unknown): v is { message: string } {
  return (
    v !== null && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string'
  );
}
