import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { interpretAuditEvent } from '../../../lambdas/core/audit/interpret.ts';
import { mayBeRelevant } from '../../../lambdas/core/audit/prefilter.ts';
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

// Writes are weighted up so that each run reports enough events for the property to bite
// (unweighted, about 4% of events were reported and the count sat near its floor).
const verbs = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('create', 'update', 'patch') },
  { weight: 1, arbitrary: fc.constantFrom('get', 'list', 'watch', 'delete', 'deletecollection') },
);
const resources = fc.constantFrom(
  ...Object.keys(RELEVANT_RESOURCES),
  'leases',
  'secrets',
  'events',
  'nodes',
  'tokenreviews',
);
const groupFor = (r: string) =>
  (RELEVANT_RESOURCES as Record<string, { groups: readonly string[] }>)[r]?.groups[0] ??
  'coordination.k8s.io';

const event = fc.record({
  verb: verbs,
  resource: resources,
  subresource: fc.constantFrom(
    undefined,
    undefined,
    'status',
    'ephemeralcontainers',
    'exec',
    'scale',
  ),
  stage: fc.constantFrom('ResponseComplete', 'RequestReceived'),
  code: fc.constantFrom(200, 201, 403),
  level: fc.constantFrom('Metadata', 'Request', 'RequestResponse'),
  nestedVerb: fc.constantFrom(undefined, 'get', 'create'),
  annotation: fc.constantFrom('plain', 'a "quoted" <b> & c', 'verb', '"verb":"get"'),
  image: fc.constantFrom('nginx', 'ghcr.io/x/y:1', `a.b/c@sha256:${'a'.repeat(64)}`),
});

function build(e: EventShape) {
  const object = {
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'ns', annotations: { note: e.annotation, verb: 'get' } },
    spec: {
      containers: [{ name: 'c', image: e.image }],
      template: { spec: { containers: [{ name: 'c', image: e.image }] } },
      jobTemplate: {
        spec: { template: { spec: { containers: [{ name: 'c', image: e.image }] } } },
      },
    },
    ...(e.nestedVerb ? { resourceAttributes: { verb: e.nestedVerb, resource: 'secrets' } } : {}),
  };
  const group = groupFor(e.resource);
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: e.level,
    auditID: 'x',
    stage: e.stage,
    verb: e.verb,
    user: { username: 'u', groups: [] },
    objectRef: {
      resource: e.resource,
      namespace: 'ns',
      name: 'p',
      apiGroup: group || undefined,
      subresource: e.subresource,
    },
    responseStatus: { code: e.code },
    requestObject: e.level === 'Metadata' ? undefined : object,
    responseObject: e.level === 'RequestResponse' ? object : undefined,
    annotations: { reason: e.annotation },
    stageTimestamp: '2025-01-01T00:00:00Z',
  };
}

type EventShape = typeof event extends fc.Arbitrary<infer T> ? T : never;

const REPORTED = new Set(['metadata-only', 'failed-request', 'no-containers']);

describe('mayBeRelevant', () => {
  it('never drops an event the interpreter reports, whatever the key order and spacing', () => {
    let reportedCount = 0;
    let droppedCount = 0;
    fc.assert(
      fc.property(
        event,
        fc.array(fc.nat(20), { minLength: 1, maxLength: 12 }),
        fc.array(fc.constantFrom('', ' ', '  ', '\t', ' \r\n '), { minLength: 1, maxLength: 8 }),
        (e, order, ws) => {
          // Prepare
          const value = build(e);
          const text = serialise(value, order, ws);
          // Act
          const out = interpretAuditEvent(JSON.parse(text), { cluster: 'c' });
          const reported = out.kind === 'observation' || REPORTED.has(out.reason);
          // Assess
          if (reported) {
            reportedCount++;
            expect(mayBeRelevant(text)).toBe(true);
          } else if (!mayBeRelevant(text)) droppedCount++;
        },
      ),
      { numRuns: 3000 },
    );
    // The property is not vacuous: both sides of it were exercised.
    expect(reportedCount).toBeGreaterThan(100);
    expect(droppedCount).toBeGreaterThan(100);
  });

  it('drops the bulk of irrelevant traffic', () => {
    // Prepare
    const lease = JSON.stringify({
      kind: 'Event',
      auditID: 'a',
      stage: 'ResponseComplete',
      verb: 'update',
      objectRef: {
        resource: 'leases',
        namespace: 'kube-node-lease',
        apiGroup: 'coordination.k8s.io',
      },
    });
    const watch =
      '{"verb":"watch","objectRef":{"resource":"pods"},"requestURI":"/api/v1/pods?watch=true\\u0026x=1"}';
    const status = '{"verb":"patch","objectRef":{"resource":"pods","subresource":"status"}}';
    // Act & Assess
    expect(mayBeRelevant(lease)).toBe(false);
    expect(mayBeRelevant(watch)).toBe(false);
    expect(mayBeRelevant(status)).toBe(false);
  });

  it('keeps what it cannot decide: letter escapes, escaped values, no verb key', () => {
    // Act & Assess
    expect(mayBeRelevant('{"verb":"g\\u0065t","objectRef":{"resource":"leases"}}')).toBe(true);
    expect(
      mayBeRelevant('{"\\u0076erb":"create","verb":"get","objectRef":{"resource":"pods"}}'),
    ).toBe(true);
    expect(mayBeRelevant('{"message":"{\\"verb\\":\\"create\\"}"}')).toBe(true);
    expect(mayBeRelevant('{"verb":"create","objectRef":{"resource":"po\\/ds"}}')).toBe(true);
  });

  it('a relevant verb with a nested irrelevant one is kept', () => {
    // Act & Assess
    expect(
      mayBeRelevant(
        '{"spec":{"verb":"get"},"verb" : "create","objectRef" : { "resource" : "pods" }}',
      ),
    ).toBe(true);
  });
});
