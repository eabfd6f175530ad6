import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  auditEventSchema,
  interpretAuditEvent,
  isPlainAuditEvent,
} from '../../../lambdas/core/audit/interpret.ts';

/** Values each field may take: right, wrong, absent. */
const odd = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.constantFrom('', 'x', 'Event', 'ResponseComplete', 'create', 0, 1, -0, 201, Number.NaN),
  fc.constantFrom(Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, true, false, [], {}, ['x']),
  fc.string({ maxLength: 3 }),
  fc.double(),
  fc.anything({ maxDepth: 1 }),
);

/** Absent: the key is left out of the record. */
const ABSENT = Symbol('absent');

/** Mostly a right value, sometimes a wrong one or none, so that whole events are often valid. */
const maybe = <T>(a: fc.Arbitrary<T>) =>
  fc.oneof(
    { weight: 14, arbitrary: a as fc.Arbitrary<unknown> },
    { weight: 1, arbitrary: odd },
    { weight: 1, arbitrary: fc.constant(ABSENT) },
  );

/** A record of the fields, absent ones left out. */
function loose(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  return fc
    .record(fields)
    .map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== ABSENT)));
}

const arbObjectRef = maybe(
  loose({
    resource: maybe(fc.constantFrom('pods', 'deployments', 'leases')),
    subresource: maybe(fc.constantFrom('', 'status', 'ephemeralcontainers')),
    namespace: maybe(fc.constantFrom('web', '')),
    name: maybe(fc.constantFrom('p', '')),
    apiGroup: maybe(fc.constantFrom('', 'apps', 'argoproj.io')),
    uid: maybe(odd),
  }),
);

/** Near-valid audit events: every field the schema reads, each right or wrong or missing. */
const arbEvent = fc.oneof(
  loose({
    kind: maybe(fc.constant('Event')),
    apiVersion: maybe(fc.constant('audit.k8s.io/v1')),
    auditID: maybe(fc.constantFrom('6c1f9a52', 'a')),
    stage: maybe(fc.constantFrom('ResponseComplete', 'RequestReceived')),
    verb: maybe(fc.constantFrom('create', 'patch', 'get')),
    level: maybe(fc.constantFrom('Metadata', 'RequestResponse')),
    user: maybe(loose({ username: maybe(fc.constantFrom('alice', '')), groups: maybe(odd) })),
    objectRef: arbObjectRef,
    responseStatus: maybe(loose({ code: maybe(fc.constantFrom(200, 201, 403, 1.5)) })),
    stageTimestamp: maybe(fc.constantFrom('2025-01-01T00:00:00Z', 'nope')),
    requestReceivedTimestamp: maybe(fc.constant('2025-01-01T00:00:00Z')),
    timestamp: maybe(fc.constant('2025-01-01T00:00:00Z')),
    responseObject: maybe(odd),
  }),
  fc.anything(),
);

describe('isPlainAuditEvent', () => {
  it('accepts exactly what the audit-event schema accepts', () => {
    let valid = 0;
    let invalid = 0;
    fc.assert(
      fc.property(arbEvent, (v) => {
        const accepted = auditEventSchema.safeParse(v).success;
        expect(isPlainAuditEvent(v)).toBe(accepted);
        if (accepted) valid++;
        else invalid++;
      }),
      { numRuns: 5000 },
    );
    // Both sides are well sampled (near-valid events make most of the wrong ones).
    expect(Math.min(valid, invalid)).toBeGreaterThan(500);
  });

  it('the interpreter gives the same outcome with and without it', () => {
    // Prepare: the schema's own copy stands for what zod alone gave before.
    fc.assert(
      fc.property(arbEvent, (v) => {
        const parsed = auditEventSchema.safeParse(v);
        const viaZod = parsed.success ? parsed.data : v;

        // Act
        const fast = interpretAuditEvent(v, { cluster: 'c' });
        const slow = interpretAuditEvent(viaZod, { cluster: 'c' });

        // Assess
        expect(fast).toEqual(slow);
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects what zod rejects, and zod names why', () => {
    // Act
    const outcome = interpretAuditEvent(
      { auditID: 'a', stage: 'ResponseComplete', verb: 'create', user: { username: 1 } },
      { cluster: 'c' },
    );

    // Assess
    expect(outcome).toMatchObject({
      kind: 'skipped',
      reason: 'not-audit-event',
      detail: expect.stringContaining('user.username'),
    });
  });
});
