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

// The tag grammar of distribution/reference, with '*' added as the glob character.
const TAG_GLOB = /^[\w*][\w.*-]{0,127}$/;

export function parseTagGlob(text: string): PatternResult<Glob> {
  if (!TAG_GLOB.test(text)) {
    return {
      ok: false,
      error: `"${text}" is not a tag (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-'; '*' as a glob)`,
    };
  }
  return { ok: true, value: compileGlob(text) };
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
    return { ok: true, value: { source: lower, labels: [host], port, wildcards: 0 } };
  }
  if (host === '') return fail(`"${text}" has no host`);
  const labels = host.split('.');
  let wildcards = 0;
  for (const label of labels) {
    if (label === '*') {
      wildcards++;
      continue;
    }
    if (label.includes('**')) {
      return fail(`"${text}": '**' is not allowed in a host; '*' matches exactly one DNS label`);
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
  return { ok: true, value: { source: lower, labels, port, wildcards } };
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
