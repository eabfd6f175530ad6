import { describe, expect, it } from 'vitest';
import {
  codeSpan,
  escapeMrkdwn,
  MAX_ALERT_NOTES,
  slackMessage,
} from '../../../lambdas/core/alerts/slack-message.ts';
import type { Finding } from '../../../lambdas/core/types.ts';

const hostile = '<!channel> <https://evil.example|click> & `rm`';

function finding(overrides: Partial<Finding> = {}): Finding {
  return {
    id: '0123456789abcdef',
    fingerprint: '0123456789abcdef'.repeat(4),
    cluster: 'prod',
    namespace: 'payments',
    workload: { kind: 'Deployment', name: 'api' },
    container: 'app',
    containerKind: 'container',
    image: 'evil.example/x:1',
    reference: 'evil.example/x:1',
    repository: 'evil.example/x',
    digest: null,
    rule: 'untrusted-source',
    severity: 'high',
    message: 'image evil.example/x:1 is not from a trusted registry',
    matchedRule: null,
    actor: {
      username: 'alice',
      groups: [],
      sourceIPs: ['198.51.100.1'],
      userAgent: null,
      auditID: 'a1',
    },
    source: 'audit',
    observedAt: '2026-11-25T00:00:00Z',
    eventId: 'a1',
    status: 'OPEN',
    firstSeen: '2026-11-25T00:00:00Z',
    lastSeen: '2026-11-25T00:00:00Z',
    count: 1,
    ...overrides,
  };
}

describe('Slack mrkdwn escaping', () => {
  it('escapes the three control characters', () => {
    expect(escapeMrkdwn('a & <b> c')).toBe('a &amp; &lt;b&gt; c');
  });

  it('keeps a code span closed whatever the text holds', () => {
    const span = codeSpan('x`y\nz');
    expect(span).toBe("`x'y z`");
  });

  it('leaves no live mention or link from attacker-chosen strings anywhere in the message', () => {
    // Prepare: every attacker-controlled field carries a mention and a link.
    const f = finding({
      image: hostile,
      namespace: hostile,
      container: hostile,
      workload: { kind: 'Deployment', name: hostile },
      message: `image ${hostile} is untrusted`,
      actor: { username: hostile, groups: [], sourceIPs: [], userAgent: null, auditID: null },
    });
    // Act
    const msg = slackMessage(f, 'new');
    const all = JSON.stringify(msg);
    // Assess: no raw `<` survives in any text, so Slack cannot parse a mention or a link.
    expect(all).not.toContain('<!channel>');
    expect(all).not.toContain('<https://');
    expect(all).toContain('&lt;!channel&gt;');
    expect(msg.text).not.toMatch(/[<>]/);
  });

  it('says reopened for a reopened finding and shows how to look it up', () => {
    const msg = slackMessage(finding(), 'reopened');
    expect(JSON.stringify(msg.blocks[0])).toContain('Reopened finding');
    expect(JSON.stringify(msg)).toContain('regwatch findings show 0123456789abcdef');
  });

  it("shows the latest sighting's notes, inert and bounded", () => {
    // Prepare: a pod claiming an owner, its note carrying a mention and formatting.
    const sighting = (notes: string[]) => ({
      at: '2026-11-25T00:00:00Z',
      source: 'audit' as const,
      eventId: 'a1',
      podName: 'p',
      actor: 'alice',
      notes,
    });
    const plain = slackMessage(finding(), 'new');
    const noted = slackMessage(
      finding({
        sightings: [
          sighting(['an older note']),
          sighting([`pod claims owner *${hostile}*`, 'b', 'c', 'd', 'e']),
        ],
      }),
      'new',
    );
    // Act
    const notes = noted.blocks.map((b) => JSON.stringify(b)).filter((b) => b.includes('Note: '));
    // Assess
    expect(plain.blocks.some((b) => JSON.stringify(b).includes('Note: '))).toBe(false);
    expect(notes).toHaveLength(MAX_ALERT_NOTES);
    expect(notes[0]).toContain('&lt;!channel&gt;');
    expect(notes[0]).not.toContain('<!channel>');
    expect(notes[0]).toContain('∗');
    expect(JSON.stringify(noted)).not.toContain('an older note');
    expect(noted.blocks.length).toBe(plain.blocks.length + MAX_ALERT_NOTES);
  });
});
