/**
 * Properties of the reference parser: it never throws, normalising is idempotent, a
 * reference built from the grammar round-trips, the hand-written scanner agrees with the
 * grammar written as a regular expression, and hostile inputs that make regex-based
 * parsers backtrack for seconds come back as ordinary errors.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalHost,
  familiarMatch,
  matchReference,
  parse,
  parseAnyReference,
  parseDockerRef,
  parseNamed,
  parseNormalizedNamed,
  withName,
} from '../../lambdas/core/reference.ts';
import { FIXTURES } from '../fixtures/reference/vectors.ts';

/* ------------------------------------------------------------ generators from the grammar */

const pathComponent = fc.stringMatching(/^[a-z0-9]{1,6}(?:(?:[._]|__|-{1,3})[a-z0-9]{1,6}){0,3}$/);
const domainLabel = fc.stringMatching(/^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?$/);
const port = fc.integer({ min: 0, max: 99999 }).map(String);
/** A host that splitDockerDomain also recognises: holds `.` or `:`, or is localhost. */
const registryHost = fc.oneof(
  fc
    .tuple(fc.array(domainLabel, { minLength: 1, maxLength: 3 }), domainLabel)
    .map(([labels, tld]) => [...labels, tld].join('.')),
  fc.tuple(domainLabel, port).map(([h, p]) => `${h}:${p}`),
  // Go does not validate the bracketed address, but needs a `:` in it to see a registry.
  fc
    .tuple(
      fc.stringMatching(/^[0-9a-fA-F:]{0,10}$/),
      fc.stringMatching(/^[0-9a-fA-F:]{0,10}$/),
      fc.option(port, { nil: undefined }),
    )
    .map(([a, b, p]) => `[${a}:${b}]${p === undefined ? '' : `:${p}`}`),
  fc.constantFrom('localhost', 'localhost:5000'),
);
const tag = fc.stringMatching(/^\w[\w.-]{0,127}$/);
const digest = fc.stringMatching(/^[a-f0-9]{64}$/).map((hex) => `sha256:${hex}`);

interface Parts {
  domain: string;
  path: string;
  tag: string | null;
  digest: string | null;
}

const parts: fc.Arbitrary<Parts> = fc
  .record({
    domain: registryHost,
    path: fc.array(pathComponent, { minLength: 1, maxLength: 4 }).map((c) => c.join('/')),
    tag: fc.option(tag, { nil: null }),
    digest: fc.option(digest, { nil: null }),
  })
  .filter((p) => p.path.length <= 255);

const format = (p: Parts): string =>
  `${p.domain}/${p.path}${p.tag === null ? '' : `:${p.tag}`}${p.digest === null ? '' : `@${p.digest}`}`;

/** Strings over the grammar's punctuation: reach the scanner's corners far more often. */
const refish = fc
  .array(fc.constantFrom(...'aAz09f.-_:/@[]%Ü'.split(''), 'sha256:', 'localhost', '--', '__'), {
    maxLength: 40,
  })
  .map((a) => a.join(''));

/* ------------------------------------------------------------------------------ tests */

const parsers = {
  parse,
  parseNormalizedNamed,
  parseNamed,
  parseAnyReference,
  parseDockerRef,
  withName,
};

describe('never throws', () => {
  for (const [name, fn] of Object.entries(parsers)) {
    it(`${name} returns a result for any string`, () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.string({ unit: 'binary', maxLength: 300 }),
            fc.string({ unit: 'grapheme' }),
            refish,
          ),
          (s) => {
            const r = fn(s);
            expect(typeof r.ok).toBe('boolean');
            if (!r.ok) expect(r.error.length).toBeGreaterThan(0);
          },
        ),
        { numRuns: 500 },
      );
    });
  }

  it('refuses non-string input with a named error instead of throwing', () => {
    expect(parseNormalizedNamed(undefined as unknown as string)).toEqual({
      ok: false,
      error: 'reference must be a string',
    });
  });

  it('familiarMatch returns a result for any pattern', () => {
    const ref = parseNormalizedNamed('ghcr.io/org/app:v1');
    if (!ref.ok) throw new Error(ref.error);
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), refish), (pattern) => {
        const r = familiarMatch(pattern, ref.ref);
        expect(typeof r.matched).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });
});

describe('round trips', () => {
  it('parse(format(parts)) gives back the parts', () => {
    fc.assert(
      fc.property(parts, (p) => {
        const r = parse(format(p));
        expect(r).toMatchObject({ ok: true, ref: { ...p, string: format(p) } });
      }),
      { numRuns: 1000 },
    );
  });

  it('parseNormalizedNamed keeps a non-Hub registry reference as written', () => {
    fc.assert(
      fc.property(
        parts.filter((p) => p.domain !== 'index.docker.io' && p.domain !== 'docker.io'),
        (p) => {
          const r = parseNormalizedNamed(format(p));
          expect(r).toMatchObject({ ok: true, ref: { ...p, string: format(p) } });
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('normalising is idempotent', () => {
    const inputs = fc.oneof(
      parts.map(format),
      fc
        .tuple(
          fc.constantFrom('', 'docker.io/', 'index.docker.io/', 'library/', 'Registry/'),
          parts,
        )
        .map(([prefix, p]) => prefix + format(p).slice(p.domain.length + 1)),
      refish,
    );
    fc.assert(
      fc.property(inputs, (s) => {
        const first = parseNormalizedNamed(s);
        fc.pre(first.ok);
        if (!first.ok) return;
        const again = parseNormalizedNamed(first.ref.string);
        expect(again).toEqual(first);
        // A normalised string is canonical, so ParseNamed accepts it unchanged.
        expect(parseNamed(first.ref.string)).toEqual(first);
      }),
      { numRuns: 1000 },
    );
  });
});

/**
 * Go's ReferenceRegexp, written from the grammar as a JavaScript regular expression. It
 * backtracks, so it is only run on short inputs; JS and Go both use leftmost-first
 * submatch semantics, so the captures must equal the scanner's.
 */
const GO_REFERENCE_REGEXP = (() => {
  const alnum = '[a-z0-9]+';
  const separator = '(?:[._]|__|[-]+)';
  const pathComp = `${alnum}(?:${separator}${alnum})*`;
  const domainComp = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
  const host = `(?:${domainComp}(?:\\.${domainComp})*|\\[(?:[a-fA-F0-9:]+)\\])`;
  const domainAndPort = `${host}(?::[0-9]+)?`;
  const name = `(?:${domainAndPort}/)?${pathComp}(?:/${pathComp})*`;
  const tagPat = '[\\w][\\w.-]{0,127}';
  const digestPat = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
  return new RegExp(`^(${name})(?::(${tagPat}))?(?:@(${digestPat}))?$`);
})();

describe('the scanner agrees with the grammar as a regular expression', () => {
  it('on short reference-like strings', () => {
    const short = fc.oneof(
      refish,
      parts.map(format).filter((s) => s.length < 120),
      fc.tuple(parts, refish).map(([p, noise]) => format(p).slice(0, 30) + noise),
    );
    fc.assert(
      fc.property(short, (s) => {
        const m = GO_REFERENCE_REGEXP.exec(s);
        const span = matchReference(s);
        expect(span === null).toBe(m === null);
        if (m === null || span === null) return;
        expect(s.slice(0, span.nameEnd)).toBe(m[1]);
        expect(span.tagStart === -1 ? undefined : s.slice(span.tagStart, span.tagEnd)).toBe(m[2]);
        expect(span.digestStart === -1 ? undefined : s.slice(span.digestStart)).toBe(m[3]);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('linear time on hostile input (structural: 10x longer input still returns an error)', () => {
  const invalid = readFileSync(path.join(FIXTURES, 'real-image-refs.invalid.txt'), 'utf8')
    .split('\n')
    .filter((l) => l !== '');

  it('rejects the 10 malformed references found in real repositories', () => {
    expect(invalid).toHaveLength(10);
    for (const s of invalid) expect(parseNormalizedNamed(s).ok).toBe(false);
  });

  /** Each builder makes an invalid input of about n characters. */
  const hostile: Record<string, (n: number) => string> = {
    'a- repeated': (n) => 'a-'.repeat(n / 2),
    'a/ repeated': (n) => 'a/'.repeat(n / 2),
    'colon run': (n) => `a${':'.repeat(n)}`,
    'colon run after a path': (n) => `registry.example.com/app${':'.repeat(n)}x`,
    '@sha256: + huge digest': (n) => `app@sha256:${'f'.repeat(n)}`,
    'huge digest with a bad last char': (n) => `app@sha256:${'f'.repeat(n)}g`,
    'digest algorithm run': (n) => `app@${'a+'.repeat(n / 2)}:${'f'.repeat(64)}`,
    'long domain, trailing dash': (n) => `${'a.'.repeat(n / 2)}b-/app`,
    'IPv6 bracket never closed': (n) => `[${'f:'.repeat(n / 2)}/app`,
    'separator soup': (n) => `${'a._-'.repeat(n / 4)}/app`,
    'upper case path (lower-case retry)': (n) => `reg.io/${'aB'.repeat(n / 2)}:tag`,
    'stacked tags (from the invalid list)': (n) =>
      `gcr.io/${'google-samples/'.repeat(n / 15)}busybox:latest:v0.3.6`,
    'uppercase name (from the invalid list)': (n) => `aiquan${'Buyservice'.repeat(n / 10)}`,
    'double colon (from the invalid list)': (n) =>
      `gcr.io/google_containers/${'nginx-third-party'.repeat(n / 17)}::0.3`,
  };

  for (const [label, build] of Object.entries(hostile)) {
    it(label, () => {
      // Prepare
      const small = build(10_000);
      const large = build(100_000);
      expect(large.length).toBeGreaterThan(small.length * 9);
      // Act
      const results = [small, large].flatMap((s) => [
        parse(s),
        parseNormalizedNamed(s),
        parseAnyReference(s),
        withName(s),
      ]);
      // Assess: every call came back with an ordinary error.
      for (const r of results) expect(r.ok).toBe(false);
      expect(parseNormalizedNamed(large)).toEqual(parseNormalizedNamed(large));
    });
  }
});

describe('canonicalHost', () => {
  it('lower-cases host names and bracketed IPv6 hex, keeping the port', () => {
    expect(canonicalHost('Registry.Example.COM:5000')).toBe('registry.example.com:5000');
    expect(canonicalHost('[FC00::1]:5000')).toBe('[fc00::1]:5000');
    expect(canonicalHost('docker.io')).toBe('docker.io');
  });

  it('is what a case-insensitive host comparison needs, while domain keeps the case', () => {
    const r = parseNormalizedNamed('GHCR.io/org/app');
    expect(r).toMatchObject({ ok: true, ref: { domain: 'GHCR.io' } });
    if (r.ok) expect(canonicalHost(r.ref.domain)).toBe('ghcr.io');
  });
});
