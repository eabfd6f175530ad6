/**
 * A cheap test on the raw text of one audit event (or of a log line that embeds one as a JSON
 * string) that says "cannot matter" without parsing it. Most audit traffic is get/list/watch
 * and lease updates; parsing all of it is what makes naive replay slow.
 *
 * Safety argument (it must never drop an event the interpreter would keep):
 * - If no letter is written as a `\u00XX` escape, every key and verb/resource value appears
 *   literally, either as `"verb"` or, inside an embedding JSON string, as `\"verb\"`.
 * - The top-level `verb` and `objectRef.resource` are therefore among the occurrences found
 *   (the text must be one event, raw or embedded once in a JSON string).
 *   The text is dropped only when occurrences were found and *every* one is decidably
 *   irrelevant; anything unexpected (no occurrence, an escape in a value, odd syntax after a
 *   key) answers "maybe" and the caller parses.
 */
import { RELEVANT_RESOURCES, RELEVANT_VERBS } from './rules.ts';

const VERBS: ReadonlySet<string> = new Set(RELEVANT_VERBS);
const RESOURCES: ReadonlySet<string> = new Set(Object.keys(RELEVANT_RESOURCES));

/** `found`: the key occurs as a key; `relevant`: some value is wanted or cannot be read exactly. */
type Scan = { found: boolean; relevant: boolean };

function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/**
 * Scan every occurrence of `"key"` (plain) or `\"key\"` (inside a JSON string) and decide
 * whether any of their values is in `wanted`. An occurrence whose value cannot be read exactly
 * counts as relevant.
 */
function scanKey(text: string, key: string, wanted: ReadonlySet<string>): Scan {
  let found = false;
  for (const escaped of [false, true]) {
    const q = escaped ? '\\"' : '"';
    const needle = `${q}${key}${q}`;
    let from = 0;
    for (;;) {
      const at = text.indexOf(needle, from);
      if (at < 0) break;
      from = at + needle.length;
      const value = readValue(text, from, escaped);
      if (value === undefined) continue; // a string that happens to read "verb", not a key
      found = true;
      if (value === null || wanted.has(value)) return { found, relevant: true };
    }
  }
  return { found, relevant: false };
}

/** Skip JSON whitespace; inside an embedding string, `\n`, `\t`, `\r` escapes are whitespace too. */
function skipWs(text: string, i: number, escaped: boolean): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (isWs(c)) i++;
    else if (escaped && c === 92 /* \ */) {
      const n = text.charCodeAt(i + 1);
      if (n === 110 || n === 116 || n === 114) i += 2;
      else return i;
    } else return i;
  }
}

/**
 * The string value after a key; null when it is not a plain string we can read exactly;
 * undefined when the match is not a key at all (an array element or a value).
 */
function readValue(text: string, i: number, escaped: boolean): string | null | undefined {
  i = skipWs(text, i, escaped);
  if (text.charCodeAt(i) !== 58 /* : */) return undefined;
  i = skipWs(text, i + 1, escaped);
  if (escaped) {
    if (text.charCodeAt(i) !== 92 || text.charCodeAt(i + 1) !== 34) return null;
    i += 2;
    const end = text.indexOf('\\', i);
    if (end < 0 || text.charCodeAt(end + 1) !== 34) return null;
    return text.slice(i, end);
  }
  if (text.charCodeAt(i) !== 34) return null;
  i += 1;
  const end = text.indexOf('"', i);
  if (end < 0) return null;
  const value = text.slice(i, end);
  return value.includes('\\') ? null : value;
}

/** True when a letter is written as a `\u00XX` escape somewhere (Go writes only `\u0026`, `\u003c`, …). */
function hasLetterEscape(text: string): boolean {
  let from = 0;
  for (;;) {
    const at = text.indexOf('\\u00', from);
    if (at < 0) return false;
    const d = text.charCodeAt(at + 4);
    if (d >= 52 && d <= 55) return true; // '4'..'7': U+0040–U+007F holds every ASCII letter
    from = at + 4;
  }
}

/** False only when the text certainly holds no audit event the interpreter would keep. */
export function mayBeRelevant(text: string): boolean {
  if (hasLetterEscape(text)) return true;
  const verb = scanKey(text, 'verb', VERBS);
  if (!verb.found || verb.relevant) {
    const resource = scanKey(text, 'resource', RESOURCES);
    return !resource.found || resource.relevant;
  }
  return false;
}
