/**
 * Every case of Go distribution/reference's own test tables (distribution-vectors.json):
 * our output must equal the real library's output (`implOutput`, `normalized`) and what
 * the upstream test asserts (`expected`, `errorMessage`).
 */
import { describe, expect, it } from 'vitest';
import { matchAnchoredName } from '../../lambdas/core/reference/scan.ts';
import {
  familiarMatch,
  isIdentifier,
  matchDomainAndPort,
  matchReference,
  parse,
  parseAnyReference,
  parseDockerRef,
  parseNamed,
  parseNormalizedNamed,
  withDigest,
  withName,
  withTag,
} from '../../lambdas/core/reference.ts';
import type { ImageReference, ParseResult } from '../../lambdas/core/types.ts';
import { expectedView, goShape, loadVectors, type Vector } from '../fixtures/reference/vectors.ts';

const vectors = loadVectors();
const byApi = (api: string): Vector[] => vectors.filter((v) => v.api === api);

/** Asserts a failure that upstream only requires to be "an error". */
const ANY_ERROR = /^\(any error/;

function assertAgainstGo(v: Vector, result: ParseResult, familiar: boolean): void {
  // Assess: the real library's output, whole.
  if (v.implOutput) expect(goShape(result, familiar)).toEqual(v.implOutput);
  // Assess: what the upstream test asserts.
  if (v.valid === true) {
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(expectedView(v, result.ref)).toEqual(v.expected);
    }
  } else if (v.valid === false) {
    expect(result.ok).toBe(false);
    if (!result.ok && v.errorMessage) expect(result.error).toBe(v.errorMessage);
    if (!v.errorMessage) expect(v.error).toMatch(ANY_ERROR);
  }
}

/** WithName(input) -> optional WithDigest / WithTag, as reference_test.go chains them. */
function chain(v: Vector): ParseResult {
  const normalizedInput = v.calls?.includes('ParseNormalizedNamed');
  let result = normalizedInput ? parseNormalizedNamed(v.input) : withName(v.input);
  const steps: ('tag' | 'digest')[] = v.api === 'WithTag' ? ['digest', 'tag'] : ['tag', 'digest'];
  for (const step of steps) {
    const arg = v.args?.[step];
    if (!result.ok || arg === undefined) continue;
    const ref: ImageReference = result.ref;
    result = step === 'tag' ? withTag(ref, arg) : withDigest(ref, arg);
  }
  return result;
}

describe('distribution-vectors.json', () => {
  it('holds the 337 cases this suite is written for', () => {
    expect(vectors).toHaveLength(337);
  });

  describe('Parse', () => {
    it.each(byApi('Parse').map((v) => [v.id, v] as const))('%s', (_id, v) => {
      const result = parse(v.input);
      assertAgainstGo(v, result, false);
      if (v.normalized) expect(goShape(parseNormalizedNamed(v.input), true)).toEqual(v.normalized);
    });
  });

  describe('ParseNormalizedNamed', () => {
    it.each(byApi('ParseNormalizedNamed').map((v) => [v.id, v] as const))('%s', (_id, v) => {
      assertAgainstGo(v, parseNormalizedNamed(v.input), true);
    });
  });

  describe('ParseNamed', () => {
    it.each(byApi('ParseNamed').map((v) => [v.id, v] as const))('%s', (_id, v) => {
      assertAgainstGo(v, parseNamed(v.input), false);
    });
  });

  describe('ParseDockerRef', () => {
    it.each(byApi('ParseDockerRef').map((v) => [v.id, v] as const))('%s', (_id, v) => {
      assertAgainstGo(v, parseDockerRef(v.input), false);
    });
  });

  describe('ParseAnyReference', () => {
    it.each(byApi('ParseAnyReference').map((v) => [v.id, v] as const))('%s', (_id, v) => {
      const result = parseAnyReference(v.input);
      expect(goShape(result, false)).toEqual(v.implOutput);
      expect(result.ok && result.ref.string).toBe(v.expected.string);
    });
  });

  describe('WithName', () => {
    it.each(byApi('WithName').map((v) => [v.id, v] as const))('%s', (_id, v) => {
      assertAgainstGo(v, withName(v.input), false);
    });
  });

  describe('WithTag and WithDigest', () => {
    const cases = [...byApi('WithTag'), ...byApi('WithDigest')];
    it.each(cases.map((v) => [v.id, v] as const))('%s', (_id, v) => {
      const result = chain(v);
      if (v.valid) {
        expect(result).toMatchObject({ ok: true, ref: { string: v.expected.string } });
      } else {
        expect(result.ok).toBe(false);
        const want = v.api === 'WithTag' ? 'invalid tag format' : 'invalid digest format';
        expect(result).toEqual({ ok: false, error: want });
      }
    });
  });

  describe('FamiliarMatch', () => {
    it.each(byApi('FamiliarMatch').map((v) => [v.id, v] as const))('%s', (_id, v) => {
      const parsed = parseAnyReference(v.input);
      expect(parsed.ok).toBe(true);
      if (!parsed.ok) return;
      const result = familiarMatch(v.args?.pattern ?? '', parsed.ref);
      if (v.valid) expect(result).toEqual({ matched: v.expected.match, error: null });
      else expect(result.error).toBe('syntax error in pattern');
    });
  });

  // Go's internal regular expressions, through the scanners that replace them.
  describe('regexp:domainAndPort (matchDomainAndPort)', () => {
    it.each(byApi('regexp:domainAndPort').map((v) => [v.id, v] as const))('%s', (_id, v) => {
      expect(matchDomainAndPort(v.input, 0, v.input.length)).toBe(v.expected.match);
    });
  });

  describe('regexp:anchoredName (matchAnchoredName)', () => {
    it.each(byApi('regexp:anchoredName').map((v) => [v.id, v] as const))('%s', (_id, v) => {
      const slash = matchAnchoredName(v.input, 0, v.input.length);
      expect(slash !== null).toBe(v.expected.match);
      if (slash === null) return;
      const got: Record<string, unknown> = { match: true };
      if ('domain' in v.expected) got.domain = slash === -1 ? '' : v.input.slice(0, slash);
      if ('remoteName' in v.expected) got.remoteName = v.input.slice(slash + 1);
      expect(got).toEqual(v.expected);
    });
  });

  describe('regexp:reference (matchReference)', () => {
    it.each(byApi('regexp:reference').map((v) => [v.id, v] as const))('%s', (_id, v) => {
      const span = matchReference(v.input);
      expect(span !== null).toBe(v.expected.match);
      if (span === null) return;
      expect({
        match: true,
        name: v.input.slice(0, span.nameEnd),
        tag: span.tagStart === -1 ? null : v.input.slice(span.tagStart, span.tagEnd),
        digest: span.digestStart === -1 ? null : v.input.slice(span.digestStart),
      }).toEqual(v.expected);
    });
  });

  describe('regexp:identifier (isIdentifier)', () => {
    it.each(byApi('regexp:identifier').map((v) => [v.id, v] as const))('%s', (_id, v) => {
      expect(isIdentifier(v.input)).toBe(v.expected.match);
    });
  });

  describe('every case, through ParseNormalizedNamed', () => {
    const withNormalized = vectors.filter((v) => v.normalized !== undefined);
    it.each(withNormalized.map((v) => [v.id, v] as const))('%s', (_id, v) => {
      expect(goShape(parseNormalizedNamed(v.input), true)).toEqual(v.normalized);
    });
  });

  it('covers every api in the file', () => {
    const known = new Set([
      'Parse',
      'ParseNormalizedNamed',
      'ParseNamed',
      'ParseDockerRef',
      'ParseAnyReference',
      'WithName',
      'WithTag',
      'WithDigest',
      'FamiliarMatch',
      'regexp:domainAndPort',
      'regexp:anchoredName',
      'regexp:reference',
      'regexp:identifier',
    ]);
    expect(vectors.filter((v) => !known.has(v.api)).map((v) => v.id)).toEqual([]);
  });
});
