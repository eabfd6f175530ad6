import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mayBeRelevant } from '../../../lambdas/core/audit/prefilter.ts';
import { BytePrefilter, mayBeRelevantBytes } from '../../../lambdas/core/audit/prefilter-bytes.ts';
import { RELEVANT_RESOURCES } from '../../../lambdas/core/audit/rules.ts';

/** Serialise with shuffled keys (at every level) and random JSON whitespace. */
function serialise(value: unknown, order: number[], ws: string[], k = { i: 0 }): string {
  const pad = () => ws[k.i++ % ws.length] ?? '';
  if (Array.isArray(value))
    return `[${pad()}${value.map((v) => serialise(v, order, ws, k)).join(`,${pad()}`)}${pad()}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    const shift = (order[k.i++ % order.length] ?? 0) % Math.max(entries.length, 1);
    const rotated = [...entries.slice(shift), ...entries.slice(0, shift)];
    if ((order[k.i % order.length] ?? 0) % 2 === 1) rotated.reverse();
    return `{${pad()}${rotated.map(([key, v]) => `${JSON.stringify(key)}${pad()}:${pad()}${serialise(v, order, ws, k)}`).join(`${pad()},${pad()}`)}${pad()}}`;
  }
  return JSON.stringify(value);
}

const event = fc.record({
  verb: fc.constantFrom('create', 'update', 'patch', 'get', 'list', 'watch', 'delete'),
  resource: fc.constantFrom(
    ...Object.keys(RELEVANT_RESOURCES),
    'leases',
    'events',
    'nodes',
    'pödß',
  ),
  apiGroup: fc.constantFrom(undefined, '', 'apps', 'batch', 'coordination.k8s.io', 'äpps'),
  subresource: fc.constantFrom(undefined, 'status', 'ephemeralcontainers', 'exec', 'stätus'),
  nestedVerb: fc.constantFrom(undefined, 'get', 'create'),
  nestedRef: fc.constantFrom(undefined, 'leases', 'pods'),
  annotation: fc.constantFrom('plain', 'a "quoted" <b> & c', 'verb', '"verb":"get"', 'ünïcödé ✓'),
  image: fc.constantFrom('nginx', 'ghcr.io/x/y:1', 'ä.example/ö:1'),
});

function build(e: typeof event extends fc.Arbitrary<infer T> ? T : never) {
  return {
    kind: 'Event',
    level: 'RequestResponse',
    auditID: 'x',
    stage: 'ResponseComplete',
    verb: e.verb,
    user: { username: 'ü', groups: [] },
    objectRef: {
      resource: e.resource,
      namespace: 'ns',
      apiGroup: e.apiGroup,
      subresource: e.subresource,
    },
    responseStatus: { code: 200 },
    requestObject: {
      kind: 'Pod',
      metadata: { name: 'p', annotations: { note: e.annotation } },
      spec: { containers: [{ name: 'c', image: e.image }] },
      ...(e.nestedVerb ? { resourceAttributes: { verb: e.nestedVerb } } : {}),
      ...(e.nestedRef ? { objectRef: { resource: e.nestedRef } } : {}),
    },
    stageTimestamp: '2025-01-01T00:00:00Z',
  };
}

/** The pieces the pre-filters look at, to be glued into adversarial (mostly invalid) texts. */
const token = fc.constantFrom(
  '"verb":"get"',
  '"verb":"create"',
  '"objectRef":{"resource":"leases"}',
  '"objectRef":{"resource":"pods","subresource":"status"}',
  '"objectRef":{"resource":"pods"}',
  '"objectRef":{"resource":"pods","resource":"leases"}',
  '"objectRef":{"resource":1,"apiGroup":"apps"}',
  '"objectRef":{ "apiGroup" : "apps" , "resource" : "deployments" }',
  '"objectRef":{"resource":"leases","subresource":null}',
  '"objectRef":{"name":"resource","resource":"events"}',
  '"objectRef":{}',
  '"objectRef":{"resource":"pöds"}',
  '"objectRef":{"resource":"pods","apiGroup":"äpps"}',
  '"verb"',
  '"verb"verb"',
  '"objectRef"',
  '"objectRef"objectRef"',
  '"resource"',
  '"subresource"',
  '"subresource"subresource"',
  '"apiGroup"',
  '"get"',
  '"create"',
  '"patch"',
  '"pods"',
  '"leases"',
  '"status"',
  '"apps"',
  '""',
  ':',
  ' : ',
  ',',
  '{',
  '}',
  ' ',
  '\t',
  '\r\n',
  '\\',
  '\\"',
  '\\u0065',
  '\\u0026',
  '\\u00',
  'é',
  '✓',
  'verb',
  'x',
);

describe('BytePrefilter', () => {
  it('never drops what the string pre-filter keeps, on shuffled and spaced events', () => {
    let kept = 0;
    let dropped = 0;
    fc.assert(
      fc.property(
        event,
        fc.array(fc.nat(20), { minLength: 1, maxLength: 12 }),
        fc.array(fc.constantFrom('', ' ', '  ', '\t', ' \r\n '), { minLength: 1, maxLength: 8 }),
        (e, order, ws) => {
          // Prepare
          const value = build(e);
          const text = serialise(value, order, ws);
          // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range
          const asciiRef = !/[^\u0000-\u007f]/.test(JSON.stringify(value.objectRef));
          // Act
          const byText = mayBeRelevant(text);
          const byBytes = mayBeRelevantBytes(Buffer.from(text, 'utf8'));
          // Assess: never drops more; with an ASCII objectRef, exactly the same answer (it
          // does not decode non-ASCII names, so it keeps those events for the string path).
          if (byText) expect(byBytes).toBe(true);
          if (asciiRef) expect(byBytes).toBe(byText);
          if (byText) kept++;
          else dropped++;
        },
      ),
      { numRuns: 2000 },
    );
    expect(kept).toBeGreaterThan(100);
    expect(dropped).toBeGreaterThan(100);
  });

  it('never drops what the string pre-filter keeps, on token soups and invalid UTF-8', () => {
    let droppedByBoth = 0;
    fc.assert(
      fc.property(
        fc.array(token, { minLength: 1, maxLength: 40 }),
        fc.array(fc.constantFrom(0xc3, 0xff, 0x80, 0xe2), { maxLength: 3 }),
        fc.nat(),
        (tokens, junk, at) => {
          // Prepare: the bytes, and the text a UTF-8 decoder makes of them.
          const clean = Buffer.from(`{${tokens.join('')}}`, 'utf8');
          const cut = 1 + (at % Math.max(clean.length - 1, 1));
          const bytes = Buffer.concat([
            clean.subarray(0, cut),
            Buffer.from(junk),
            clean.subarray(cut),
          ]);
          const text = bytes.toString('utf8');
          const filter = new BytePrefilter(bytes);
          // Act
          const byText = mayBeRelevant(text);
          const byBytes = filter.mayBeRelevant(0, bytes.length);
          // Assess: never drops more; and unless it met a name it does not decode, it answers
          // exactly as the string filter (the reader then skips asking that one again).
          if (byText) expect(byBytes).toBe(true);
          if (!filter.undecoded) expect(byBytes).toBe(byText);
          if (!byText && !byBytes) droppedByBoth++;
        },
      ),
      { numRuns: 5000 },
    );
    // Not vacuous: many soups are decidably irrelevant to both.
    expect(droppedByBoth).toBeGreaterThan(100);
  });

  it('judges many lines of one buffer, in order or not, as it judges each alone', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(token, { minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 30 }),
        fc.boolean(),
        (lines, reversed) => {
          // Prepare
          const texts = lines.map((t) => `{${t.join('')}}`);
          const buf = Buffer.from(texts.join('\n'), 'utf8');
          const spans: [number, number][] = [];
          let pos = 0;
          for (const t of texts) {
            const len = Buffer.byteLength(t);
            spans.push([pos, pos + len]);
            pos += len + 1;
          }
          const order = reversed ? [...spans.keys()].reverse() : [...spans.keys()];
          const filter = new BytePrefilter(buf);
          // Act
          const together = order.map((i) =>
            filter.mayBeRelevant(...(spans[i] as [number, number])),
          );
          // Assess
          expect(together).toEqual(
            order.map((i) => mayBeRelevantBytes(Buffer.from(texts[i] ?? ''))),
          );
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('decides the usual lines like the string filter, including the hard cases', () => {
    const cases = [
      '{"verb":"get","objectRef":{"resource":"pods"}}',
      '{"verb":"update","objectRef":{"resource":"leases","apiGroup":"coordination.k8s.io"}}',
      '{"verb":"patch","objectRef":{"resource":"pods","subresource":"status"}}',
      '{"verb":"create","objectRef":{"resource":"pods"}}',
      '{"spec":{"verb":"get"},"verb" : "create","objectRef" : { "resource" : "pods" }}',
      '{"verb":"g\\u0065t","objectRef":{"resource":"leases"}}',
      '{"\\u0076erb":"create","verb":"get","objectRef":{"resource":"pods"}}',
      '{"message":"{\\"verb\\":\\"create\\"}"}',
      '{"verb":"create","objectRef":{"resource":"po\\/ds"}}',
      '{"verb":"get","requestURI":"/api?watch=1\\u0026x=1","objectRef":{"resource":"pods"}}',
    ];
    for (const text of cases) {
      // Act & Assess
      expect([text, mayBeRelevantBytes(Buffer.from(text))]).toEqual([text, mayBeRelevant(text)]);
    }
    // A non-ASCII resource name is not decoded: kept for the string path, which drops it.
    const odd = '{"verb":"update","objectRef":{"resource":"pöds"}}';
    expect(mayBeRelevant(odd)).toBe(false);
    expect(mayBeRelevantBytes(Buffer.from(odd))).toBe(true);
  });
  it("reads each line's objectRef values afresh when lines repeat nearly the same ones", () => {
    // Values one byte apart (or a prefix of each other), so a remembered value that is
    // wrongly reused changes the answer.
    const resource = fc.constantFrom('pods', 'podz', 'pod', 'podss', 'leases', 'lease', 'pöds');
    const apiGroup = fc.constantFrom('', 'apps', 'app', 'appsx', 'argoproj.io', 'x.k8s.io', 'äpps');
    const sub = fc.constantFrom(null, '', 'status', 'statu', 'ephemeralcontainers');
    const line = fc
      .record({ verb: fc.constantFrom('update', 'get'), resource, apiGroup, sub })
      .map(({ verb, resource, apiGroup, sub }) => {
        const subText = sub === null ? '' : `,"subresource":"${sub}"`;
        const body = `"resource":"${resource}","apiGroup":"${apiGroup}"${subText}`;
        return `{"verb":"${verb}","objectRef":{${body}},"x":"ontainers"}`;
      });
    fc.assert(
      fc.property(fc.array(line, { minLength: 2, maxLength: 40 }), (texts) => {
        // Prepare
        const buf = Buffer.from(texts.join('\n'), 'utf8');
        const filter = new BytePrefilter(buf);
        let pos = 0;

        // Act
        const together = texts.map((t) => {
          const end = pos + Buffer.byteLength(t);
          const kept = filter.mayBeRelevant(pos, end);
          const undecoded = filter.undecoded;
          pos = end + 1;
          return undecoded ? 'undecoded' : kept;
        });

        // Assess: as each line alone, and as the string filter where every name is ASCII.
        expect(together).toEqual(
          texts.map((t) => {
            const alone = new BytePrefilter(Buffer.from(t));
            const kept = alone.mayBeRelevant(0, Buffer.byteLength(t));
            return alone.undecoded ? 'undecoded' : kept;
          }),
        );
        for (const [i, t] of texts.entries()) {
          if (together[i] !== 'undecoded') expect([t, together[i]]).toEqual([t, mayBeRelevant(t)]);
        }
      }),
      { numRuns: 500 },
    );
  });
});
