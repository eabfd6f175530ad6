/**
 * Hand-written scanners equivalent to the regular expressions of Go's
 * `github.com/distribution/reference` (regexp.go). Every function walks its range once
 * (or a constant number of times), so parsing is linear in the input: no backtracking.
 *
 * Ranges are half-open `[start, end)` over UTF-16 code units. Every accepted character is
 * ASCII, so code units and Go's bytes agree on everything that can match.
 */

const C_0 = 0x30;
const C_9 = 0x39;
const C_A = 0x41;
const C_F = 0x46;
const C_Z = 0x5a;
const C_a = 0x61;
const C_f = 0x66;
const C_z = 0x7a;
const DOT = 0x2e;
const DASH = 0x2d;
const UNDERSCORE = 0x5f;
const PLUS = 0x2b;
const COLON = 0x3a;
const SLASH = 0x2f;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const EQUALS = 0x3d;

const isDigit = (c: number): boolean => c >= C_0 && c <= C_9;
const isLower = (c: number): boolean => c >= C_a && c <= C_z;
const isUpper = (c: number): boolean => c >= C_A && c <= C_Z;
const isLetter = (c: number): boolean => isLower(c) || isUpper(c);
const isAlnum = (c: number): boolean => isLetter(c) || isDigit(c);
/** `[a-z0-9]`: the only letters allowed in a repository path. */
const isLowerAlnum = (c: number): boolean => isLower(c) || isDigit(c);
const isHex = (c: number): boolean =>
  isDigit(c) || (c >= C_a && c <= C_f) || (c >= C_A && c <= C_F);
const isLowerHex = (c: number): boolean => isDigit(c) || (c >= C_a && c <= C_f);
/** Go's `\w`: `[0-9A-Za-z_]`. */
const isWord = (c: number): boolean => isAlnum(c) || c === UNDERSCORE;

/**
 * pathComponent = `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`: lower-case alphanumeric runs
 * joined by one `.`, one `_`, two `_`, or any number of `-`.
 */
export function matchPathComponent(s: string, start: number, end: number): boolean {
  let i = start;
  for (;;) {
    if (i >= end || !isLowerAlnum(s.charCodeAt(i))) return false;
    while (i < end && isLowerAlnum(s.charCodeAt(i))) i++;
    if (i === end) return true;
    const c = s.charCodeAt(i);
    if (c === DOT) {
      i++;
    } else if (c === UNDERSCORE) {
      i++;
      if (i < end && s.charCodeAt(i) === UNDERSCORE) i++;
    } else if (c === DASH) {
      while (i < end && s.charCodeAt(i) === DASH) i++;
    } else {
      return false;
    }
  }
}

/** remoteName = pathComponent (`/` pathComponent)*. */
export function matchRemoteName(s: string, start: number, end: number): boolean {
  let from = start;
  for (;;) {
    let slash = s.indexOf('/', from);
    if (slash === -1 || slash >= end) slash = end;
    if (!matchPathComponent(s, from, slash)) return false;
    if (slash === end) return true;
    from = slash + 1;
  }
}

/**
 * domainName = component (`.` component)*, component =
 * `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]` (upper case is allowed in hosts).
 */
function matchDomainName(s: string, start: number, end: number): boolean {
  let i = start;
  for (;;) {
    if (i >= end || !isAlnum(s.charCodeAt(i))) return false;
    let last = s.charCodeAt(i);
    i++;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c === DOT) break;
      if (!isAlnum(c) && c !== DASH) return false;
      last = c;
      i++;
    }
    if (last === DASH) return false;
    if (i === end) return true;
    i++; // the dot
  }
}

/**
 * domainAndPort = host (`:` `[0-9]+`)?, host = domainName | `\[[a-fA-F0-9:]+\]`.
 * Like Go, the bracketed form is not validated as an IPv6 address (no zones, no dotted
 * IPv4 tail), and the port is any run of digits.
 */
export function matchDomainAndPort(s: string, start: number, end: number): boolean {
  let hostEnd: number;
  if (start < end && s.charCodeAt(start) === LBRACKET) {
    let i = start + 1;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (!isHex(c) && c !== COLON) break;
      i++;
    }
    if (i === start + 1 || i >= end || s.charCodeAt(i) !== RBRACKET) return false;
    hostEnd = i + 1;
  } else {
    let colon = s.indexOf(':', start);
    if (colon === -1 || colon >= end) colon = end;
    if (!matchDomainName(s, start, colon)) return false;
    hostEnd = colon;
  }
  if (hostEnd === end) return true;
  if (s.charCodeAt(hostEnd) !== COLON || hostEnd + 1 === end) return false;
  for (let i = hostEnd + 1; i < end; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

/**
 * anchoredName = `^(?:(domainAndPort)/)?(remoteName)$`. Go's regexp prefers taking the
 * optional domain group, so `foo/bar` splits as domain `foo`, path `bar`; the whole input
 * is a path only when the first segment is not a valid domain. Returns the index of the
 * domain's `/` (or -1 for no domain), or null when the name does not match.
 */
export function matchAnchoredName(s: string, start: number, end: number): number | null {
  let slash = s.indexOf('/', start);
  if (slash >= end) slash = -1;
  if (slash !== -1 && matchDomainAndPort(s, start, slash) && matchRemoteName(s, slash + 1, end)) {
    return slash;
  }
  return matchRemoteName(s, start, end) ? -1 : null;
}

/** tag = `[\w][\w.-]{0,127}`. */
export function matchTag(s: string, start: number, end: number): boolean {
  const len = end - start;
  if (len < 1 || len > 128 || !isWord(s.charCodeAt(start))) return false;
  for (let i = start + 1; i < end; i++) {
    const c = s.charCodeAt(i);
    if (!isWord(c) && c !== DOT && c !== DASH) return false;
  }
  return true;
}

/**
 * The digest pattern inside a reference:
 * `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}`.
 * Stricter algorithm/encoding checks happen afterwards in {@link validateDigest}.
 */
export function matchDigestPattern(s: string, start: number, end: number): boolean {
  let i = start;
  for (;;) {
    if (i >= end || !isLetter(s.charCodeAt(i))) return false;
    i++;
    while (i < end && isAlnum(s.charCodeAt(i))) i++;
    if (i >= end) return false;
    const c = s.charCodeAt(i);
    if (c === COLON) break;
    if (c !== DASH && c !== UNDERSCORE && c !== PLUS && c !== DOT) return false;
    i++;
  }
  i++; // the colon
  if (end - i < 32) return false;
  for (; i < end; i++) if (!isHex(s.charCodeAt(i))) return false;
  return true;
}

/** Span of a reference match: `name[:tag][@digest]`, as offsets into the input. */
export interface ReferenceSpan {
  /** End of the name; the name starts at 0. */
  nameEnd: number;
  /** Index of the domain's `/` inside the name, or -1 when there is no domain. */
  domainSlash: number;
  /** Tag range, or -1 when absent. */
  tagStart: number;
  tagEnd: number;
  /** Start of the digest (after `@`), or -1 when absent; it runs to the end. */
  digestStart: number;
}

/**
 * ReferenceRegexp = `^(name)(?::(tag))?(?:@(digest))?$`. The split is unambiguous: `@`
 * occurs in no other part, and a `:` after the last `/` cannot be in the name (a name's
 * only `:` is a port, which sits before the domain's `/`), so it must start the tag.
 */
export function matchReference(s: string): ReferenceSpan | null {
  const len = s.length;
  let at = s.indexOf('@');
  let digestStart = -1;
  if (at !== -1) {
    digestStart = at + 1;
    if (!matchDigestPattern(s, digestStart, len)) return null;
  } else {
    at = len;
  }
  let lastColon = -1;
  for (let i = at - 1; i >= 0; i--) {
    const c = s.charCodeAt(i);
    if (c === SLASH) break;
    if (c === COLON) {
      lastColon = i;
      break;
    }
  }
  let nameEnd = at;
  let tagStart = -1;
  let tagEnd = -1;
  if (lastColon !== -1) {
    if (!matchTag(s, lastColon + 1, at)) return null;
    nameEnd = lastColon;
    tagStart = lastColon + 1;
    tagEnd = at;
  }
  const domainSlash = matchAnchoredName(s, 0, nameEnd);
  if (domainSlash === null) return null;
  return { nameEnd, domainSlash, tagStart, tagEnd, digestStart };
}

/** anchoredIdentifier = `^[a-f0-9]{64}$`: an image id, which Docker refuses as a name. */
export function isIdentifier(s: string): boolean {
  if (s.length !== 64) return false;
  for (let i = 0; i < 64; i++) if (!isLowerHex(s.charCodeAt(i))) return false;
  return true;
}

/** anchoredTag / anchoredDigest, used by WithTag / WithDigest. */
export const isTag = (s: string): boolean => matchTag(s, 0, s.length);
export const isDigestPattern = (s: string): boolean => matchDigestPattern(s, 0, s.length);

/**
 * go-digest `DigestRegexpAnchored` = `^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$`,
 * used only to choose between "unsupported" and "invalid format" for unknown algorithms.
 */
function isWellFormedDigest(s: string): boolean {
  const len = s.length;
  let i = 0;
  for (;;) {
    if (i >= len || !isLowerAlnum(s.charCodeAt(i))) return false;
    while (i < len && isLowerAlnum(s.charCodeAt(i))) i++;
    if (i >= len) return false;
    const c = s.charCodeAt(i);
    if (c === COLON) break;
    if (c !== DOT && c !== PLUS && c !== UNDERSCORE && c !== DASH) return false;
    i++;
  }
  i++;
  if (i >= len) return false;
  for (; i < len; i++) {
    const c = s.charCodeAt(i);
    if (!isAlnum(c) && c !== EQUALS && c !== UNDERSCORE && c !== DASH) return false;
  }
  return true;
}

export const DIGEST_ERRORS = {
  format: 'invalid checksum digest format',
  length: 'invalid checksum digest length',
  unsupported: 'unsupported digest algorithm',
} as const;

/**
 * go-digest `Digest.Validate` as linked into distribution/reference: only sha256 is
 * available (crypto/sha384 and sha512 are not imported), so every other algorithm is
 * "unsupported" when well-formed and "invalid format" otherwise. Returns null when valid.
 */
export function validateDigest(d: string): string | null {
  const i = d.indexOf(':');
  if (i <= 0 || i + 1 === d.length) return DIGEST_ERRORS.format;
  if (i !== 6 || !d.startsWith('sha256')) {
    return isWellFormedDigest(d) ? DIGEST_ERRORS.unsupported : DIGEST_ERRORS.format;
  }
  if (d.length - 7 !== 64) return DIGEST_ERRORS.length;
  for (let j = 7; j < d.length; j++) if (!isLowerHex(d.charCodeAt(j))) return DIGEST_ERRORS.format;
  return null;
}

/**
 * Go's `strings.ToLower`, as far as it can matter for a match: the grammar is ASCII, and
 * the only non-ASCII runes Go lower-cases into ASCII are U+0130 (İ → i) and U+212A
 * (Kelvin sign → k). Every other character is kept, so a non-ASCII input still fails.
 */
export function goLowerForMatch(s: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let r = -1;
    if (isUpper(c)) r = c + 32;
    else if (c === 0x130) r = C_a + 8;
    else if (c === 0x212a) r = C_a + 10;
    if (r !== -1) {
      out += s.slice(from, i) + String.fromCharCode(r);
      from = i + 1;
    }
  }
  return from === 0 ? s : out + s.slice(from);
}
