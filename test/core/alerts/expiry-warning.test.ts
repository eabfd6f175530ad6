import type { SNSEventRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  expiryWarning,
  expiryWarningSubject,
  inWarningWindow,
  MAX_LISTED_DEPENDENTS,
} from '../../../lambdas/core/alerts/expiry-warning.ts';
import { ValidationError } from '../../../lambdas/core/errors.ts';
import { messageFor } from '../../../lambdas/handlers/edges/slack-notifier.ts';

const RULE = {
  id: 'tools',
  registry: 'ghcr.io',
  repository: 'tools/**',
  expiresAt: '2026-06-08T10:00:00Z',
  owner: '<!channel> *team*',
};
const dependent = (name: string) => ({
  cluster: 'prod',
  namespace: 'ops',
  workload: { kind: 'Deployment', name },
  container: 'app',
  image: 'ghcr.io/tools/jq:1',
});

function snsRecord(message: string): SNSEventRecord {
  return {
    EventVersion: '1.0',
    EventSubscriptionArn: 'arn:aws:sns:eu-west-1:123456789012:regwatch-alerts:sub',
    EventSource: 'aws:sns',
    Sns: {
      Type: 'Notification',
      MessageId: 'm-1',
      TopicArn: 'arn:aws:sns:eu-west-1:123456789012:regwatch-alerts',
      Subject: 'x',
      Message: message,
      Timestamp: '2026-06-01T10:00:00Z',
      SignatureVersion: '1',
      Signature: 's',
      SigningCertUrl: 'https://sns.example/cert.pem',
      UnsubscribeUrl: 'https://sns.example/unsubscribe',
      MessageAttributes: {},
    },
  };
}

describe('the expiry warning', () => {
  it('is due from N days before the expiry until the expiry, never with 0 days', () => {
    const at = (iso: string) => new Date(iso);
    expect(inWarningWindow(RULE, at('2026-06-01T09:59:59Z'), 7)).toBe(false);
    expect(inWarningWindow(RULE, at('2026-06-01T10:00:00Z'), 7)).toBe(true);
    expect(inWarningWindow(RULE, at('2026-06-08T09:59:59Z'), 7)).toBe(true);
    expect(inWarningWindow(RULE, at('2026-06-08T10:00:00Z'), 7)).toBe(false);
    expect(inWarningWindow(RULE, at('2026-06-05T10:00:00Z'), 0)).toBe(false);
    expect(inWarningWindow({ id: 'x', registry: 'a.io' }, at('2026-06-05T10:00:00Z'), 7)).toBe(
      false,
    );
  });

  it('lists at most 100 dependents, counts them all, and takes the document severity', () => {
    const many = Array.from({ length: 150 }, (_, i) => dependent(`w${i}`));
    const w = expiryWarning(
      RULE,
      { severities: { 'expired-exception': 'critical' } },
      { dependents: many, total: 150, complete: false },
      new Date('2026-06-02T00:00:00Z'),
      7,
    );
    expect(w.dependents).toHaveLength(MAX_LISTED_DEPENDENTS);
    expect(w).toMatchObject({ total: 150, complete: false, severity: 'critical' });
    expect(expiryWarningSubject(w)).toMatch(/^regwatch: exception tools expires .*150\+ container/);
    expect(expiryWarningSubject(w).length).toBeLessThanOrEqual(99);
  });

  it('reaches Slack inert: mentions, links and formatting in stored strings are text', () => {
    // Prepare: attacker-chosen names in the workload and the rule's owner
    const w = expiryWarning(
      RULE,
      {},
      { dependents: [dependent('<https://evil.example|click> `x`')], total: 1, complete: true },
      new Date('2026-06-02T00:00:00Z'),
      7,
    );

    // Act: as the Slack notifier reads it from the topic
    const { kind, message } = messageFor(snsRecord(JSON.stringify(w)));
    const text = JSON.stringify(message);

    // Assess
    expect(kind).toBe('expiry-warning');
    expect(text).not.toContain('<!channel>');
    expect(text).not.toContain('<https://evil.example');
    expect(text).toContain('&lt;!channel&gt;');
    expect(message.blocks.length).toBeLessThanOrEqual(50);
  });

  it('a malformed warning on the topic is a ValidationError, not a message', () => {
    const bad = JSON.stringify({ kind: 'regwatch.expiry-warning', schemaVersion: 1, rule: {} });
    expect(() => messageFor(snsRecord(bad))).toThrow(ValidationError);
  });
});
