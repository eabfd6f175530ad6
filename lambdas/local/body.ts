/**
 * Request bodies for the local ingest: read while streaming, with a byte limit checked as the
 * bytes arrive (and up front from `Content-Length`), so an oversized or endless body is refused
 * without being buffered.
 */
import type { IncomingMessage } from 'node:http';
import { PayloadTooLargeError, RegwatchError, ValidationError } from '../core/errors.ts';

/** Default body limit: a forwarder batch is at most 1 MiB; an audit webhook batch a few. */
export const DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024;

/** The body's bytes; `PayloadTooLargeError` as soon as more than `limit` bytes are announced or read. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const announced = Number(req.headers['content-length']);
  if (Number.isFinite(announced) && announced > limit) throw new PayloadTooLargeError(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new PayloadTooLargeError(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/**
 * Checks the media type: JSON routes take `application/json` (audit logs also JSON lines). A
 * request without a type is taken as JSON; any other type (curl's default form encoding
 * included) is refused, since it says the sender meant something else.
 */
export function checkContentType(req: IncomingMessage, allowed: readonly string[]): void {
  const header = req.headers['content-type'];
  if (header === undefined) return;
  const type = header.split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === '' || allowed.includes(type)) return;
  throw new UnsupportedMediaTypeError(type, allowed);
}

/** The body's media type is not one the route reads (HTTP 415). */
export class UnsupportedMediaTypeError extends RegwatchError {
  readonly mediaType: string;
  constructor(type: string, allowed: readonly string[]) {
    super(
      'UNSUPPORTED_MEDIA_TYPE',
      `unsupported content-type ${JSON.stringify(type)}: send ${allowed.join(' or ')}`,
    );
    this.mediaType = type;
  }
}

/** Parses a JSON body; `ValidationError` naming the position when it is not JSON. */
export function parseJson(body: Buffer, what: string): unknown {
  const text = body.toString('utf8');
  if (text.trim() === '') throw new ValidationError(`empty body: expected ${what}`);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`body is not JSON (${(error as Error).message}): expected ${what}`);
  }
}
