/**
 * Request bodies for the local ingest: read while streaming, with a byte limit checked as the
 * bytes arrive (and up front from `Content-Length`), so an oversized or endless body is refused
 * without being buffered.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import {
  InflatedTooLargeError,
  PayloadTooLargeError,
  RegwatchError,
  ValidationError,
} from '../core/errors.ts';

/** Default body limit: a forwarder batch is at most 1 MiB; an audit webhook batch a few. */
export const DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024;
/** Default limit on a gzip body once inflated (audit logs compress about 10-20×). */
export const DEFAULT_MAX_INFLATED_BYTES = 32 * 1024 * 1024;

export interface ReadBodyOptions {
  /** Inflate a body that starts with the gzip magic number even without `Content-Encoding`. */
  gzipByMagic?: boolean | undefined;
  maxInflatedBytes?: number | undefined;
}

/**
 * The body's bytes, inflated when it is gzip (`Content-Encoding: gzip`, or by its magic number
 * with `gzipByMagic`). `PayloadTooLargeError` as soon as more than `limit` bytes are announced
 * or read, `InflatedTooLargeError` as soon as inflation passes `maxInflatedBytes` (inflation
 * stops there: a gzip bomb costs the limit, not its size); `ValidationError` for corrupt gzip.
 */
export async function readBody(
  req: IncomingMessage,
  limit: number,
  opts: ReadBodyOptions = {},
): Promise<Buffer> {
  const encoding = contentEncoding(req);
  const announced = Number(req.headers['content-length']);
  if (Number.isFinite(announced) && announced > limit) throw new PayloadTooLargeError(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new PayloadTooLargeError(limit);
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks, size);
  const gzip = encoding === 'gzip' || (opts.gzipByMagic && body[0] === 0x1f && body[1] === 0x8b);
  return gzip ? inflate(body, opts.maxInflatedBytes ?? DEFAULT_MAX_INFLATED_BYTES) : body;
}

/** `gzip` or none; any other content coding is refused (HTTP 415). */
function contentEncoding(req: IncomingMessage): 'gzip' | null {
  const header = req.headers['content-encoding'];
  if (header === undefined) return null;
  const codings = header
    .toLowerCase()
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0) return null;
  if (codings.length === 1 && (codings[0] === 'gzip' || codings[0] === 'x-gzip')) return 'gzip';
  throw new UnsupportedEncodingError(header);
}

/** Streams `body` through gunzip, stopping at the first chunk past `max`. */
async function inflate(body: Buffer, max: number): Promise<Buffer> {
  const out: Buffer[] = [];
  let size = 0;
  try {
    await pipeline(
      Readable.from([body]),
      createGunzip({ chunkSize: 64 * 1024 }),
      async (inflated: AsyncIterable<Buffer>) => {
        for await (const chunk of inflated) {
          size += chunk.length;
          if (size > max) throw new InflatedTooLargeError(max);
          out.push(chunk);
        }
      },
    );
  } catch (error) {
    if (error instanceof RegwatchError) throw error;
    throw new ValidationError(`body is not valid gzip: ${(error as Error).message}`);
  }
  return Buffer.concat(out, size);
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

/** The body's content coding is not one we inflate (HTTP 415). */
export class UnsupportedEncodingError extends UnsupportedMediaTypeError {
  constructor(encoding: string) {
    super(encoding, []);
    this.message = `unsupported content-encoding ${JSON.stringify(encoding)}: send gzip or none`;
  }
}
