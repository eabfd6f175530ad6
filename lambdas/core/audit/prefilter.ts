/**
 * A cheap test on the raw text of one audit event that says "cannot matter" without parsing
 * it. Most audit traffic is get/list/watch, lease renewals and kubelet status patches; parsing
 * all of it is what makes naive replay slow.
 *
 * Safety argument (it must never drop an event the interpreter would keep):
 * - If no letter is written as a `\u00XX` escape, every key and every verb / resource value
 *   appears literally in the text, so the event's own `"verb": …` and `"objectRef": {…}` are
 *   among the occurrences found (whatever the key order or spacing).
 * - The text is dropped only when occurrences were found and *every* one is decidably
 *   irrelevant. Anything unexpected (an escape in a value, odd syntax after a key, nothing
 *   found at all) answers "maybe", and the caller parses.
 * - Text that embeds an event inside a JSON string (a CloudWatch export record's `message`)
 *   shows `\"verb\"`, which is not found, so it is always parsed; its message is then judged.
 */
import { POD_SPEC_MARK, PREFILTER_VERBS, refRelevance } from './rules.ts';

const VERBS: ReadonlySet<string> = new Set(PREFILTER_VERBS);

function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

function skipWs(text: string, i: number): number {
  while (isWs(text.charCodeAt(i))) i++;
  return i;
}

/** Index just after `"key"` and its `:`, or -1 when the match is not a key. */
function afterKey(text: string, at: number, keyLength: number): number {
  const i = skipWs(text, at + keyLength);
  return text.charCodeAt(i) === 58 /* : */ ? skipWs(text, i + 1) : -1;
}

/** A string value starting at `i` without escapes; null when it is not one. */
function plainString(text: string, i: number): string | null {
  if (text.charCodeAt(i) !== 34) return null;
  const end = text.indexOf('"', i + 1);
  if (end < 0) return null;
  const value = text.slice(i + 1, end);
  return value.includes('\\') ? null : value;
}

/** `shape`: irrelevant unless the text carries a pod spec (an extension-group resource). */
type Verdict = 'none' | 'irrelevant' | 'shape' | 'maybe';

/** Every `"verb": "<v>"`: irrelevant only if all values are readable and none is wanted. */
function verbVerdict(text: string): Verdict {
  let verdict: Verdict = 'none';
  const needle = '"verb"';
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length)) {
    const i = afterKey(text, at, needle.length);
    if (i < 0) continue; // the string "verb" as a value, not a key
    const value = plainString(text, i);
    if (value === null || VERBS.has(value)) return 'maybe';
    verdict = 'irrelevant';
  }
  return verdict;
}

/**
 * Every `"objectRef": {…}`: objectRef is a flat object of plain strings, so its `resource`,
 * `subresource` and `apiGroup` can be read exactly between its braces. Irrelevant only if
 * every such object names another resource or subresource.
 */
function objectRefVerdict(text: string): Verdict {
  let verdict: Verdict = 'none';
  const needle = '"objectRef"';
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length)) {
    const i = afterKey(text, at, needle.length);
    if (i < 0 || text.charCodeAt(i) !== 123 /* { */) continue;
    const end = text.indexOf('}', i);
    if (end < 0) return 'maybe';
    const body = text.slice(i, end + 1);
    if (body.includes('\\') || body.includes('{', 1)) return 'maybe';
    const resource = fieldOf(body, '"resource"');
    const subresource = fieldOf(body, '"subresource"');
    const apiGroup = fieldOf(body, '"apiGroup"');
    if (resource === null || subresource === null || apiGroup === null) return 'maybe';
    const relevance = refRelevance(resource, subresource, apiGroup);
    if (relevance === 'relevant') return 'maybe';
    if (relevance === 'if-pod-spec') verdict = 'shape';
    else if (verdict !== 'shape') verdict = 'irrelevant';
  }
  return verdict;
}

/**
 * A string field of a flat object text: its value, undefined when absent, null when present
 * but not a plain string (or present twice: then which one the parser keeps is not ours to guess).
 */
function fieldOf(body: string, needle: string): string | null | undefined {
  let found: string | undefined;
  for (let at = body.indexOf(needle); at >= 0; at = body.indexOf(needle, at + needle.length)) {
    const i = afterKey(body, at, needle.length);
    if (i < 0) continue;
    if (found !== undefined) return null;
    const value = plainString(body, i);
    if (value === null) return null;
    found = value;
  }
  return found;
}

/** True when a letter is written as a `\u00XX` escape somewhere (Go writes only `\u0026`, `\u003c`, …). */
function hasLetterEscape(text: string): boolean {
  for (let at = text.indexOf('\\u00'); at >= 0; at = text.indexOf('\\u00', at + 4)) {
    const d = text.charCodeAt(at + 4);
    if (d >= 52 && d <= 55) return true; // '4'..'7': U+0040–U+007F holds every ASCII letter
  }
  return false;
}

/** False only when the text certainly holds no audit event the interpreter would keep. */
export function mayBeRelevant(text: string): boolean {
  if (verbVerdict(text) === 'irrelevant' && !hasLetterEscape(text)) return false;
  const ref = objectRefVerdict(text);
  if (ref === 'irrelevant' && !hasLetterEscape(text)) return false;
  if (ref === 'shape' && !text.includes(POD_SPEC_MARK) && !hasLetterEscape(text)) return false;
  return true;
}
