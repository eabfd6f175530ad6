/**
 * Image reference parsing that behaves exactly like Go's `github.com/distribution/reference`
 * (Parse, ParseNormalizedNamed, ParseNamed, ParseAnyReference, ParseDockerRef, WithName,
 * WithTag, WithDigest, FamiliarName/String/Match, TagNameOnly), error messages included.
 *
 * The grammar is matched by hand-written scanners (reference/scan.ts) instead of regular
 * expressions: every entry point runs in time linear in its input and never throws.
 */

import { type GlobResult, goPathMatch } from './reference/glob.ts';
import {
  goLowerForMatch,
  isDigestPattern,
  isIdentifier,
  isTag,
  matchAnchoredName,
  matchReference,
  validateDigest,
} from './reference/scan.ts';
import type { ImageReference, ParseResult } from './types.ts';

export {
  isIdentifier,
  matchDomainAndPort,
  matchReference,
  validateDigest,
} from './reference/scan.ts';

export const DEFAULT_DOMAIN = 'docker.io';
/** The old Docker Hub index host; folded into `docker.io`. `registry-1.docker.io` is not. */
export const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
export const OFFICIAL_REPO_PREFIX = 'library/';
/** Go's NameTotalLengthMax; it limits the path (not the domain) in bytes. */
export const NAME_TOTAL_LENGTH_MAX = 255;

/** Go's error strings, verbatim, so messages match what Docker and containerd print. */
export const REFERENCE_ERRORS = {
  nameEmpty: 'repository name must have at least one component',
  invalidFormat: 'invalid reference format',
  nameContainsUppercase: 'repository name must be lowercase',
  nameTooLong: `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`,
  nameNotCanonical: 'repository name must be canonical',
  tagInvalidFormat: 'invalid tag format',
  digestInvalidFormat: 'invalid digest format',
  notAString: 'reference must be a string',
} as const;

/** A bare digest, as `ParseAnyReference` returns for `sha256:…` or a 64-hex image id. */
export interface DigestReference {
  kind: 'digest';
  digest: string;
  /** Same as `digest`. */
  string: string;
}

export type AnyReference = ImageReference | DigestReference;
export type AnyParseResult = { ok: true; ref: AnyReference } | { ok: false; error: string };

/** Go's concrete reference types, as named in the fixtures' `kind`. */
export type ReferenceKind = 'repository' | 'tagged' | 'canonical' | 'tagged+digested';

export const isNamed = (ref: AnyReference): ref is ImageReference =>
  (ref as Partial<DigestReference>).kind !== 'digest';

const fail = (error: string): { ok: false; error: string } => ({ ok: false, error });

/**
 * Go's `strings.ToLower(s) != s`. ASCII is checked directly (the common case, and no
 * allocation); otherwise JS lower-casing decides, which differs from Go's only in which
 * rune it yields, not in whether a rune changes.
 */
function hasUpper(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return true;
    if (c >= 0x80) return s.toLowerCase() !== s;
  }
  return false;
}

/** Docker's short form of a name: drops `docker.io/`, and `library/` for official images. */
function familiarize(domain: string, path: string): string {
  if (domain !== DEFAULT_DOMAIN) return domain === '' ? path : `${domain}/${path}`;
  if (path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = path.slice(OFFICIAL_REPO_PREFIX.length);
    if (!rest.includes('/')) return rest;
  }
  return path;
}

function suffix(tag: string | null, digest: string | null): string {
  return (tag === null ? '' : `:${tag}`) + (digest === null ? '' : `@${digest}`);
}

/** Builds the reference value; `domain` is '' when the input named none (non-normalising Parse). */
export function makeReference(
  domain: string,
  path: string,
  tag: string | null,
  digest: string | null,
): ImageReference {
  const name = domain === '' ? path : `${domain}/${path}`;
  return {
    domain,
    path,
    name,
    tag,
    digest,
    string: name + suffix(tag, digest),
    familiarName: familiarize(domain, path),
  };
}

export function referenceKind(ref: ImageReference): ReferenceKind {
  if (ref.digest === null) return ref.tag === null ? 'repository' : 'tagged';
  return ref.tag === null ? 'canonical' : 'tagged+digested';
}

/**
 * Go `Parse`: the reference grammar with no Docker Hub normalisation (`nginx` stays
 * `nginx` with an empty domain, and `foo/bar` has domain `foo`).
 */
export function parse(input: string): ParseResult {
  if (typeof input !== 'string') return fail(REFERENCE_ERRORS.notAString);
  const span = matchReference(input);
  if (span === null) {
    if (input === '') return fail(REFERENCE_ERRORS.nameEmpty);
    // Go retries on the lower-cased input to tell "upper case" apart from "malformed".
    if (matchReference(goLowerForMatch(input)) !== null) {
      return fail(REFERENCE_ERRORS.nameContainsUppercase);
    }
    return fail(REFERENCE_ERRORS.invalidFormat);
  }
  const { nameEnd, domainSlash, tagStart, tagEnd, digestStart } = span;
  const domain = domainSlash === -1 ? '' : input.slice(0, domainSlash);
  const path = input.slice(domainSlash + 1, nameEnd);
  if (path.length > NAME_TOTAL_LENGTH_MAX) return fail(REFERENCE_ERRORS.nameTooLong);
  const tag = tagStart === -1 ? null : input.slice(tagStart, tagEnd);
  let digest: string | null = null;
  if (digestStart !== -1) {
    digest = input.slice(digestStart);
    const err = validateDigest(digest);
    if (err !== null) return fail(err);
  }
  return { ok: true, ref: makeReference(domain, path, tag, digest) };
}

/**
 * Go `splitDockerDomain`: the first `/`-segment is a registry when it holds `.` or `:`, is
 * `localhost`, or has upper case (paths may not); otherwise the name is on Docker Hub.
 */
function splitDockerDomain(name: string): [domain: string, remainder: string] {
  const slash = name.indexOf('/');
  let domain = DEFAULT_DOMAIN;
  let remainder = name;
  if (slash !== -1) {
    const first = name.slice(0, slash);
    if (first === 'localhost' || first.includes('.') || first.includes(':') || hasUpper(first)) {
      domain = first === LEGACY_DEFAULT_DOMAIN ? DEFAULT_DOMAIN : first;
      remainder = name.slice(slash + 1);
    }
  }
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) {
    remainder = OFFICIAL_REPO_PREFIX + remainder;
  }
  return [domain, remainder];
}

/**
 * Go `ParseNormalizedNamed`: what `docker pull` and the kubelet accept. `nginx` becomes
 * `docker.io/library/nginx`, `index.docker.io` folds into `docker.io`; a bare 64-hex image
 * id and upper case in the repository path are refused.
 */
export function parseNormalizedNamed(input: string): ParseResult {
  if (typeof input !== 'string') return fail(REFERENCE_ERRORS.notAString);
  if (isIdentifier(input)) {
    return fail(`invalid repository name (${input}), cannot specify 64-byte hexadecimal strings`);
  }
  const [domain, remainder] = splitDockerDomain(input);
  const colon = remainder.indexOf(':');
  const remote = colon === -1 ? remainder : remainder.slice(0, colon);
  if (hasUpper(remote)) {
    return fail(`invalid reference format: repository name (${remote}) must be lowercase`);
  }
  return parse(`${domain}/${remainder}`);
}

/** Go `ParseNamed`: like ParseNormalizedNamed, but only accepts input already in canonical form. */
export function parseNamed(input: string): ParseResult {
  const result = parseNormalizedNamed(input);
  if (result.ok && result.ref.string !== input) return fail(REFERENCE_ERRORS.nameNotCanonical);
  return result;
}

/**
 * Go `ParseAnyReference`: a 64-hex image id or a valid digest gives a bare digest
 * reference; anything else is parsed with ParseNormalizedNamed.
 */
export function parseAnyReference(input: string): AnyParseResult {
  if (typeof input !== 'string') return fail(REFERENCE_ERRORS.notAString);
  if (isIdentifier(input)) {
    const digest = `sha256:${input}`;
    return { ok: true, ref: { kind: 'digest', digest, string: digest } };
  }
  if (validateDigest(input) === null) {
    return { ok: true, ref: { kind: 'digest', digest: input, string: input } };
  }
  return parseNormalizedNamed(input);
}

/** Go `WithName`: a bare repository name (no tag, no digest). */
export function withName(name: string): ParseResult {
  if (typeof name !== 'string') return fail(REFERENCE_ERRORS.notAString);
  const slash = matchAnchoredName(name, 0, name.length);
  if (slash === null) return fail(REFERENCE_ERRORS.invalidFormat);
  const path = name.slice(slash + 1);
  if (path.length > NAME_TOTAL_LENGTH_MAX) return fail(REFERENCE_ERRORS.nameTooLong);
  return {
    ok: true,
    ref: makeReference(slash === -1 ? '' : name.slice(0, slash), path, null, null),
  };
}

/** Go `WithTag`: sets the tag, keeping a digest if the reference has one. */
export function withTag(ref: ImageReference, tag: string): ParseResult {
  if (typeof tag !== 'string' || !isTag(tag)) return fail(REFERENCE_ERRORS.tagInvalidFormat);
  return { ok: true, ref: makeReference(ref.domain, ref.path, tag, ref.digest) };
}

/**
 * Go `WithDigest`: sets the digest, keeping a tag. Like Go it checks only the digest
 * grammar (algorithm, `:`, 32+ hex), not the algorithm's length.
 */
export function withDigest(ref: ImageReference, digest: string): ParseResult {
  if (typeof digest !== 'string' || !isDigestPattern(digest)) {
    return fail(REFERENCE_ERRORS.digestInvalidFormat);
  }
  return { ok: true, ref: makeReference(ref.domain, ref.path, ref.tag, digest) };
}

/** Go `TagNameOnly`: a name with neither tag nor digest gets `:latest`. */
export function tagNameOnly(ref: ImageReference): ImageReference {
  if (ref.tag !== null || ref.digest !== null) return ref;
  return makeReference(ref.domain, ref.path, 'latest', null);
}

/**
 * Go `ParseDockerRef`: normalised, with `:latest` when untagged; a reference with both tag
 * and digest keeps only the digest (the digest is what gets pulled).
 */
export function parseDockerRef(input: string): ParseResult {
  const result = parseNormalizedNamed(input);
  if (!result.ok) return result;
  const { ref } = result;
  if (ref.digest !== null) {
    const named = withName(ref.name);
    return named.ok ? withDigest(named.ref, ref.digest) : named;
  }
  return { ok: true, ref: tagNameOnly(ref) };
}

/** Go `FamiliarString`: `nginx:1.25`, `user/app@sha256:…`, `ghcr.io/x/y:v1`. */
export function familiarString(ref: AnyReference): string {
  if (!isNamed(ref)) return ref.string;
  return ref.familiarName + suffix(ref.tag, ref.digest);
}

/**
 * Go `FamiliarMatch`: `path.Match(pattern, FamiliarString(ref))`, retried on the familiar
 * name for named references. `error` is set for a malformed pattern.
 */
export function familiarMatch(pattern: string, ref: AnyReference): GlobResult {
  const first = goPathMatch(pattern, familiarString(ref));
  if (isNamed(ref) && !first.matched) {
    return { matched: goPathMatch(pattern, ref.familiarName).matched, error: first.error };
  }
  return first;
}

/**
 * Lower-cases a domain for case-insensitive host comparison (Go keeps the case as written,
 * and so does `ImageReference.domain`). Domains are ASCII, including `[IPv6]:port` hex.
 */
export function canonicalHost(domain: string): string {
  return domain.toLowerCase();
}

export type { GlobResult } from './reference/glob.ts';
export { goPathMatch } from './reference/glob.ts';
