/**
 * A Kubernetes list response (`{"kind":…,"metadata":{…},"items":[…]}`) split as it streams:
 * each element of `items` is cut out by its byte boundaries and parsed alone with
 * `JSON.parse`, so a page of 500 full pods (managedFields and all, several MiB) never exists
 * as one string or one object graph: memory is bounded by one item. The other top-level
 * fields are kept, parsed, each within a small cap. Only the structure between values is
 * checked here; every value is checked by `JSON.parse`.
 */
import { KubeResponseTooLargeError } from './kube-errors.ts';

/** The response is not one JSON object (truncated, junk between members, a second `items`). */
export class ListSyntaxError extends Error {
  constructor(message: string) {
    super(`list response: ${message}`);
    this.name = 'ListSyntaxError';
  }
}

/** An item longer than the item cap: skipped (counted by the caller), its bytes not kept. */
export const ITEM_TOO_LARGE: unique symbol = Symbol('item too large');

type Target = 'key' | 'field' | 'item';
type Phase = 'start' | 'key' | 'colon' | 'value' | 'items' | 'done';

interface Capture {
  target: Target;
  kind: 'string' | 'container' | 'primitive';
  depth: number;
  inString: boolean;
  escaped: boolean;
  parts: Buffer[];
  bytes: number;
  max: number;
  tooLarge: boolean;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

export interface ListSplitterLimits {
  /** Longest item kept; a longer one is reported as `ITEM_TOO_LARGE`. */
  maxItemBytes: number;
  /** Longest other top-level field (`metadata`, `kind`, …); longer fails the response. */
  maxFieldBytes: number;
}

export class ListSplitter {
  readonly #limits: ListSplitterLimits;
  #phase: Phase = 'start';
  /** A member or element was read: the next one needs a comma first. */
  #needComma = false;
  /** A comma was read: a value must follow, not a closing bracket. */
  #afterComma = false;
  #cap: Capture | null = null;
  #key = '';
  #sawItems = false;
  /** Top-level fields other than `items`, parsed (a Map: keys come from the response). */
  readonly fields = new Map<string, unknown>();

  constructor(limits: ListSplitterLimits) {
    this.#limits = limits;
  }

  /** True once an `items` array was read (a list without one is not a list). */
  get sawItems(): boolean {
    return this.#sawItems;
  }

  /** Feeds the next chunk; returns the items it completed, parsed, in order. */
  push(chunk: Buffer): unknown[] {
    const out: unknown[] = [];
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      const cap = this.#cap;
      if (cap) {
        const end = scan(cap, chunk, i);
        collect(cap, chunk, i, end === -1 ? n : end);
        if (end === -1) break;
        i = end;
        this.#cap = null;
        this.#finish(cap, out);
        continue;
      }
      const b = chunk[i] as number;
      if (isSpace(b)) {
        i++;
        continue;
      }
      switch (this.#phase) {
        case 'start':
          if (b !== 0x7b) throw new ListSyntaxError('not a JSON object');
          this.#phase = 'key';
          i++;
          break;
        case 'key':
          if (b === 0x2c) {
            this.#comma();
            i++;
          } else if (b === 0x7d) {
            if (this.#afterComma) throw new ListSyntaxError('a comma before "}"');
            this.#phase = 'done';
            i++;
          } else if (b === QUOTE && !this.#needComma) {
            this.#begin('key', b);
          } else {
            throw new ListSyntaxError('expected a member name');
          }
          break;
        case 'colon':
          if (b !== 0x3a) throw new ListSyntaxError('expected ":"');
          this.#phase = 'value';
          i++;
          break;
        case 'value':
          if (this.#key === 'items' && b === 0x5b) {
            if (this.#sawItems) throw new ListSyntaxError('"items" given twice');
            this.#sawItems = true;
            this.#phase = 'items';
            this.#needComma = false;
            this.#afterComma = false;
            i++;
          } else {
            this.#begin('field', b);
          }
          break;
        case 'items':
          if (b === 0x2c) {
            this.#comma();
            i++;
          } else if (b === 0x5d) {
            if (this.#afterComma) throw new ListSyntaxError('a comma before "]"');
            this.#phase = 'key';
            this.#needComma = true;
            this.#afterComma = false;
            i++;
          } else if (!this.#needComma) {
            this.#begin('item', b);
          } else {
            throw new ListSyntaxError('expected "," between items');
          }
          break;
        case 'done':
          throw new ListSyntaxError('data after the end of the object');
      }
    }
    return out;
  }

  /** After the last chunk: throws unless the object ended. */
  end(): void {
    if (this.#phase !== 'done' || this.#cap) throw new ListSyntaxError('truncated');
  }

  #comma(): void {
    if (!this.#needComma) throw new ListSyntaxError('unexpected ","');
    this.#needComma = false;
    this.#afterComma = true;
  }

  #begin(target: Target, first: number): void {
    const kind =
      first === QUOTE ? 'string' : first === 0x7b || first === 0x5b ? 'container' : 'primitive';
    if (target === 'key' && kind !== 'string') throw new ListSyntaxError('expected a member name');
    const max =
      target === 'item'
        ? this.#limits.maxItemBytes
        : target === 'field'
          ? this.#limits.maxFieldBytes
          : 1024;
    this.#afterComma = false;
    this.#cap = {
      target,
      kind,
      depth: 0,
      inString: false,
      escaped: false,
      parts: [],
      bytes: 0,
      max,
      tooLarge: false,
    };
  }

  #finish(cap: Capture, out: unknown[]): void {
    if (cap.target === 'item') {
      out.push(cap.tooLarge ? ITEM_TOO_LARGE : parse(cap));
      this.#needComma = true;
      return;
    }
    if (cap.tooLarge) {
      throw new KubeResponseTooLargeError(
        `list ${cap.target === 'key' ? 'member name' : `field "${this.#key.slice(0, 64)}"`}`,
        cap.max,
      );
    }
    if (cap.target === 'key') {
      this.#key = parse(cap) as string;
      this.#phase = 'colon';
      return;
    }
    this.fields.set(this.#key, parse(cap));
    this.#phase = 'key';
    this.#needComma = true;
  }
}

/**
 * Scans `chunk` from `from` for the end of the captured value: the index just past its last
 * byte, or -1 if it goes on in the next chunk. A primitive ends before the first byte that
 * cannot belong to it; strings are skipped with `indexOf` (most of a pod's bytes are strings).
 */
function scan(cap: Capture, chunk: Buffer, from: number): number {
  const n = chunk.length;
  let i = from;
  if (cap.kind === 'primitive') {
    for (; i < n; i++) {
      const b = chunk[i] as number;
      if (b === 0x2c || b === 0x5d || b === 0x7d || isSpace(b)) return i;
    }
    return -1;
  }
  while (i < n) {
    if (cap.inString) {
      if (cap.escaped) {
        cap.escaped = false;
        i++;
        continue;
      }
      const q = chunk.indexOf(QUOTE, i);
      const bs = chunk.indexOf(BACKSLASH, i);
      if (bs !== -1 && (q === -1 || bs < q)) {
        cap.escaped = true;
        i = bs + 1;
        continue;
      }
      if (q === -1) return -1;
      cap.inString = false;
      i = q + 1;
      if (cap.kind === 'string') return i;
      continue;
    }
    const b = chunk[i++] as number;
    if (b === QUOTE) cap.inString = true;
    else if (b === 0x7b || b === 0x5b) cap.depth++;
    else if ((b === 0x7d || b === 0x5d) && --cap.depth === 0) return i;
  }
  return -1;
}

function collect(cap: Capture, chunk: Buffer, from: number, to: number): void {
  if (cap.tooLarge || to <= from) return;
  cap.bytes += to - from;
  if (cap.bytes > cap.max) {
    // Stop keeping bytes at once; the scan goes on to find where the value ends.
    cap.tooLarge = true;
    cap.parts = [];
    return;
  }
  // A view, not a copy: the response's chunks are fresh buffers that nothing else writes to.
  cap.parts.push(chunk.subarray(from, to));
}

function parse(cap: Capture): unknown {
  const text =
    cap.parts.length === 1
      ? (cap.parts[0] as Buffer).toString('utf8')
      : Buffer.concat(cap.parts, cap.bytes).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ListSyntaxError(`a value is not JSON (${(err as Error).message.slice(0, 100)})`);
  }
}
