import type { Readable } from 'node:stream';
import { ValidationError } from '../lambdas/core/errors.ts';

/** Most bytes read from standard input as one text (manifests, image lists). */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;
/** Longest line of an image list: a reference is at most a few hundred characters. */
export const MAX_LIST_LINE_BYTES = 64 * 1024;

/** The stream's bytes; `ValidationError` past `max` (never buffered further). */
async function readBytes(stream: Readable, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    size += b.length;
    if (size > max) {
      stream.destroy();
      throw new ValidationError(`${what} is larger than ${max} bytes: not read`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks, size);
}

/**
 * Non-empty, trimmed lines of a stream; `#` comments are skipped. `ValidationError` for a line
 * longer than `MAX_LIST_LINE_BYTES` (naming it) or an input over `MAX_INPUT_BYTES`.
 */
export async function readLines(stream: Readable, max = MAX_INPUT_BYTES): Promise<string[]> {
  const text = (await readBytes(stream, max, 'standard input')).toString('utf8');
  const lines: string[] = [];
  let lineNo = 0;
  for (const raw of text.split(/\r?\n/)) {
    lineNo++;
    if (raw.length > MAX_LIST_LINE_BYTES) {
      throw new ValidationError(
        `standard input line ${lineNo} is longer than ${MAX_LIST_LINE_BYTES} characters: not an image reference`,
      );
    }
    const line = raw.trim();
    if (line !== '' && !line.startsWith('#')) lines.push(line);
  }
  return lines;
}

/** The whole stream as UTF-8 text; `ValidationError` past `max` bytes. */
export async function readAll(stream: Readable, max = MAX_INPUT_BYTES): Promise<string> {
  return (await readBytes(stream, max, 'standard input')).toString('utf8');
}
