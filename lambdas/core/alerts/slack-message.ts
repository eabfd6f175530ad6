/**
 * Slack Block Kit message for a finding. Every string an attacker can choose (image, pod,
 * namespace, workload and user names, messages built from them) is made inert before it is
 * placed:
 * - `&`, `<`, `>` escaped (Slack's own rule), so `<!channel>` or `<https://evil|click me>`
 *   arrive as text;
 * - bidi controls and zero-width characters removed (they would reorder or hide what the
 *   reader sees), control characters turned into spaces;
 * - values shown in code spans, where mrkdwn applies no formatting; a backtick cannot close
 *   the span (it becomes `'`);
 * - in prose (the finding's message, the notification text), where mrkdwn would format,
 *   `* _ ~ \`` are swapped for look-alikes (∗ ˍ ∼ ˋ): Slack has no escape for them. The exact
 *   values stay in the fields' code spans and in `regwatch findings show`.
 * Every block and the whole message stay within Slack's documented limits (header 150
 * characters, section text 3,000, a field 2,000, at most 10 fields and 50 blocks, the
 * notification text cut well below its 40,000): a long value is cut with "…" so Slack never
 * refuses an alert for its size.
 */
import type { Finding, UpsertOutcome } from '../types.ts';

/** Slack's documented Block Kit limits (characters). */
export const SLACK_LIMITS = {
  headerText: 150,
  sectionText: 3000,
  fieldText: 2000,
  fields: 10,
  contextText: 3000,
  blocks: 50,
  /** Slack truncates `text` past 40,000; a notification needs far less. */
  fallbackText: 3000,
} as const;

/** Shown at most per value in a field, before escaping. */
const MAX_VALUE = 300;

/** Slack's control characters in mrkdwn: `&`, `<`, `>` (Slack's own escaping rules). */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

// Bidi embeddings, overrides, isolates and marks; zero-width spaces, joiners, word joiner,
// invisible operators, BOM; Mongolian vowel separator; soft hyphen.
const INVISIBLE = /[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;
// C0, DEL, C1, line and paragraph separators.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** Removes bidi and zero-width characters and turns control characters into spaces. */
export function slackClean(text: string): string {
  return text.replace(INVISIBLE, '').replace(CONTROL, ' ');
}

const LOOKALIKE: Record<string, string> = { '*': '∗', _: 'ˍ', '~': '∼', '`': 'ˋ' };

/** Prose safe for mrkdwn: cleaned, no formatting characters, escaped. */
export function inertProse(text: string): string {
  return escapeMrkdwn(slackClean(text).replace(/[*_~`]/g, (c) => LOOKALIKE[c] ?? c));
}

/**
 * Cuts already-built mrkdwn to `limit` characters with "…", never inside an escape
 * (`&amp;`) or a surrogate pair.
 */
export function cutMrkdwn(text: string, limit: number): string {
  if (text.length <= limit) return text;
  let end = limit - 1;
  const amp = text.lastIndexOf('&', end);
  if (amp !== -1 && amp > end - 5 && text.indexOf(';', amp) >= end) end = amp;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

function cutPlain(text: string, limit: number): string {
  const chars = [...text];
  return chars.length <= limit ? text : `${chars.slice(0, limit - 1).join('')}…`;
}

/** Escaped, single-line, bounded text shown as inline code (no backticks can break out). */
export function codeSpan(text: string): string {
  const oneLine = slackClean(text).replace(/\s+/g, ' ').replace(/`/g, "'");
  const bounded = cutPlain(oneLine, MAX_VALUE + 1);
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

/** Notes shown per alert, each cut to this many characters (all are in `findings show`). */
export const MAX_ALERT_NOTES = 3;
const MAX_NOTE = 500;

/**
 * What the latest sighting says about how it was read (the request object was used, the kind
 * was judged by shape, a pod claims an owner): the reader of an alert should know it too.
 */
export function alertNotes(finding: Finding): string[] {
  const notes = finding.sightings?.at(-1)?.notes ?? [];
  return notes.slice(0, MAX_ALERT_NOTES).map((note) => cutPlain(note, MAX_NOTE));
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
    `*Seen*\n${finding.count}× since ${inertProse(finding.firstSeen)}`,
  ].slice(0, SLACK_LIMITS.fields);
  const fallback = `${what}: ${finding.rule} (${finding.severity}) in ${finding.cluster}/${finding.namespace}: ${finding.image}`;
  return {
    text: cutMrkdwn(inertProse(fallback), SLACK_LIMITS.fallbackText),
    blocks: [
      {
        type: 'header',
        text: {
          type: 'plain_text',
          text: cutPlain(
            slackClean(`${what}: ${finding.rule} (${finding.severity})`),
            SLACK_LIMITS.headerText,
          ),
          emoji: true,
        },
      },
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: cutMrkdwn(
            `${SEVERITY_EMOJI[finding.severity]} ${inertProse(finding.message)}`,
            SLACK_LIMITS.sectionText,
          ),
        },
      },
      {
        type: 'section',
        fields: fields.map((text) => ({
          type: 'mrkdwn',
          text: cutMrkdwn(text, SLACK_LIMITS.fieldText),
        })),
      },
      ...alertNotes(finding).map((note) => ({
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: cutMrkdwn(`Note: ${inertProse(note)}`, SLACK_LIMITS.contextText),
          },
        ],
      })),
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: cutMrkdwn(
              `Finding ${codeSpan(finding.id)} · rule ${codeSpan(finding.matchedRule ?? 'none')} · \`regwatch findings show ${finding.id}\``,
              SLACK_LIMITS.contextText,
            ),
          },
        ],
      },
    ],
  };
}
