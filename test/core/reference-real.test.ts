/**
 * 6,066 references found in real repositories (6,056 valid, 10 malformed): our
 * ParseNormalizedNamed and Parse must agree with the Go library's recorded output on
 * every field.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  familiarString,
  parse,
  parseNormalizedNamed,
  referenceKind,
  tagNameOnly,
} from '../../lambdas/core/reference.ts';
import { FIXTURES } from '../fixtures/reference/vectors.ts';
import { readFixtureText } from '../helpers/fixtures.ts';

interface Line {
  input: string;
  valid: boolean;
  error?: string;
  normalized?: Record<string, unknown>;
  parseNonNormalized: Record<string, unknown>;
}

const lines: Line[] = readFixtureText(path.join(FIXTURES, 'real-image-refs.expected.jsonl'))
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l));

function normalizedView(input: string): Record<string, unknown> {
  const r = parseNormalizedNamed(input);
  if (!r.ok) return { error: r.error };
  const { ref } = r;
  return {
    string: ref.string,
    domain: ref.domain,
    path: ref.path,
    tag: ref.tag,
    digest: ref.digest,
    familiarName: ref.familiarName,
    familiarString: familiarString(ref),
    kind: referenceKind(ref),
    tagNameOnly: tagNameOnly(ref).string,
  };
}

/** The fixture leaves out empty domain / tag / digest in `parseNonNormalized`. */
function nonNormalizedView(input: string): Record<string, unknown> {
  const r = parse(input);
  if (!r.ok) return { ok: false, error: r.error };
  const out: Record<string, unknown> = { ok: true, name: r.ref.name, path: r.ref.path };
  if (r.ref.domain !== '') out.domain = r.ref.domain;
  if (r.ref.tag !== null) out.tag = r.ref.tag;
  if (r.ref.digest !== null) out.digest = r.ref.digest;
  return out;
}

describe('real-image-refs.expected.jsonl', () => {
  it('has 6,056 valid and 10 invalid references', () => {
    expect(lines).toHaveLength(6066);
    expect(lines.filter((l) => l.valid)).toHaveLength(6056);
  });

  it('ParseNormalizedNamed agrees with Go on every line', () => {
    // Act
    const disagreements: string[] = [];
    for (const line of lines) {
      const want = line.valid ? line.normalized : { error: line.error };
      const got = normalizedView(line.input);
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        disagreements.push(
          `${line.input}\n  want ${JSON.stringify(want)}\n  got  ${JSON.stringify(got)}`,
        );
      }
    }
    // Assess
    expect(disagreements.slice(0, 5).join('\n'), `${disagreements.length} disagreements`).toBe('');
  });

  it('Parse (non-normalising) agrees with Go on every line', () => {
    const disagreements: string[] = [];
    for (const line of lines) {
      const got = nonNormalizedView(line.input);
      const want = line.parseNonNormalized;
      const same =
        JSON.stringify(Object.entries(got).sort()) === JSON.stringify(Object.entries(want).sort());
      if (!same) {
        disagreements.push(
          `${line.input}\n  want ${JSON.stringify(want)}\n  got  ${JSON.stringify(got)}`,
        );
      }
    }
    expect(disagreements.slice(0, 5).join('\n'), `${disagreements.length} disagreements`).toBe('');
  });
});
