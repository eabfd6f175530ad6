/**
 * The pattern languages of the allowlist: registry host patterns, repository path patterns
 * and plain `*` globs (scopes, tags). Each parser returns a value or a message that names
 * what is wrong; the schema turns messages into issues that name the rule and field.
 */

export type PatternResult<T> = { ok: true; value: T } | { ok: false; error: string };

/* ---------------------------------------------------------------- plain globs */

/**
 * A `*`-only glob: `*` matches any run of characters (possibly empty); everything else is
 * literal. Compiled to its literal parts so matching is linear in the subject.
 */
export interface Glob {
  readonly source: string;
  /** Literal text between stars; `parts.length === 1` means no star at all. */
  readonly parts: readonly string[];
}

export function compileGlob(source: string): Glob {
  return { source, parts: source.split('*') };
}

export function isLiteralGlob(glob: Glob): boolean {
  return glob.parts.length === 1;
}

/** Number of literal characters: a more literal glob is a more specific one. */
export function globLiteralLength(glob: Glob): number {
  return glob.source.length - (glob.parts.length - 1);
}

export function matchGlob(glob: Glob, subject: string): boolean {
  const { parts } = glob;
  const first = parts[0] ?? '';
  if (parts.length === 1) return subject === first;
  const last = parts[parts.length - 1] ?? '';
  if (subject.length < first.length + last.length) return false;
  if (!subject.startsWith(first) || !subject.endsWith(last)) return false;
  return matchMiddle(parts, subject, first.length, subject.length - last.length);
}

/**
 * Matches the inner parts of a glob (all but the first and last) in order within
 * `subject[from, to)`. Taking the leftmost occurrence of each part is always safe for
 * `*`-only globs, so this is linear and never backtracks.
 */
export function matchMiddle(
  parts: readonly string[],
  subject: string,
  from: number,
  to: number,
): boolean {
  let at = from;
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i] ?? '';
    if (part === '') continue;
    const found = subject.indexOf(part, at);
    if (found < 0 || found + part.length > to) return false;
    at = found + part.length;
  }
  return true;
}

export function matchAnyGlob(globs: readonly Glob[], subject: string): boolean {
  for (const glob of globs) if (matchGlob(glob, subject)) return true;
  return false;
}

/* ---------------------------------------------------------------- scope and tag globs */

// Kubernetes names, EKS cluster names and ARNs: printable, no whitespace.
const SCOPE_GLOB = /^[\x21-\x7e]{1,253}$/;

export function parseScopeGlob(text: string): PatternResult<Glob> {
  if (text === '') return { ok: false, error: 'must not be empty' };
  if (!SCOPE_GLOB.test(text)) {
    return { ok: false, error: `"${text}" must be 1–253 printable characters without spaces` };
  }
  return { ok: true, value: compileGlob(text) };
}

/**
 * A scope list: globs that include, and `!glob` entries that exclude (an exclusion wins).
 * A list of exclusions only is refused: whether it means "every other" or "none" is
 * exactly the kind of doubt a security rule must not leave, so `"*"` is written out.
 */
export interface ScopeSet {
  readonly include: readonly Glob[];
  readonly exclude: readonly Glob[];
}

/** One entry of a scope list: `glob` or `!glob`. */
export function parseScopeEntry(text: string): PatternResult<{ exclude: boolean; glob: Glob }> {
  const exclude = text.startsWith('!');
  const body = exclude ? text.slice(1) : text;
  if (exclude && body === '') return { ok: false, error: `"!" must be followed by a glob` };
  if (body.startsWith('!')) return { ok: false, error: `"${text}": write one '!' to exclude` };
  const glob = parseScopeGlob(body);
  return glob.ok ? { ok: true, value: { exclude, glob: glob.value } } : glob;
}

export function parseScopeSet(entries: readonly string[]): PatternResult<ScopeSet> {
  const include: Glob[] = [];
  const exclude: Glob[] = [];
  for (const entry of entries) {
    const parsed = parseScopeEntry(entry);
    if (!parsed.ok) return parsed;
    (parsed.value.exclude ? exclude : include).push(parsed.value.glob);
  }
  if (include.length === 0) {
    return {
      ok: false,
      error: `lists only exclusions; add "*" to mean every other name (e.g. ["*", "${entries[0] ?? '!x'}"])`,
    };
  }
  return { ok: true, value: { include, exclude } };
}

export function matchScopeSet(set: ScopeSet, name: string): boolean {
  return matchAnyGlob(set.include, name) && !matchAnyGlob(set.exclude, name);
}

// The tag grammar of distribution/reference, with '*' added as the glob character.
const TAG_GLOB = /^[\w*][\w.*-]{0,127}$/;

const NOT_HERE = "'!' excludes only in clusters and namespaces";

export function parseTagGlob(text: string): PatternResult<Glob> {
  if (text.startsWith('!')) return { ok: false, error: `"${text}": ${NOT_HERE}` };
  if (!TAG_GLOB.test(text)) {
    return {
      ok: false,
      error: `"${text}" is not a tag (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-'; '*' as a glob)`,
    };
  }
  return { ok: true, value: compileGlob(text) };
}

/* ---------------------------------------------------------------- tag selectors */

/**
 * A `tags:` entry: a glob within the tag grammar where `*` is any run of tag characters
 * and `?` exactly one. Refused when it can match no tag at all (a tag is
 * `[\w][\w.-]{0,127}`): a mistake that would otherwise silently never match.
 */
export interface TagPattern {
  readonly source: string;
  /** True when the pattern has no `*` or `?`: compared with `===`. */
  readonly literal: boolean;
  /** Literal characters (`1.27.*` has 5): more literal is more specific. */
  readonly literalChars: number;
}

const TAG_PATTERN_CHARS = /^[\w.*?-]+$/;

export function parseTagPattern(text: string): PatternResult<TagPattern> {
  const fail = (error: string): PatternResult<TagPattern> => ({ ok: false, error });
  if (text === '') return fail('must not be empty');
  if (text.startsWith('!')) return fail(`"${text}": ${NOT_HERE}`);
  if (text.length > 512) return fail('a tag pattern is at most 512 characters');
  if (!TAG_PATTERN_CHARS.test(text)) {
    return fail(
      `"${text}" may hold only letters, digits, '_', '.', '-' (the tag grammar) and the globs '*', '?'`,
    );
  }
  const fixed = text.replace(/\*/g, '').length; // characters every match must hold
  if (fixed > 128) return fail(`"${text}" can match no tag: tags are at most 128 characters`);
  const first = text[0];
  if (first === '.' || first === '-') {
    return fail(`"${text}" can match no tag: a tag never starts with '${first}'`);
  }
  const literalChars = text.replace(/[*?]/g, '').length;
  return {
    ok: true,
    value: { source: text, literal: !/[*?]/.test(text), literalChars },
  };
}

/**
 * `*` (any run) and `?` (one character) over a tag, by the classic greedy walk that
 * remembers the last star: O(pattern × tag) at worst, both at most a few hundred characters.
 */
export function matchTagPattern(pattern: TagPattern, tag: string): boolean {
  const p = pattern.source;
  if (pattern.literal) return p === tag;
  let i = 0;
  let j = 0;
  let star = -1;
  let resume = 0;
  while (j < tag.length) {
    const c = p[i];
    if (c === '*') {
      star = i++;
      resume = j;
    } else if (c !== undefined && (c === '?' || c === tag[j])) {
      i++;
      j++;
    } else if (star >= 0) {
      i = star + 1;
      j = ++resume;
    } else {
      return false;
    }
  }
  while (p[i] === '*') i++;
  return i === p.length;
}

/* ---------------------------------------------------------------- digests */

const DIGEST_LENGTHS: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

/** `sha256:<64 hex>` (or sha384 / sha512), lower case as registries write them. */
export function parseDigestEntry(text: string): PatternResult<string> {
  const fail = (error: string): PatternResult<string> => ({ ok: false, error });
  if (text.startsWith('!')) return fail(`"${text}": ${NOT_HERE}`);
  const colon = text.indexOf(':');
  const algorithm = colon < 0 ? '' : text.slice(0, colon);
  const hex = colon < 0 ? text : text.slice(colon + 1);
  const length = DIGEST_LENGTHS[algorithm];
  if (length === undefined) {
    return fail(
      `"${text}" is not a digest: write sha256:<64 hex digits> (or sha384 / sha512); globs are not allowed`,
    );
  }
  if (hex.length !== length || !/^[0-9a-f]+$/.test(hex)) {
    return fail(`"${text}" is not a digest: ${algorithm} needs ${length} lower-case hex digits`);
  }
  return { ok: true, value: text };
}

/* ---------------------------------------------------------------- registry host patterns */

export interface RegistryPattern {
  /** Normalised text: lower-case host, port kept (`*.dkr.ecr.*.amazonaws.com`, `reg:5000`). */
  readonly source: string;
  /** Lower-case host labels, `*` for a wildcard label; a bracketed IPv6 host is one label. */
  readonly labels: readonly string[];
  /** Port digits, or `''` when the pattern names no port (then it matches only port-less hosts). */
  readonly port: string;
  readonly wildcards: number;
  /**
   * `registry: "**"`: every host, any port (then `labels` is empty). A wildcard over the
   * whole host is a rule about repositories or tags wherever they are hosted.
   */
  readonly anyHost: boolean;
  /** `**.example.com`: the leftmost label is `**`, one or more whole labels (not in `labels`). */
  readonly deep: boolean;
}

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV6_HOST = /^\[[a-f0-9:]+\]$/;
const PORT = /^[1-9][0-9]{0,4}$/;

/** Splits a canonical `host[:port]` (as the reference parser returns it) into host and port. */
export function splitHostPort(domain: string): { host: string; port: string } {
  if (domain.startsWith('[')) {
    const end = domain.indexOf(']');
    const rest = end < 0 ? '' : domain.slice(end + 1);
    return {
      host: end < 0 ? domain : domain.slice(0, end + 1),
      port: rest.startsWith(':') ? rest.slice(1) : '',
    };
  }
  const colon = domain.lastIndexOf(':');
  return colon < 0
    ? { host: domain, port: '' }
    : { host: domain.slice(0, colon), port: domain.slice(colon + 1) };
}

/**
 * `host[:port]` where each DNS label is literal or exactly `*` (one whole label). The last
 * label must be literal: a wildcard top-level domain would trust whoever registers a
 * look-alike domain anywhere. Ports are literal; a pattern without a port matches only
 * hosts without a port.
 */
export function parseRegistryPattern(text: string): PatternResult<RegistryPattern> {
  const fail = (error: string): PatternResult<RegistryPattern> => ({ ok: false, error });
  if (text === '') return fail('must not be empty');
  if (text.startsWith('!')) return fail(`"${text}": ${NOT_HERE}`);
  if (text === '**') {
    return {
      ok: true,
      value: { source: '**', labels: [], port: '', wildcards: 0, anyHost: true, deep: false },
    };
  }
  if (text.includes('://')) return fail(`"${text}" must be a host[:port], without a scheme`);
  if (text.includes('/')) {
    return fail(`"${text}" must be a host[:port] without a path (put the path in repository)`);
  }
  if (text.length > 255) return fail('a host is at most 255 characters');
  const lower = text.toLowerCase();
  const { host, port } = splitHostPort(lower);
  if (lower.endsWith(':')) return fail(`"${text}": a ':' must be followed by a port`);
  if (port !== '') {
    if (port.includes('*')) return fail(`"${text}": a port cannot be a wildcard`);
    if (!PORT.test(port) || Number(port) > 65535) {
      return fail(
        `"${text}": port "${port}" must be a number from 1 to 65535 without leading zeros`,
      );
    }
  }
  if (host.startsWith('[')) {
    if (!IPV6_HOST.test(host)) return fail(`"${text}": "${host}" is not a bracketed IPv6 address`);
    return {
      ok: true,
      value: { source: lower, labels: [host], port, wildcards: 0, anyHost: false, deep: false },
    };
  }
  if (host === '') return fail(`"${text}" has no host`);
  let labels = host.split('.');
  const deep = labels[0] === '**';
  if (deep) {
    labels = labels.slice(1);
    if (labels.length < 2) {
      return fail(
        `"${text}": '**.' must be followed by a domain of at least two labels (a top-level domain alone would trust every look-alike)`,
      );
    }
  }
  let wildcards = 0;
  for (const label of labels) {
    if (label === '*') {
      wildcards++;
      continue;
    }
    if (label.includes('**')) {
      return fail(
        `"${text}": '**' is allowed only as the whole host ("**") or as the leftmost label ("**.example.com"); '*' matches exactly one DNS label`,
      );
    }
    if (label.includes('*')) {
      return fail(`"${text}": '*' must be a whole DNS label (got "${label}")`);
    }
    if (label === '') return fail(`"${text}" has an empty DNS label`);
    if (!DNS_LABEL.test(label)) return fail(`"${text}": "${label}" is not a valid DNS label`);
  }
  if (labels[labels.length - 1] === '*') {
    return fail(`"${text}": the last label (top-level domain) cannot be '*'`);
  }
  return { ok: true, value: { source: lower, labels, port, wildcards, anyHost: false, deep } };
}

/* ---------------------------------------------------------------- repository patterns */

export type Segment =
  | { kind: 'literal'; text: string }
  | { kind: 'glob'; glob: Glob }
  | { kind: 'deep' };

export interface RepositoryPattern {
  /** Normalised text (consecutive `**` collapsed). */
  readonly source: string;
  readonly segments: readonly Segment[];
  readonly literalSegments: number;
  readonly deepSegments: number;
  /** Literal characters inside glob segments (`team-*` has 5). */
  readonly globLiteralChars: number;
}

const SEGMENT_CHARS = /^[a-z0-9._*-]+$/;

/**
 * Whole `/` segments: a segment is literal, a glob with `*` inside one segment (`team-*`),
 * or exactly `**` (zero or more whole segments). Paths in image references are lower
 * case, so an upper-case pattern could never match and is rejected.
 */
export function parseRepositoryPattern(text: string): PatternResult<RepositoryPattern> {
  const fail = (error: string): PatternResult<RepositoryPattern> => ({ ok: false, error });
  if (text === '') return fail('must not be empty');
  if (text.startsWith('!')) return fail(`"${text}": ${NOT_HERE}`);
  if (text.length > 255) return fail('a repository is at most 255 characters');
  if (text.startsWith('/') || text.endsWith('/') || text.includes('//')) {
    return fail(`"${text}" has an empty path segment`);
  }
  const segments: Segment[] = [];
  let literalSegments = 0;
  let deepSegments = 0;
  let globLiteralChars = 0;
  for (const raw of text.split('/')) {
    if (raw === '**') {
      // `**/**` means the same as `**`: keep one so specificity and hashing agree.
      if (segments[segments.length - 1]?.kind !== 'deep') {
        segments.push({ kind: 'deep' });
        deepSegments++;
      }
      continue;
    }
    if (raw.includes('**')) {
      return fail(`"${text}": '**' must be a whole path segment (got "${raw}")`);
    }
    if (/[A-Z]/.test(raw)) {
      return fail(`"${text}": repository paths are lower case, "${raw}" can never match`);
    }
    if (!SEGMENT_CHARS.test(raw)) {
      return fail(`"${text}": "${raw}" may hold only a-z, 0-9, '.', '_', '-' and '*'`);
    }
    if (raw.includes('*')) {
      const glob = compileGlob(raw);
      segments.push({ kind: 'glob', glob });
      globLiteralChars += globLiteralLength(glob);
    } else {
      segments.push({ kind: 'literal', text: raw });
      literalSegments++;
    }
  }
  const source = segments
    .map((s) => (s.kind === 'deep' ? '**' : s.kind === 'glob' ? s.glob.source : s.text))
    .join('/');
  return {
    ok: true,
    value: { source, segments, literalSegments, deepSegments, globLiteralChars },
  };
}

/** True when the pattern can only ever match paths of exactly one segment. */
export function matchesOnlySingleSegment(pattern: RepositoryPattern): boolean {
  return pattern.segments.length === 1 && pattern.deepSegments === 0;
}
