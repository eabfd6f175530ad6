import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KubeResponseTooLargeError } from '../../forwarder/src/kube-errors.ts';
import { ITEM_TOO_LARGE, ListSplitter, ListSyntaxError } from '../../forwarder/src/list-stream.ts';

const LIMITS = { maxItemBytes: 1024 * 1024, maxFieldBytes: 64 * 1024 };

/** Feeds `text` cut at `cuts` (byte offsets) and returns the items and fields. */
function split(text: string, cuts: number[] = [], limits = LIMITS) {
  const bytes = Buffer.from(text, 'utf8');
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const splitter = new ListSplitter(limits);
  const items: unknown[] = [];
  let from = 0;
  for (const to of [...at, bytes.length]) {
    items.push(...splitter.push(bytes.subarray(from, to)));
    from = to;
  }
  splitter.end();
  return { items, fields: Object.fromEntries(splitter.fields), sawItems: splitter.sawItems };
}

// Strings heavy in the bytes the splitter must not mistake for structure.
const tricky = fc.string({
  unit: fc.constantFrom('"', '\\', '{', '}', '[', ']', ',', ':', ' ', '\n', 'a', 'é', '😀'),
});
const value = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    tricky,
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(tricky, tie('v'), { maxKeys: 4 }),
  ),
})).v;

describe('list response splitter', () => {
  it('yields exactly the items JSON.parse sees, however the bytes are cut', () => {
    fc.assert(
      fc.property(
        fc.array(value, { maxLength: 8 }),
        fc.dictionary(tricky, value, { maxKeys: 3 }),
        fc.constantFrom(undefined, 1, '\t'),
        fc.array(fc.nat(), { maxLength: 12 }),
        (items, metadata, indent, cuts) => {
          // Prepare
          const doc = { kind: 'PodList', metadata: { ...metadata, resourceVersion: '7' }, items };
          const text = JSON.stringify(doc, null, indent);

          // Act
          const got = split(text, cuts);

          // Assess
          const want = JSON.parse(text) as typeof doc;
          expect(got.items).toEqual(want.items);
          expect(got.fields).toEqual({ kind: 'PodList', metadata: want.metadata });
          expect(got.sawItems).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('skips an item over the cap without keeping it, and reads the items after it', () => {
    // Act
    const got = split(
      `{"items":[{"a":1},{"big":"${'x'.repeat(5000)}"},"${'y'.repeat(5000)}",{"b":2}],"metadata":{}}`,
      [100, 2000, 4097, 8000],
      { maxItemBytes: 4096, maxFieldBytes: 100 },
    );

    // Assess
    expect(got.items).toEqual([{ a: 1 }, ITEM_TOO_LARGE, ITEM_TOO_LARGE, { b: 2 }]);
    expect(got.fields).toEqual({ metadata: {} });
  });

  it('refuses a top-level field over its cap', () => {
    expect(() =>
      split(`{"metadata":{"x":"${'m'.repeat(200)}"},"items":[]}`, [], {
        maxItemBytes: 1000,
        maxFieldBytes: 100,
      }),
    ).toThrow(KubeResponseTooLargeError);
  });

  it.each([
    ['truncated', '{"items":[{"a":1}'],
    ['truncated string', '{"items":["abc'],
    ['not an object', '[{"a":1}]'],
    ['a comma before ]', '{"items":[1,]}'],
    ['a comma before }', '{"items":[],}'],
    ['no comma between items', '{"items":[1 2]}'],
    ['no comma between members', '{"items":[] "kind":"x"}'],
    ['a second items', '{"items":[],"items":[]}'],
    ['data after the end', '{"items":[]} {}'],
    ['a member name that is not a string', '{items:[]}'],
    ['an item that is not JSON', '{"items":[tru]}'],
    ['a missing value', '{"kind":,"items":[]}'],
    ['no colon', '{"kind" "x","items":[]}'],
  ])('refuses a response with %s', (_, text) => {
    expect(() => split(text)).toThrow(ListSyntaxError);
  });

  it('keeps prototype keys of the envelope as data', () => {
    // Act
    const got = split('{"__proto__":{"polluted":1},"constructor":2,"items":[]}');

    // Assess
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect(got.fields).toMatchObject({ constructor: 2 });
    expect(Object.hasOwn(got.fields, '__proto__')).toBe(true);
  });

  it('says when the object had no items array', () => {
    expect(split('{"kind":"Status","items":null}').sawItems).toBe(false);
  });
});
