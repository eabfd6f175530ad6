import { describe, expect, it } from 'vitest';
import {
  alertSubject,
  findingAlert,
  MAX_SUBJECT,
  parseFindingAlert,
} from '../../lambdas/adapters/sns.ts';
import { ValidationError } from '../../lambdas/core/errors.ts';
import type { Finding } from '../../lambdas/core/types.ts';

function finding(over: Partial<Finding> = {}): Finding {
  return {
    fingerprint: 'b'.repeat(64),
    id: 'b'.repeat(16),
    cluster: 'prod',
    namespace: 'payments',
    workload: { kind: 'Deployment', name: 'api' },
    container: 'app',
    containerKind: 'container',
    image: 'nginx:latest',
    reference: 'docker.io/library/nginx:latest',
    repository: 'docker.io/library/nginx',
    digest: null,
    rule: 'mutable-tag',
    severity: 'medium',
    message: 'tag latest is mutable',
    matchedRule: 'dockerhub-official',
    actor: null,
    source: 'audit',
    observedAt: '2025-06-01T10:00:00.000Z',
    eventId: 'e1',
    status: 'OPEN',
    firstSeen: '2025-06-01T10:00:00.000Z',
    lastSeen: '2025-06-01T10:00:00.000Z',
    count: 1,
    ...over,
  };
}

describe('alertSubject', () => {
  it('reads as one line naming outcome, severity, rule, scope and image', () => {
    expect(alertSubject(finding(), 'new')).toBe(
      'regwatch: New medium mutable-tag in prod/payments: nginx:latest',
    );
  });

  it('stays printable ASCII and under 100 characters for hostile, long names', () => {
    // Prepare
    const hostile = finding({
      namespace: 'ns\nwith\tcontrol\u0007chars',
      image: `régistry.example/${'ü'.repeat(200)}:1`,
    });

    // Act
    const subject = alertSubject(hostile, 'reopened');

    // Assess
    expect(subject.length).toBeLessThanOrEqual(MAX_SUBJECT);
    expect(subject).toMatch(/^[\x20-\x7e]+$/);
    expect(subject).toMatch(
      /^regwatch: Reopened medium mutable-tag in prod\/ns with control\?chars: /,
    );
    expect(subject.endsWith('...')).toBe(true);
  });
});

describe('parseFindingAlert', () => {
  it('round-trips an alert through JSON', () => {
    const alert = findingAlert(finding(), 'new');
    expect(parseFindingAlert(JSON.parse(JSON.stringify(alert)))).toEqual(alert);
  });

  it('names what is wrong with a message that is not an alert', () => {
    const bad = { ...findingAlert(finding(), 'new'), outcome: 'repeat' };
    expect(() => parseFindingAlert(bad)).toThrow(ValidationError);
    expect(() => parseFindingAlert(bad)).toThrow(/outcome/);
  });
});
