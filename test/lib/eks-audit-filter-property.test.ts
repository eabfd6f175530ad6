/*
 * The EKS subscription filter runs before the function and nothing downstream can recover
 * what it drops: whatever the audit event, if the interpreter would judge it (an observation)
 * or report it (a failure, metadata-only, no containers), the filter must keep it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { interpretAuditEvent } from '../../lambdas/core/audit/interpret.ts';
import { isReportedFailure } from '../../lambdas/core/audit/outcome.ts';
import { buildAuditFilterPattern } from '../../lib/eks-audit-filter.ts';
import { evaluate, parseLogsFilter } from '../helpers/logs-filter.ts';

const filter = parseLogsFilter(buildAuditFilterPattern());

// Writes and successful ResponseComplete events are weighted up so that both sides of the
// property are exercised many times in every run.
const verb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('create', 'update', 'patch', 'delete') },
  { weight: 1, arbitrary: fc.constantFrom('get', 'list', 'watch', 'deletecollection') },
);
const target = fc.constantFrom(
  { resource: 'pods', apiGroup: undefined, kind: 'Pod' },
  { resource: 'pods', apiGroup: '', kind: 'Pod' },
  { resource: 'deployments', apiGroup: 'apps', kind: 'Deployment' },
  { resource: 'deployments', apiGroup: undefined, kind: 'Deployment' },
  { resource: 'deployments', apiGroup: 'extensions', kind: 'Deployment' },
  { resource: 'cronjobs', apiGroup: 'batch', kind: 'CronJob' },
  { resource: 'rollouts', apiGroup: 'argoproj.io', kind: 'Rollout' },
  { resource: 'workflows', apiGroup: 'argoproj.io', kind: 'Workflow' },
  { resource: 'jobsets', apiGroup: 'jobset.x-k8s.io', kind: 'JobSet' },
  { resource: 'services', apiGroup: 'serving.knative.dev', kind: 'Service' },
  { resource: 'widgets', apiGroup: 'example.com', kind: 'Widget' },
  { resource: 'leases', apiGroup: 'coordination.k8s.io', kind: 'Lease' },
  { resource: 'httproutes', apiGroup: 'gateway.networking.k8s.io', kind: 'HTTPRoute' },
  { resource: 'configmaps', apiGroup: '', kind: 'ConfigMap' },
  { resource: 'secrets', apiGroup: undefined, kind: 'Secret' },
);
const shape = fc.constantFrom('pod', 'template', 'jobTemplate', 'none');
const event = fc.record({
  verb,
  target,
  shape,
  subresource: fc.constantFrom(
    undefined,
    undefined,
    undefined,
    'status',
    'ephemeralcontainers',
    'scale',
  ),
  stage: fc.constantFrom('ResponseComplete', 'ResponseComplete', 'RequestReceived'),
  code: fc.constantFrom(200, 201, 201, 403, 422, undefined),
  level: fc.constantFrom('Metadata', 'Request', 'RequestResponse'),
});
type Shape = typeof event extends fc.Arbitrary<infer T> ? T : never;

function build(e: Shape) {
  const containers = [{ name: 'c', image: 'evil.example/miner:1' }];
  const spec =
    e.shape === 'pod'
      ? { containers }
      : e.shape === 'template'
        ? { template: { spec: { containers } } }
        : e.shape === 'jobTemplate'
          ? { jobTemplate: { spec: { template: { spec: { containers } } } } }
          : { replicas: 2 };
  const object = { kind: e.target.kind, metadata: { name: 'w', namespace: 'ns' }, spec };
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: e.level,
    auditID: 'a',
    stage: e.stage,
    verb: e.verb,
    user: { username: 'u', groups: [] },
    objectRef: {
      resource: e.target.resource,
      namespace: 'ns',
      name: 'w',
      ...(e.target.apiGroup === undefined ? {} : { apiGroup: e.target.apiGroup }),
      ...(e.subresource === undefined ? {} : { subresource: e.subresource }),
    },
    ...(e.code === undefined ? {} : { responseStatus: { code: e.code } }),
    ...(e.level === 'Metadata' ? {} : { requestObject: object }),
    ...(e.level === 'RequestResponse' ? { responseObject: object } : {}),
    stageTimestamp: '2026-01-01T00:00:00Z',
  };
}

const REPORTED = new Set(['metadata-only', 'no-containers']);

describe('the EKS audit subscription filter', () => {
  it('keeps every successful write the interpreter judges or reports, whatever its kind', () => {
    let kept = 0;
    let dropped = 0;
    fc.assert(
      fc.property(event, (e) => {
        // Prepare
        const value = build(e);
        // Act
        const out = interpretAuditEvent(value, { cluster: 'c' });
        const passes = evaluate(filter, value);
        // Assess: a non-2xx response ran nothing, so the filter may drop it by design (the
        // interpreter reports some of those too, e.g. `no-api-group` comes before the status).
        const ranSomething = e.code === undefined || (e.code >= 200 && e.code < 300);
        const matters =
          out.kind === 'observation' ||
          (ranSomething && (isReportedFailure(out.reason) || REPORTED.has(out.reason)));
        if (matters) {
          kept++;
          expect(passes, JSON.stringify(value)).toBe(true);
        } else if (!passes) dropped++;
      }),
      { numRuns: 4000 },
    );
    // Not vacuous: both sides were exercised many times.
    expect(kept).toBeGreaterThan(200);
    expect(dropped).toBeGreaterThan(200);
  });
});
