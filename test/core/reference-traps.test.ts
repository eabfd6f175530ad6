/**
 * Known traps of the reference grammar that the upstream vectors do not pin down. The
 * expected values follow from reading the Go sources (distribution/reference, go-digest,
 * path.Match); each case says which rule it exercises.
 */
import { describe, expect, it } from 'vitest';
import {
  familiarMatch,
  goPathMatch,
  parse,
  parseDockerRef,
  parseNormalizedNamed,
  withTag,
} from '../../lambdas/core/reference.ts';

const HEX = 'a'.repeat(64);

describe('Docker Hub normalisation', () => {
  it.each([
    ['nginx', 'docker.io/library/nginx', 'nginx'],
    ['index.docker.io/nginx', 'docker.io/library/nginx', 'nginx'],
    ['docker.io/library/nginx:1.25', 'docker.io/library/nginx:1.25', 'nginx'],
    // Only the legacy index host folds; the registry's API host is kept as written.
    [
      'registry-1.docker.io/library/nginx',
      'registry-1.docker.io/library/nginx',
      'registry-1.docker.io/library/nginx',
    ],
    // Host comparison is case-sensitive in Go: Docker.io is another registry.
    ['Docker.io/library/nginx', 'Docker.io/library/nginx', 'Docker.io/library/nginx'],
    // No slash: `test.com:5000` is the Hub image test.com with tag 5000.
    ['test.com:5000', 'docker.io/library/test.com:5000', 'test.com'],
    ['localhost/app', 'localhost/app', 'localhost/app'],
  ])('%s -> %s', (input, string, familiarName) => {
    expect(parseNormalizedNamed(input)).toMatchObject({ ok: true, ref: { string, familiarName } });
  });

  it('treats a bracketed first segment without ":" as a Hub path, like Go (then rejects it)', () => {
    expect(parse('[abc]/app')).toMatchObject({ ok: true, ref: { domain: '[abc]' } });
    expect(parseNormalizedNamed('[abc]/app')).toEqual({
      ok: false,
      error: 'invalid reference format',
    });
  });
});

describe('length limit', () => {
  it('applies 255 to the path, not to the domain', () => {
    const longDomain = `${'a'.repeat(300)}.example.com`;
    expect(parseNormalizedNamed(`${longDomain}/app`)).toMatchObject({ ok: true });
    expect(parseNormalizedNamed(`example.com/${'a'.repeat(255)}`)).toMatchObject({ ok: true });
    expect(parseNormalizedNamed(`example.com/${'a'.repeat(256)}`)).toEqual({
      ok: false,
      error: 'repository name must not be more than 255 characters',
    });
  });

  it('counts the library/ prefix that normalisation adds', () => {
    expect(parseNormalizedNamed('a'.repeat(247)).ok).toBe(true);
    expect(parseNormalizedNamed('a'.repeat(248)).ok).toBe(false);
  });
});

describe('digests (go-digest validation, only sha256 linked in)', () => {
  it.each([
    [`app@sha256:${HEX}`, null],
    [`app@sha256:${HEX.toUpperCase()}`, 'invalid checksum digest format'],
    [`app@sha256:${HEX}aa`, 'invalid checksum digest length'],
    [`app@sha384:${'a'.repeat(96)}`, 'unsupported digest algorithm'],
    [`app@SHA256:${HEX}`, 'invalid checksum digest format'],
    [`app@sha256:${'a'.repeat(31)}`, 'invalid reference format'],
  ])('Parse %s', (input, error) => {
    const r = parse(input);
    if (error === null) expect(r.ok).toBe(true);
    else expect(r).toEqual({ ok: false, error });
  });

  it('ParseNormalizedNamed sees an upper-case algorithm as upper case in the name, like Go', () => {
    expect(parseNormalizedNamed(`app@SHA256:${HEX}`)).toEqual({
      ok: false,
      error: 'invalid reference format: repository name (library/app@SHA256) must be lowercase',
    });
  });

  it('ParseDockerRef keeps only the digest of a tag+digest reference', () => {
    expect(parseDockerRef(`app:v1@sha256:${HEX}`)).toMatchObject({
      ok: true,
      ref: { string: `docker.io/library/app@sha256:${HEX}`, tag: null },
    });
  });
});

describe('upper case and Go lower-casing', () => {
  it('upper case in the first segment makes it a registry', () => {
    expect(parseNormalizedNamed('MyReg/app')).toMatchObject({ ok: true, ref: { domain: 'MyReg' } });
  });

  it('Go lower-cases U+212A (Kelvin) to k and U+0130 to i before retrying the grammar', () => {
    expect(parse('\u212Aube')).toEqual({ ok: false, error: 'repository name must be lowercase' });
    expect(parse('\u0130mage')).toEqual({ ok: false, error: 'repository name must be lowercase' });
    expect(parse('\u00C9t\u00E9')).toEqual({ ok: false, error: 'invalid reference format' });
  });

  it('tags may hold upper case', () => {
    const r = parseNormalizedNamed('app');
    if (!r.ok) throw new Error(r.error);
    expect(withTag(r.ref, 'V1.0-RC')).toMatchObject({ ok: true, ref: { tag: 'V1.0-RC' } });
    expect(withTag(r.ref, 'x'.repeat(129))).toEqual({ ok: false, error: 'invalid tag format' });
  });
});

describe('goPathMatch (Go path.Match)', () => {
  it.each([
    ['a*', 'ab/c', false],
    ['a*/b', 'abc/b', true],
    ['a?b', 'a/b', false],
    ['a?b', 'aéb', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'ab', false],
    ['[^a-c]', 'd', true],
    ['[^a-c]', 'b', false],
    ['[\\]a]', ']', true],
    ['*x', 'xxx', true],
    ['a*b*c', 'abxbbc', true],
  ])('%s ~ %s -> %s', (pattern, name, matched) => {
    expect(goPathMatch(pattern, name)).toEqual({ matched, error: null });
  });

  it.each([['['], ['a['], ['[a-'], ['\\'], ['[]'], ['*[x']])('%s is a bad pattern', (pattern) => {
    expect(goPathMatch(pattern, 'zzz').error).toBe('syntax error in pattern');
  });

  it('FamiliarMatch falls back to the familiar name when the full string does not match', () => {
    const r = parseNormalizedNamed('library/redis:7');
    if (!r.ok) throw new Error(r.error);
    expect(familiarMatch('redis', r.ref)).toEqual({ matched: true, error: null });
    expect(familiarMatch('redis:7', r.ref)).toEqual({ matched: true, error: null });
    expect(familiarMatch('docker.io/*', r.ref)).toEqual({ matched: false, error: null });
  });
});
