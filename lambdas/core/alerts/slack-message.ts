/**
 * Slack Block Kit message for a finding. Every string that an attacker can choose (image,
 * pod, namespace, workload and user names, messages built from them) goes through
 * `escapeMrkdwn`, so `<!channel>` or `<https://evil|click me>` arrive as inert text.
 */
import type { Finding, UpsertOutcome } from '../types.ts';

/** Slack's control characters in mrkdwn: `&`, `<`, `>` (Slack's own escaping rules). */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const MAX_FIELD = 300;

/** Escaped, single-line, bounded text shown as inline code (no backticks can break out). */
export function codeSpan(text: string): string {
  const oneLine = text.replace(/[\r\n\t]+/g, ' ').replace(/`/g, "'");
  const bounded = oneLine.length > MAX_FIELD ? `${oneLine.slice(0, MAX_FIELD)}…` : oneLine;
  return `\`${escapeMrkdwn(bounded)}\``;
}

const SEVERITY_EMOJI: Record<Finding['severity'], string> = {
  critical: ':red_circle:',
  high: ':large_orange_circle:',
  medium: ':large_yellow_circle:',
  low: ':white_circle:',
};

export interface SlackMessage {
  text: string;
  blocks: unknown[];
}

export function slackMessage(finding: Finding, outcome: UpsertOutcome): SlackMessage {
  const what = outcome === 'reopened' ? 'Reopened finding' : 'New finding';
  const actor = finding.actor
    ? codeSpan(
        finding.actor.impersonatedUser
          ? `${finding.actor.username} (as ${finding.actor.impersonatedUser.username})`
          : finding.actor.username,
      )
    : '_unknown (seen by the forwarder)_';
  const fields = [
    `*Cluster*\n${codeSpan(finding.cluster)}`,
    `*Namespace*\n${codeSpan(finding.namespace)}`,
    `*Workload*\n${codeSpan(`${finding.workload.kind}/${finding.workload.name}`)}`,
    `*Container*\n${codeSpan(finding.container)}`,
    `*Image*\n${codeSpan(finding.image)}`,
    `*Digest*\n${finding.digest ? codeSpan(finding.digest) : '_not pinned, not resolved_'}`,
    `*Actor*\n${actor}`,
    `*Seen*\n${finding.count}× since ${escapeMrkdwn(finding.firstSeen)}`,
  ];
  const fallback = `${what}: ${finding.rule} (${finding.severity}) in ${finding.cluster}/${finding.namespace}: ${finding.image}`;
  return {
    text: escapeMrkdwn(fallback),
    blocks: [
      {
        type: 'header',
        text: {
          type: 'plain_text',
          text: `${what}: ${finding.rule} (${finding.severity})`,
          emoji: true,
        },
      },
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: `${SEVERITY_EMOJI[finding.severity]} ${escapeMrkdwn(finding.message)}`,
        },
      },
      { type: 'section', fields: fields.map((text) => ({ type: 'mrkdwn', text })) },
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: `Finding ${codeSpan(finding.id)} · rule ${codeSpan(finding.matchedRule ?? 'none')} · \`regwatch findings show ${finding.id}\``,
          },
        ],
      },
    ],
  };
}
