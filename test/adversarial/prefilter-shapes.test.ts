/**
 * The pre-filters keep every line the interpreter may judge by shape (a custom resource that
 * carries a pod spec) or report (a pod-template owner without apiGroup), and still drop the
 * bulk of custom-resource traffic that cannot carry one.
 */
import { describe, expect, it } from 'vitest';
import { mayBeRelevant } from '../../lambdas/core/audit/prefilter.ts';
import { mayBeRelevantBytes } from '../../lambdas/core/audit/prefilter-bytes.ts';
import { auditEvent, podSpec } from './builders.ts';

const both = (e: unknown) => {
  const text = JSON.stringify(e);
  const a = mayBeRelevant(text);
  expect(mayBeRelevantBytes(Buffer.from(text))).toBe(a);
  return a;
};

const cr = (
  resource: string,
  apiGroup: string,
  body: unknown,
  over: Record<string, unknown> = {},
) =>
  auditEvent('Pod', {
    objectRef: { resource, apiGroup, namespace: 'n', name: 'x' },
    requestObject: body,
    responseObject: body,
    ...over,
  });

describe('pre-filters and custom resources', () => {
  it('keep a CRD write carrying a pod spec, and a JSON patch into a container list', () => {
    expect(both(cr('rollouts', 'argoproj.io', { spec: { template: { spec: podSpec() } } }))).toBe(
      true,
    );
    expect(
      both(
        cr('clonesets', 'apps.kruise.io', undefined, {
          verb: 'patch',
          requestObject: [{ op: 'move', from: '/a', path: '/spec/template/spec/initContainers/0' }],
        }),
      ),
    ).toBe(true);
  });

  it('drop CRD writes without a pod spec, Kubernetes-owned groups and CRD subresources', () => {
    expect(both(cr('certificates', 'cert-manager.io', { spec: { dnsNames: ['a'] } }))).toBe(false);
    expect(
      both(cr('leases', 'coordination.k8s.io', { spec: { holderIdentity: 'containers' } })),
    ).toBe(false);
    expect(
      both(
        cr(
          'rollouts',
          'argoproj.io',
          { spec: { template: { spec: podSpec() } } },
          { objectRef: { resource: 'rollouts', subresource: 'status', apiGroup: 'argoproj.io' } },
        ),
      ),
    ).toBe(false);
  });

  it('keep a deployments write without apiGroup (the interpreter reports it)', () => {
    const e = auditEvent('Deployment');
    delete (e.objectRef as Record<string, unknown>).apiGroup;
    expect(both(e)).toBe(true);
  });
});
