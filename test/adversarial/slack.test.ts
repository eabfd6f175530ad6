/**
 * Slack alerts built from attacker-chosen names: no formatting, mention, link, bidi trick or
 * invisible character reaches the rendered message, and no block or the message exceeds
 * Slack's documented limits, so the alert is never refused for its size.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { SLACK_LIMITS, slackMessage } from '../../lambdas/core/alerts/slack-message.ts';
import type { Finding } from '../../lambdas/core/types.ts';
import { TEST_ENV } from '../handlers/commons/lambda-context.ts';

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
    actor: { username: 'alice', groups: [], sourceIPs: [], userAgent: null, auditID: 'a1' },
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

/** A finding whose every attacker-controlled string is `s`. */
const everywhere = (s: string, extra: Partial<Finding> = {}) =>
  finding({
    cluster: s,
    namespace: s,
    container: s,
    image: s,
    digest: s,
    workload: { kind: 'Deployment', name: s },
    message: `image ${s} is not from a trusted registry`,
    matchedRule: s,
    actor: {
      username: s,
      impersonatedUser: { username: s, groups: [] },
      groups: [],
      sourceIPs: [],
      userAgent: null,
      auditID: null,
    },
    ...extra,
  });

interface Texts {
  mrkdwn: string[];
  plain: string[];
}

/** Every text object of the message, checking each block against Slack's limits on the way. */
function textsOf(msg: ReturnType<typeof slackMessage>): Texts {
  const out: Texts = { mrkdwn: [msg.text], plain: [] };
  expect(msg.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fallbackText);
  expect(msg.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
  for (const raw of msg.blocks) {
    const block = raw as {
      type: string;
      text?: { type: string; text: string };
      fields?: { type: string; text: string }[];
      elements?: { type: string; text: string }[];
    };
    if (block.type === 'header') {
      expect(block.text?.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
      out.plain.push(block.text?.text ?? '');
    }
    if (block.text && block.type === 'section') {
      expect(block.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
      out.mrkdwn.push(block.text.text);
    }
    if (block.fields) {
      expect(block.fields.length).toBeLessThanOrEqual(SLACK_LIMITS.fields);
      for (const f of block.fields) {
        expect(f.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fieldText);
        out.mrkdwn.push(f.text);
      }
    }
    for (const e of block.elements ?? []) {
      expect(e.text.length).toBeLessThanOrEqual(SLACK_LIMITS.contextText);
      out.mrkdwn.push(e.text);
    }
  }
  return out;
}

/** A text without the one newline of ours (between a field's label and its value). */
const own = (t: string) => t.replace(/^\*[A-Za-z]+\*\n/, '');

/** mrkdwn with its code spans removed: what Slack would format. */
const outsideCode = (t: string) => t.replace(/`[^`]*`/g, '');

const INVISIBLE_OR_CONTROL =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for them is the point
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;

describe('Slack alerts with hostile names', () => {
  it('renders * _ ~ ` in names as text, never as formatting, and keeps code spans closed', () => {
    // Prepare
    const hostile = '*BOLD* _ITALIC_ ~STRIKE~ `CODE` ``` fence';

    // Act
    const msg = slackMessage(everywhere(hostile), 'new');
    const { mrkdwn } = textsOf(msg);

    // Assess
    for (const t of mrkdwn) {
      const prose = outsideCode(t);
      expect(prose).not.toContain('*BOLD*');
      expect(prose).not.toContain('_ITALIC_');
      expect(prose).not.toContain('~STRIKE~');
      expect(prose).not.toContain('`CODE`');
      // Code spans pair up: no attacker backtick survives to open or close one.
      expect((t.match(/`/g) ?? []).length % 2).toBe(0);
    }
    // The value is still shown, inertly, in its field.
    expect(JSON.stringify(msg.blocks[2])).toContain("*BOLD* _ITALIC_ ~STRIKE~ 'CODE' ''' fence");
  });

  it('removes bidi and zero-width characters and neutralises mentions, links and control characters', () => {
    // Prepare: "txt.exe" shown as "exe.txt" by RLO; a zero-width joiner hiding in a registry name.
    const hostile =
      'evil\u202etxt.exe\u200d\u2066\ufeff <!channel> <https://x.example|ok> \x1b[31m\r\nforged';

    // Act
    const msg = slackMessage(everywhere(hostile), 'reopened');
    const { mrkdwn, plain } = textsOf(msg);

    // Assess
    for (const t of [...mrkdwn, ...plain]) {
      expect(own(t)).not.toMatch(INVISIBLE_OR_CONTROL);
      expect(t).not.toContain('<!channel>');
      expect(t).not.toContain('<https://');
    }
    expect(JSON.stringify(msg)).toContain('eviltxt.exe');
  });

  it('stays within every Slack limit for names of any size and content', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.string({ unit: 'binary', maxLength: 400 }),
          fc.integer({ min: 1, max: 60_000 }).map((n) => '&<>*_~`\u202e'.repeat(Math.ceil(n / 9))),
        ),
        fc.constantFrom('new', 'reopened') as fc.Arbitrary<'new' | 'reopened'>,
        (s, outcome) => {
          // Act
          const msg = slackMessage(everywhere(s, { message: `image ${s} ${s} is bad` }), outcome);

          // Assess
          const { mrkdwn, plain } = textsOf(msg);
          for (const t of [...mrkdwn, ...plain]) {
            expect(own(t)).not.toMatch(INVISIBLE_OR_CONTROL);
            expect(outsideCode(t)).not.toMatch(/[<>]/);
            // Never a cut escape: each & starts one of Slack's three entities.
            expect(t.replace(/&(amp|lt|gt);/g, '')).not.toContain('&');
          }
          expect(JSON.stringify(msg).length).toBeLessThan(40_000);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("keeps the notifier's alarm messages within the limits too, whatever the description", async () => {
    // Prepare
    for (const [key, value] of Object.entries(TEST_ENV)) vi.stubEnv(key, value);
    vi.stubEnv(
      'SLACK_WEBHOOK_SECRET_ARN',
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x',
    );
    const { alarmMessage } = await import('../../lambdas/handlers/slack-notifier.ts');

    // Act
    const msg = alarmMessage({
      AlarmName: 'x'.repeat(500),
      NewStateValue: 'ALARM',
      NewStateReason: '<&>'.repeat(5_000),
      AlarmDescription: 'd'.repeat(10_000),
    });

    // Assess
    textsOf(msg);
    vi.unstubAllEnvs();
  });
});
