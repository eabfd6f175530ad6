/**
 * `mayBeRelevant` on raw UTF-8 bytes, so that the ~95 % of lines that cannot matter are dropped
 * without ever being decoded to a string.
 *
 * Why it is exactly as safe as the string pre-filter: every token it looks at (`"verb"`,
 * `"objectRef"`, quotes, braces, `:`, whitespace, backslashes, `\u00`) is ASCII, and UTF-8
 * decoding maps each ASCII byte to the same character and every other byte (valid or not) to a
 * non-ASCII character. So the occurrences, their order and everything between them read the
 * same in bytes as in the decoded text; a verb value equals `create` in bytes exactly when it
 * does as text. Where the string filter would read a non-ASCII resource, subresource or API
 * group name, this one answers "maybe" (it never decodes): it keeps at least what the string
 * filter keeps, and kept lines then take the string path unchanged.
 *
 * Searches go through `NeedleScanner`s that remember the next occurrence in the whole buffer,
 * so judging every line of a chunk scans each byte about once per needle, even when a needle
 * (a `"subresource"` key, a `\u00` escape) is absent from most lines.
 */
import { POD_SPEC_MARK, PREFILTER_VERBS, refRelevance } from './rules.ts';

const VERB_VALUES: readonly Buffer[] = PREFILTER_VERBS.map((v) => Buffer.from(v, 'latin1'));

/**
 * First occurrence of a needle at or after a position, for mostly ascending positions. The
 * native search is fast when the first byte it looks for is rare, and JSON is full of `"`:
 * so it looks for the needle's tail from `anchor` on (`verb"`, `jectRef"`: `v` and `j` are
 * rarer than `"`, and `j` rarer than `R`) and checks the head.
 */
class NeedleScanner {
  readonly length: number;
  private readonly head: Buffer;
  private readonly tail: Buffer;
  private from = -1;
  private found = -1;

  constructor(needle: string, anchor = 0) {
    const bytes = Buffer.from(needle, 'latin1');
    this.length = bytes.length;
    this.head = bytes.subarray(0, anchor);
    this.tail = bytes.subarray(anchor);
  }

  next(buf: Buffer, from: number): number {
    // The remembered answer holds for any later start it does not lie before.
    if (this.from < 0 || from < this.from || (this.found >= 0 && this.found < from)) {
      this.from = from;
      this.found = this.search(buf, from);
    }
    return this.found;
  }

  private search(buf: Buffer, from: number): number {
    const anchor = this.head.length;
    for (let t = buf.indexOf(this.tail, from + anchor); t >= 0; t = buf.indexOf(this.tail, t + 1)) {
      if (headAt(buf, this.head, t - anchor)) return t - anchor;
    }
    return -1;
  }
}

/** True when `buf` holds the bytes of `head` at `at` (a plain loop: cheaper than a native call). */
export function headAt(buf: Buffer, head: Buffer, at: number): boolean {
  for (let k = 0; k < head.length; k++) if (buf[at + k] !== head[k]) return false;
  return true;
}

/** First occurrence of `needle` inside [from, end) by a plain loop: for short spans. */
function indexIn(buf: Buffer, needle: Buffer, from: number, end: number): number {
  const first = needle[0];
  const last = end - needle.length;
  outer: for (let i = from; i <= last; i++) {
    if (buf[i] !== first) continue;
    for (let k = 1; k < needle.length; k++) if (buf[i + k] !== needle[k]) continue outer;
    return i;
  }
  return -1;
}

const RESOURCE = Buffer.from('"resource"', 'latin1');
const SUBRESOURCE = Buffer.from('"subresource"', 'latin1');
const API_GROUP = Buffer.from('"apiGroup"', 'latin1');
const RESOURCE_NAME = RESOURCE.subarray(1, -1);
const SUBRESOURCE_NAME = SUBRESOURCE.subarray(1, -1);
const API_GROUP_NAME = API_GROUP.subarray(1, -1);

/** `shape`: irrelevant unless the text carries a pod spec (an extension-group resource). */
type Verdict = 'none' | 'irrelevant' | 'shape' | 'maybe';

function isWs(c: number | undefined): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/**
 * Judges lines of one buffer. Create one per buffer (scanners remember positions in it) and
 * judge its lines in ascending order for linear time (any order stays correct).
 */
export class BytePrefilter {
  private readonly buf: Buffer;
  private readonly verb = new NeedleScanner('"verb"', 1);
  private readonly objectRef = new NeedleScanner('"objectRef"', 3);
  private readonly escape = new NeedleScanner('\\u00');
  private readonly podSpec = new NeedleScanner(POD_SPEC_MARK);

  /**
   * Set by `mayBeRelevant` when it read a non-ASCII resource, subresource or API group name
   * (which it does not decode). While false, its answer is exactly the string filter's.
   */
  undecoded = false;

  constructor(buf: Buffer) {
    this.buf = buf;
  }

  /**
   * `mayBeRelevant` of the text that bytes `start`..`end` (exclusive) decode to: false only
   * when that text certainly holds no audit event the interpreter would keep.
   */
  mayBeRelevant(start: number, end: number): boolean {
    this.undecoded = false;
    if (this.verbVerdict(start, end) === 'irrelevant' && !this.hasLetterEscape(start, end))
      return false;
    const ref = this.objectRefVerdict(start, end);
    if (ref === 'irrelevant' && !this.hasLetterEscape(start, end)) return false;
    if (ref === 'shape' && !this.hasPodSpecMark(start, end) && !this.hasLetterEscape(start, end))
      return false;
    return true;
  }

  private hasPodSpecMark(start: number, end: number): boolean {
    const at = this.podSpec.next(this.buf, start);
    return at >= 0 && at + this.podSpec.length <= end;
  }

  private skipWs(i: number, end: number): number {
    while (i < end && isWs(this.buf[i])) i++;
    return i;
  }

  /** Index just after a key at `at` and its `:` (and spaces), or -1 when it is not a key. */
  private afterKey(at: number, keyLength: number, end: number): number {
    const i = this.skipWs(at + keyLength, end);
    return i < end && this.buf[i] === 58 /* : */ ? this.skipWs(i + 1, end) : -1;
  }

  /** [from, to) of a string value at `i` without escapes that closes before `end`; null if not one. */
  private plainString(i: number, end: number): [number, number] | null {
    const buf = this.buf;
    if (i >= end || buf[i] !== 34) return null;
    for (let j = i + 1; j < end; j++) {
      const c = buf[j];
      if (c === 34) return [i + 1, j];
      if (c === 92) {
        // A backslash before the closing quote: the string filter gives up on this value too.
        return null;
      }
    }
    return null;
  }

  private isRelevantVerb(from: number, to: number): boolean {
    const len = to - from;
    for (const v of VERB_VALUES) {
      if (v.length === len && headAt(this.buf, v, from)) return true;
    }
    return false;
  }

  private verbVerdict(start: number, end: number): Verdict {
    let verdict: Verdict = 'none';
    const s = this.verb;
    for (let at = s.next(this.buf, start); at >= 0 && at + s.length <= end; ) {
      const i = this.afterKey(at, s.length, end);
      if (i >= 0) {
        const value = this.plainString(i, end);
        if (value === null || this.isRelevantVerb(value[0], value[1])) return 'maybe';
        verdict = 'irrelevant';
      }
      at = s.next(this.buf, at + s.length);
    }
    return verdict;
  }

  private objectRefVerdict(start: number, end: number): Verdict {
    let verdict: Verdict = 'none';
    const s = this.objectRef;
    const buf = this.buf;
    for (let at = s.next(buf, start); at >= 0 && at + s.length <= end; ) {
      const i = this.afterKey(at, s.length, end);
      at = s.next(buf, at + s.length);
      if (i < 0 || i >= end || buf[i] !== 123 /* { */) continue;
      // The flat body up to the first `}`; a backslash or a nested `{` before it: undecidable.
      let close = -1;
      for (let j = i + 1; j < end; j++) {
        const c = buf[j];
        if (c === 125) {
          close = j;
          break;
        }
        if (c === 92 || c === 123) return 'maybe';
      }
      if (close < 0) return 'maybe';
      const bodyEnd = close + 1;
      let resource: string | null | undefined;
      let subresource: string | null | undefined;
      let apiGroup: string | null | undefined;
      if (this.readFlat(i, close)) {
        ({ resource, subresource, apiGroup } = this.flat);
      } else {
        resource = this.fieldOf(RESOURCE, i, bodyEnd);
        subresource = this.fieldOf(SUBRESOURCE, i, bodyEnd);
        apiGroup = this.fieldOf(API_GROUP, i, bodyEnd);
      }
      if (resource === null || subresource === null || apiGroup === null) return 'maybe';
      const relevance = refRelevance(resource, subresource, apiGroup);
      if (relevance === 'relevant') return 'maybe';
      if (relevance === 'if-pod-spec') verdict = 'shape';
      else if (verdict !== 'shape') verdict = 'irrelevant';
    }
    return verdict;
  }

  /** What `readFlat` read: as `fieldOf` would answer for each of the three keys. */
  private readonly flat: {
    resource: string | null | undefined;
    subresource: string | null | undefined;
    apiGroup: string | null | undefined;
  } = { resource: undefined, subresource: undefined, apiGroup: undefined };

  /**
   * One pass over an objectRef body `{…}` (`open`, `close` the brace positions; no backslash
   * or `{` inside) that is a well-formed flat object: `"key" : value` pairs, values plain
   * strings or bare scalars. Then every `"resource"` the search of `fieldOf` finds is a key
   * (a quote inside the body only opens or closes a token, and a value is followed by `,` or
   * `}`, not `:`), so the keys give exactly `fieldOf`'s answers. False for anything else;
   * the caller then runs `fieldOf`.
   */
  private readFlat(open: number, close: number): boolean {
    const buf = this.buf;
    const out = this.flat;
    out.resource = undefined;
    out.subresource = undefined;
    out.apiGroup = undefined;
    let p = this.skipWs(open + 1, close);
    if (p === close) return true;
    for (;;) {
      if (buf[p] !== 34) return false;
      const keyStart = p + 1;
      let keyEnd = keyStart;
      while (keyEnd < close && buf[keyEnd] !== 34) keyEnd++;
      if (keyEnd >= close) return false;
      p = this.skipWs(keyEnd + 1, close);
      if (buf[p] !== 58 /* : */) return false;
      p = this.skipWs(p + 1, close);
      let valueStart = -1;
      let valueEnd = -1;
      if (buf[p] === 34) {
        valueStart = p + 1;
        valueEnd = valueStart;
        while (valueEnd < close && buf[valueEnd] !== 34) valueEnd++;
        if (valueEnd >= close) return false;
        p = valueEnd + 1;
      } else {
        const scalarStart = p;
        while (p < close) {
          const c = buf[p];
          if (isWs(c) || c === 44 || c === 34 || c === 58) break;
          p++;
        }
        if (p === scalarStart) return false;
      }
      const key = this.keyOf(keyStart, keyEnd);
      if (key !== null) {
        let value: string | null = null;
        if (valueStart >= 0) {
          value = buf.toString('latin1', valueStart, valueEnd);
          for (let j = valueStart; j < valueEnd; j++) {
            if ((buf[j] ?? 0) >= 0x80) {
              value = null;
              this.undecoded = true;
            }
          }
        }
        // Twice: which one the parser keeps is not ours to guess (as in `fieldOf`).
        out[key] = out[key] === undefined ? value : null;
      }
      p = this.skipWs(p, close);
      if (p === close) return true;
      if (buf[p] !== 44 /* , */) return false;
      p = this.skipWs(p + 1, close);
    }
  }

  private keyOf(from: number, to: number): 'resource' | 'subresource' | 'apiGroup' | null {
    const len = to - from;
    const buf = this.buf;
    // The needles without their quotes.
    if (len === 8 && headAt(buf, RESOURCE_NAME, from)) return 'resource';
    if (len === 11 && headAt(buf, SUBRESOURCE_NAME, from)) return 'subresource';
    if (len === 8 && headAt(buf, API_GROUP_NAME, from)) return 'apiGroup';
    return null;
  }

  /**
   * A string field of the flat object in [from, end): undefined when absent; null when present
   * twice, not a plain string, or not ASCII (the string filter would read it; we do not decode).
   */
  private fieldOf(needle: Buffer, from: number, end: number): string | null | undefined {
    let found: string | undefined;
    const buf = this.buf;
    const n = needle.length;
    for (let at = indexIn(buf, needle, from, end); at >= 0; ) {
      const i = this.afterKey(at, n, end);
      at = indexIn(buf, needle, at + n, end);
      if (i < 0) continue;
      if (found !== undefined) return null;
      const value = this.plainString(i, end);
      if (value === null) return null;
      for (let j = value[0]; j < value[1]; j++) {
        if ((buf[j] ?? 0) >= 0x80) {
          this.undecoded = true;
          return null;
        }
      }
      found = buf.toString('latin1', value[0], value[1]);
    }
    return found;
  }

  /** A letter written as `\u00XX` (U+0040–U+007F) anywhere in the line. */
  private hasLetterEscape(start: number, end: number): boolean {
    const s = this.escape;
    for (let at = s.next(this.buf, start); at >= 0 && at + s.length <= end; ) {
      const d = at + 4 < end ? this.buf[at + 4] : undefined;
      if (d !== undefined && d >= 52 && d <= 55) return true;
      at = s.next(this.buf, at + s.length);
    }
    return false;
  }
}

/** `mayBeRelevant` for one UTF-8 text held in a buffer (tests and one-off callers). */
export function mayBeRelevantBytes(buf: Buffer, start = 0, end = buf.length): boolean {
  return new BytePrefilter(buf).mayBeRelevant(start, end);
}
