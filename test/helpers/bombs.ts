import { gzipSync } from 'node:zlib';

const MEMBER_BYTES = 16 * 1024 * 1024;

/**
 * A gzip stream that inflates to `inflated` bytes of `fill`, built cheaply: one compressed
 * 16 MiB member repeated (gzip allows concatenated members; gunzip reads them all). 1 GiB of
 * spaces is about 1 MB compressed.
 */
export function gzipBomb(inflated: number, fill = 0x20): Buffer {
  const member = gzipSync(Buffer.alloc(MEMBER_BYTES, fill), { level: 9 });
  const whole = Math.floor(inflated / MEMBER_BYTES);
  const rest = inflated - whole * MEMBER_BYTES;
  const parts: Buffer[] = Array.from({ length: whole }, () => member);
  if (rest > 0) parts.push(gzipSync(Buffer.alloc(rest, fill), { level: 9 }));
  return Buffer.concat(parts);
}
