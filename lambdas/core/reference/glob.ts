/**
 * Go's `path.Match` (shell glob over `/`-separated names), which `FamiliarMatch` uses.
 * Works on UTF-8 bytes, as Go does, so `?` and `[...]` consume one rune and a star skips
 * byte by byte. `*` never crosses `/`; `**` is just two stars. A malformed pattern gives
 * `syntax error in pattern` (Go's ErrBadPattern), also when the name fails early.
 */

export const BAD_PATTERN = 'syntax error in pattern';

const STAR = 0x2a;
const QUESTION = 0x3f;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const BACKSLASH = 0x5c;
const CARET = 0x5e;
const DASH = 0x2d;
const SLASH = 0x2f;
const RUNE_ERROR = 0xfffd;

const encoder = new TextEncoder();

class BadPattern extends Error {}

/** utf8.DecodeRune on valid UTF-8 (TextEncoder output); mid-rune positions give (U+FFFD, 1). */
function decodeRune(b: Uint8Array, i: number): [rune: number, size: number] {
  const c = b[i] ?? 0;
  if (c < 0x80) return [c, 1];
  const c1 = b[i + 1] ?? 0;
  const c2 = b[i + 2] ?? 0;
  const c3 = b[i + 3] ?? 0;
  if (c >= 0xc2 && c < 0xe0 && (c1 & 0xc0) === 0x80) return [((c & 0x1f) << 6) | (c1 & 0x3f), 2];
  if (c >= 0xe0 && c < 0xf0 && (c1 & 0xc0) === 0x80 && (c2 & 0xc0) === 0x80) {
    return [((c & 0x0f) << 12) | ((c1 & 0x3f) << 6) | (c2 & 0x3f), 3];
  }
  if (
    c >= 0xf0 &&
    c < 0xf5 &&
    (c1 & 0xc0) === 0x80 &&
    (c2 & 0xc0) === 0x80 &&
    (c3 & 0xc0) === 0x80
  ) {
    return [((c & 0x07) << 18) | ((c1 & 0x3f) << 12) | ((c2 & 0x3f) << 6) | (c3 & 0x3f), 4];
  }
  return [RUNE_ERROR, 1];
}

interface Chunk {
  star: boolean;
  start: number;
  end: number;
}

/** Splits off leading stars and the chunk up to the next star outside a `[...]` class. */
function scanChunk(p: Uint8Array, from: number): Chunk {
  let i = from;
  let star = false;
  while (i < p.length && p[i] === STAR) {
    i++;
    star = true;
  }
  const start = i;
  let inRange = false;
  for (; i < p.length; i++) {
    const c = p[i];
    if (c === BACKSLASH) {
      if (i + 1 < p.length) i++;
    } else if (c === LBRACKET) {
      inRange = true;
    } else if (c === RBRACKET) {
      inRange = false;
    } else if (c === STAR && !inRange) {
      break;
    }
  }
  return { star, start, end: i };
}

/** getEsc: one (possibly escaped) rune of a class; throws BadPattern when malformed. */
function getEsc(p: Uint8Array, i: number, end: number): [rune: number, next: number] {
  if (i >= end || p[i] === DASH || p[i] === RBRACKET) throw new BadPattern();
  if (p[i] === BACKSLASH) {
    i++;
    if (i >= end) throw new BadPattern();
  }
  const [r, n] = decodeRune(p, i);
  if (r === RUNE_ERROR && n === 1) throw new BadPattern();
  if (i + n >= end) throw new BadPattern();
  return [r, i + n];
}

/**
 * Matches one chunk at the start of `name[at:]`; returns the index after it, or -1.
 * After a mismatch it keeps walking the chunk only to report a malformed pattern.
 */
function matchChunk(p: Uint8Array, ci: number, cend: number, name: Uint8Array, at: number): number {
  let s = at;
  let failed = false;
  while (ci < cend) {
    if (!failed && s >= name.length) failed = true;
    const c = p[ci];
    if (c === LBRACKET) {
      let r = 0;
      if (!failed) {
        const [rr, n] = decodeRune(name, s);
        r = rr;
        s += n;
      }
      ci++;
      let negated = false;
      if (ci < cend && p[ci] === CARET) {
        negated = true;
        ci++;
      }
      let match = false;
      let nrange = 0;
      for (;;) {
        if (ci < cend && p[ci] === RBRACKET && nrange > 0) {
          ci++;
          break;
        }
        const [lo, afterLo] = getEsc(p, ci, cend);
        ci = afterLo;
        let hi = lo;
        if (p[ci] === DASH) {
          const [h, afterHi] = getEsc(p, ci + 1, cend);
          hi = h;
          ci = afterHi;
        }
        if (lo <= r && r <= hi) match = true;
        nrange++;
      }
      if (match === negated) failed = true;
    } else if (c === QUESTION) {
      if (!failed) {
        if (name[s] === SLASH) failed = true;
        s += decodeRune(name, s)[1];
      }
      ci++;
    } else {
      if (c === BACKSLASH) {
        ci++;
        if (ci >= cend) throw new BadPattern();
      }
      if (!failed) {
        if (p[ci] !== name[s]) failed = true;
        s++;
      }
      ci++;
    }
  }
  return failed ? -1 : s;
}

function matchBytes(p: Uint8Array, name: Uint8Array): boolean {
  let pi = 0;
  let ni = 0;
  pattern: while (pi < p.length) {
    const { star, start, end } = scanChunk(p, pi);
    pi = end;
    if (star && start === end) {
      // A trailing star matches the rest unless it holds a `/`.
      return name.indexOf(SLASH, ni) === -1;
    }
    const t = matchChunk(p, start, end, name, ni);
    if (t !== -1 && (t === name.length || pi < p.length)) {
      ni = t;
      continue;
    }
    if (star) {
      for (let i = ni; i < name.length && name[i] !== SLASH; i++) {
        const t2 = matchChunk(p, start, end, name, i + 1);
        if (t2 !== -1) {
          if (pi === p.length && t2 < name.length) continue;
          ni = t2;
          continue pattern;
        }
      }
    }
    // Before answering "no", check that the rest of the pattern is well formed.
    while (pi < p.length) {
      const rest = scanChunk(p, pi);
      pi = rest.end;
      matchChunk(p, rest.start, rest.end, name, name.length);
    }
    return false;
  }
  return ni === name.length;
}

export interface GlobResult {
  matched: boolean;
  /** `syntax error in pattern` for a malformed pattern, else null. */
  error: string | null;
}

/** Go `path.Match(pattern, name)`. */
export function goPathMatch(pattern: string, name: string): GlobResult {
  try {
    return { matched: matchBytes(encoder.encode(pattern), encoder.encode(name)), error: null };
  } catch (err) {
    if (err instanceof BadPattern) return { matched: false, error: BAD_PATTERN };
    throw err;
  }
}
