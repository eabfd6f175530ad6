import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AUDIT_RESOURCES,
  AUDIT_VERBS,
  buildAuditFilterPattern,
  eksClusterLogGroupName,
  FILTER_PATTERN_MAX_LENGTH,
} from '../../lib/eks-audit-filter.ts';
import { SHARED_FIXTURES } from '../helpers/fixtures.ts';
import { evaluate, parseLogsFilter as parse } from '../helpers/logs-filter.ts';

const FIXTURES = path.join(SHARED_FIXTURES, 'audit-events');

function auditEvent(overrides: {
  verb?: string;
  stage?: string;
  code?: number | null;
  resource?: string;
  subresource?: string;
  apiGroup?: string;
}) {
  const objectRef: Record<string, string> = {
    resource: overrides.resource ?? 'pods',
    namespace: 'web',
    apiVersion: 'v1',
  };
  if (overrides.subresource) objectRef.subresource = overrides.subresource;
  if (overrides.apiGroup) objectRef.apiGroup = overrides.apiGroup;
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: '00000000-0000-0000-0000-000000000000',
    stage: overrides.stage ?? 'ResponseComplete',
    verb: overrides.verb ?? 'create',
    user: { username: 'someone' },
    objectRef,
    ...(overrides.code === null
      ? {}
      : { responseStatus: { metadata: {}, code: overrides.code ?? 201 } }),
  };
}

describe('buildAuditFilterPattern', () => {
  const pattern = buildAuditFilterPattern();
  const matches = (event: unknown) => evaluate(parse(pattern), event);

  it('fits the CloudWatch Logs limit and parses in the supported subset', () => {
    // Prepare / Act
    const tree = parse(pattern);

    // Assess
    expect(pattern.length).toBeLessThanOrEqual(FILTER_PATTERN_MAX_LENGTH);
    expect(tree.kind).toBe('and');
  });

  it('passes every event of the constructed EKS fixture (pod create, kubectl debug, set image, Metadata-level create)', () => {
    // Prepare
    const lines = readFileSync(path.join(FIXTURES, 'constructed/eks-audit-events.jsonl'), 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '');

    // Act
    const results = lines.map((line) => matches(JSON.parse(line)));

    // Assess
    expect(results).toEqual([true, true, true, true]);
  });

  it('keeps only the ResponseComplete stage of a webhook EventList', () => {
    // Prepare
    const list = JSON.parse(
      readFileSync(
        path.join(FIXTURES, 'constructed/webhook-eventlist-pod-create-two-stages.json'),
        'utf8',
      ),
    ) as { items: { stage: string }[] };

    // Act
    const passed = list.items.filter((event) => matches(event)).map((event) => event.stage);

    // Assess
    expect(passed).toEqual(['ResponseComplete']);
  });

  it.each(
    AUDIT_VERBS.flatMap((verb) => AUDIT_RESOURCES.map((resource) => [verb, resource] as const)),
  )('passes a successful %s of %s', (verb, resource) => {
    expect(matches(auditEvent({ verb, resource, code: 200 }))).toBe(true);
  });

  it.each([
    [
      'kubectl debug (pods/ephemeralcontainers patch)',
      { verb: 'patch', subresource: 'ephemeralcontainers', code: 200 },
      true,
    ],
    ['status patch by the kubelet', { verb: 'patch', subresource: 'status', code: 200 }, false],
    ['scheduler binding', { verb: 'create', subresource: 'binding', code: 201 }, false],
    ['kubectl exec', { verb: 'create', subresource: 'exec', code: 101 }, false],
    [
      'kubectl scale',
      { verb: 'patch', resource: 'deployments', subresource: 'scale', code: 200 },
      false,
    ],
    [
      'ephemeral containers on a non-pod',
      { verb: 'patch', resource: 'deployments', subresource: 'ephemeralcontainers', code: 200 },
      false,
    ],
    ['a get', { verb: 'get', code: 200 }, false],
    ['a watch', { verb: 'watch', code: 200 }, false],
    // The inventory follows deletes (issue 11); a failed one still changes nothing.
    ['a delete', { verb: 'delete', code: 200 }, true],
    ['a forbidden delete', { verb: 'delete', code: 403 }, false],
    ['a delete of a configmap', { verb: 'delete', resource: 'configmaps', code: 200 }, false],
    ['a forbidden create', { code: 403 }, false],
    ['a create rejected by admission', { code: 400 }, false],
    // The interpreter reports it (`no-response-status`), so it must reach the function.
    ['a create without response status', { code: null }, true],
    ['the RequestReceived stage', { stage: 'RequestReceived', code: null }, false],
    ['a configmap create', { resource: 'configmaps' }, false],
    ['a secret update', { verb: 'update', resource: 'secrets', code: 200 }, false],
    // Custom resources may embed a pod spec (judged by shape in the function).
    ['an Argo Rollout create', { resource: 'rollouts', apiGroup: 'argoproj.io' }, true],
    ['a JobSet patch', { verb: 'patch', resource: 'jobsets', apiGroup: 'jobset.x-k8s.io' }, true],
    [
      'a custom resource status patch',
      { verb: 'patch', resource: 'rollouts', apiGroup: 'argoproj.io', subresource: 'status' },
      false,
    ],
    [
      'a lease renewal',
      { verb: 'update', resource: 'leases', apiGroup: 'coordination.k8s.io', code: 200 },
      false,
    ],
    ['a token review', { resource: 'tokenreviews', apiGroup: 'authentication.k8s.io' }, false],
    [
      'a Gateway API route',
      { resource: 'httproutes', apiGroup: 'gateway.networking.k8s.io' },
      false,
    ],
    ['a core-group configmap', { resource: 'configmaps', apiGroup: '' }, false],
  ] as const)('%s → %s', (_name, overrides, expected) => {
    expect(matches(auditEvent(overrides))).toBe(expected);
  });

  it('lets through exactly the pod and deployment writes and deletes among the Falco traces', () => {
    // Prepare: real (v1beta1-era) events; trace fal_01_003 is deliberately malformed JSON.
    const dir = path.join(FIXTURES, 'falco-traces');
    const names = [
      'create_deployment.json',
      'create_nginx_pod_privileged.json',
      'create_configmap.json',
      'exec_pod.json',
      'delete_deployment.json',
    ];

    // Act
    const results = Object.fromEntries(
      names.map((name) => {
        const text = readFileSync(path.join(dir, name), 'utf8');
        const first = JSON.parse(text.split('\n').find((line) => line.trim() !== '') ?? '{}');
        return [name, matches(first)];
      }),
    );

    // Assess
    expect(results).toEqual({
      'create_deployment.json': true,
      'create_nginx_pod_privileged.json': true,
      'create_configmap.json': false,
      'exec_pod.json': false,
      // The inventory follows deletes (issue 11).
      'delete_deployment.json': true,
    });
  });

  it('the evaluator rejects syntax it does not implement', () => {
    expect(() => parse('{ $.verb = "create" && $.stage = "x" || $.code = "y" }')).toThrow(/mixed/);
    expect(() => parse('{ $.verb != "create" }')).toThrow();
    expect(() => parse('{ $.a = %(x)% }')).toThrow(/subset/);
    expect(() => parse('{ $.a = %x% && $.b = %y% && $.c = %z% }')).toThrow(/allows 2/);
  });
});

describe('eksClusterLogGroupName', () => {
  it('is the log group EKS control-plane logging writes to', () => {
    expect(eksClusterLogGroupName('orion-prod-euc1')).toBe('/aws/eks/orion-prod-euc1/cluster');
  });
});
