/**
 * The CBOR (RFC 8949) that COSE_Sign1 envelopes need: a bounded decoder of definite-length
 * items (integers, byte and text strings, arrays, maps, tags, simple values, floats) and the
 * encoder of COSE's `Sig_structure` (an array of strings). Indefinite lengths, deep nesting and
 * oversized counts are refused: an envelope is small, and a hostile one must stay cheap.
 */

export type CborValue =
  | number
  | bigint
  | string
  | Uint8Array
  | boolean
  | null
  | undefined
  | CborValue[]
  | Map<CborValue, CborValue>
  | CborTag;

export interface CborTag {
  tag: number;
  value: CborValue;
}

export class CborError extends Error {
  override name = 'CborError';
}

const MAX_DEPTH = 16;
const MAX_ITEMS = 4096;

export function isTag(value: CborValue): value is CborTag {
  return (
    value !== null &&
    typeof value === 'object' &&
    !(value instanceof Uint8Array) &&
    !Array.isArray(value) &&
    !(value instanceof Map)
  );
}

/** Decodes exactly one item filling `bytes`. */
export function decodeCbor(bytes: Uint8Array): CborValue {
  let pos = 0;
  let items = 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  const need = (n: number) => {
    if (pos + n > bytes.byteLength) throw new CborError('truncated CBOR');
  };
  const argument = (info: number): number | bigint => {
    if (info < 24) return info;
    if (info === 24) {
      need(1);
      return bytes[pos++] as number;
    }
    if (info === 25) {
      need(2);
      const v = view.getUint16(pos);
      pos += 2;
      return v;
    }
    if (info === 26) {
      need(4);
      const v = view.getUint32(pos);
      pos += 4;
      return v;
    }
    if (info === 27) {
      need(8);
      const v = view.getBigUint64(pos);
      pos += 8;
      return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    throw new CborError(info === 31 ? 'indefinite lengths are not accepted' : 'bad CBOR head');
  };
  const length = (info: number): number => {
    const n = argument(info);
    if (typeof n !== 'number' || n > bytes.byteLength) throw new CborError('CBOR length too large');
    return n;
  };

  const item = (depth: number): CborValue => {
    if (depth > MAX_DEPTH) throw new CborError('CBOR nested too deep');
    if (++items > MAX_ITEMS) throw new CborError('too many CBOR items');
    need(1);
    const head = bytes[pos++] as number;
    const major = head >> 5;
    const info = head & 0x1f;
    switch (major) {
      case 0:
        return argument(info);
      case 1: {
        const n = argument(info);
        return typeof n === 'number' ? -1 - n : -1n - n;
      }
      case 2: {
        const n = length(info);
        need(n);
        const out = bytes.slice(pos, pos + n);
        pos += n;
        return out;
      }
      case 3: {
        const n = length(info);
        need(n);
        let text: string;
        try {
          text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(pos, pos + n));
        } catch {
          throw new CborError('a CBOR text string is not UTF-8');
        }
        pos += n;
        return text;
      }
      case 4: {
        const n = length(info);
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(item(depth + 1));
        return out;
      }
      case 5: {
        const n = length(info);
        const out = new Map<CborValue, CborValue>();
        for (let i = 0; i < n; i++) {
          const key = item(depth + 1);
          if (typeof key !== 'number' && typeof key !== 'string') {
            throw new CborError('only integer and text map keys are accepted');
          }
          if (out.has(key)) throw new CborError(`duplicate CBOR map key ${String(key)}`);
          out.set(key, item(depth + 1));
        }
        return out;
      }
      case 6: {
        const tag = argument(info);
        if (typeof tag !== 'number') throw new CborError('CBOR tag too large');
        return { tag, value: item(depth + 1) };
      }
      default: {
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
        if (info === 23) return undefined;
        if (info === 25) {
          need(2);
          const v = view.getFloat16 ? view.getFloat16(pos) : halfFloat(view.getUint16(pos));
          pos += 2;
          return v;
        }
        if (info === 26) {
          need(4);
          const v = view.getFloat32(pos);
          pos += 4;
          return v;
        }
        if (info === 27) {
          need(8);
          const v = view.getFloat64(pos);
          pos += 8;
          return v;
        }
        throw new CborError('unsupported CBOR simple value');
      }
    }
  };

  const value = item(0);
  if (pos !== bytes.byteLength) throw new CborError('trailing bytes after the CBOR item');
  return value;
}

function halfFloat(bits: number): number {
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

function head(major: number, n: number): Uint8Array {
  if (n < 24) return Uint8Array.of((major << 5) | n);
  if (n < 0x100) return Uint8Array.of((major << 5) | 24, n);
  if (n < 0x10000) return Uint8Array.of((major << 5) | 25, n >> 8, n & 0xff);
  const out = new Uint8Array(5);
  out[0] = (major << 5) | 26;
  new DataView(out.buffer).setUint32(1, n);
  return out;
}

/** Encodes an array of text and byte strings (what `Sig_structure` is). */
export function encodeStringArray(items: readonly (string | Uint8Array)[]): Uint8Array {
  const parts: Uint8Array[] = [head(4, items.length)];
  for (const it of items) {
    const bytes = typeof it === 'string' ? new TextEncoder().encode(it) : it;
    parts.push(head(typeof it === 'string' ? 3 : 2, bytes.byteLength), bytes);
  }
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
