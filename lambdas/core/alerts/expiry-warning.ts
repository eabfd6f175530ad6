/**
 * The expiry warning (issue 11): N days before a rule's `expiresAt`, one alert per rule and
 * expiry instant listing the workloads still depending on it. It travels like a finding alert
 * (the SNS topic on AWS, read back by the Slack notifier; local mode's Slack outbox), so its
 * shape is validated wherever it is read. Pure: the caller passes the time and the dependents.
 */
import * as z from 'zod';
import type { AllowlistDocument, AllowlistRule } from '../allowlist/schema.ts';
import { DEFAULT_SEVERITIES } from '../allowlist/schema.ts';
import { SEVERITIES } from '../types.ts';
import {
  codeSpan,
  cutMrkdwn,
  inertProse,
  SLACK_LIMITS,
  type SlackMessage,
  slackClean,
} from './slack-message.ts';

export const EXPIRY_WARNING_KIND = 'regwatch.expiry-warning';
/** Dependents listed in one warning; `total` counts them all. */
export const MAX_LISTED_DEPENDENTS = 100;

const text = (max: number) => z.string().max(max);

export const expiryWarningSchema = z.strictObject({
  kind: z.literal(EXPIRY_WARNING_KIND),
  schemaVersion: z.literal(1),
  rule: z.strictObject({
    id: text(128).min(1),
    expiresAt: text(64).min(1),
    registry: text(300).optional(),
    repository: text(300).optional(),
    image: text(600).optional(),
    reason: text(2000).optional(),
    owner: text(2000).optional(),
    ticket: text(2000).optional(),
  }),
  /** Severity of the `expired-exception` findings the expiry will make. */
  severity: z.enum(SEVERITIES),
  warningDays: z.number().int().min(0).max(3650),
  /** Containers still judged by this rule (at most `MAX_LISTED_DEPENDENTS`). */
  dependents: z
    .array(
      z.strictObject({
        cluster: text(512),
        namespace: text(512),
        workload: z.strictObject({ kind: text(256), name: text(512) }),
        container: text(512),
        image: text(1024),
      }),
    )
    .max(MAX_LISTED_DEPENDENTS),
  total: z.number().int().min(0),
  /** False when the search for dependents stopped at its bound (then `total` is a floor). */
  complete: z.boolean(),
  at: text(64),
});
export type ExpiryWarning = z.infer<typeof expiryWarningSchema>;
export type ExpiryDependent = ExpiryWarning['dependents'][number];

/** The key that makes a warning once per rule and expiry instant. */
export function expiryWarningKey(rule: Pick<AllowlistRule, 'id' | 'expiresAt'>): string {
  return `${rule.id}@${rule.expiresAt ?? ''}`;
}

/** Whether `now` is inside the warning window of `rule` (`days` before its expiry, not after). */
export function inWarningWindow(rule: AllowlistRule, now: Date, days: number): boolean {
  if (rule.expiresAt === undefined || days <= 0) return false;
  const at = Date.parse(rule.expiresAt);
  if (Number.isNaN(at)) return false;
  return now.getTime() >= at - days * 86_400_000 && now.getTime() < at;
}

export function expiryWarning(
  rule: AllowlistRule,
  document: Pick<AllowlistDocument, 'severities'>,
  found: { dependents: readonly ExpiryDependent[]; total: number; complete: boolean },
  now: Date,
  warningDays: number,
): ExpiryWarning {
  const pick = <K extends 'registry' | 'repository' | 'image' | 'reason' | 'owner' | 'ticket'>(
    k: K,
  ) => (rule[k] === undefined ? {} : { [k]: rule[k] });
  return {
    kind: EXPIRY_WARNING_KIND,
    schemaVersion: 1,
    rule: {
      id: rule.id,
      expiresAt: rule.expiresAt ?? '',
      ...pick('registry'),
      ...pick('repository'),
      ...pick('image'),
      ...pick('reason'),
      ...pick('owner'),
      ...pick('ticket'),
    },
    severity: document.severities?.['expired-exception'] ?? DEFAULT_SEVERITIES['expired-exception'],
    warningDays,
    dependents: found.dependents.slice(0, MAX_LISTED_DEPENDENTS),
    total: found.total,
    complete: found.complete,
    at: now.toISOString(),
  };
}

/** Distinct clusters of the listed dependents (the SNS `cluster` attribute, an array). */
export function warningClusters(warning: ExpiryWarning): string[] {
  return [...new Set(warning.dependents.map((d) => d.cluster))];
}

const count = (w: ExpiryWarning) => `${w.total}${w.complete ? '' : '+'}`;

/** One printable-ASCII line of at most 99 characters (SNS subject rules). */
export function expiryWarningSubject(warning: ExpiryWarning): string {
  const raw = `regwatch: exception ${warning.rule.id} expires ${warning.rule.expiresAt}; ${count(warning)} container(s) depend on it`;
  const ascii = raw
    .replace(/\s+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .trim();
  return ascii.length > 99 ? `${ascii.slice(0, 96)}...` : ascii;
}

/** One console line (local mode); the caller makes it terminal-safe. */
export function expiryWarningLine(warning: ExpiryWarning): string {
  return `ALERT EXPIRY-WARNING ${warning.severity.toUpperCase()} rule=${warning.rule.id} expiresAt=${warning.rule.expiresAt} dependents=${count(warning)}${warning.dependents
    .slice(0, 20)
    .map((d) => ` ${d.cluster}/${d.namespace}/${d.workload.kind}/${d.workload.name}/${d.container}`)
    .join(',')}`;
}

/** Slack Block Kit message; every stored string is made inert (`slack-message.ts`). */
export function expiryWarningSlack(warning: ExpiryWarning): SlackMessage {
  const header = slackClean(
    `Exception ${warning.rule.id} expires in ≤ ${warning.warningDays} days`,
  );
  const lines = warning.dependents
    .slice(0, 30)
    .map(
      (d) =>
        `• ${codeSpan(`${d.cluster}/${d.namespace}`)} ${codeSpan(`${d.workload.kind}/${d.workload.name}`)} ${codeSpan(d.container)} ${codeSpan(d.image)}`,
    );
  const more = warning.total - lines.length;
  const about = [
    `:hourglass: Rule ${codeSpan(warning.rule.id)} expires at ${codeSpan(warning.rule.expiresAt)}: then ${count(warning)} container(s) it still allows get \`expired-exception\` findings (${warning.severity}).`,
    warning.rule.owner ? `Owner: ${inertProse(warning.rule.owner)}` : '',
    warning.rule.ticket ? `Ticket: ${inertProse(warning.rule.ticket)}` : '',
    warning.rule.reason ? `Reason: ${inertProse(warning.rule.reason)}` : '',
  ].filter((s) => s !== '');
  return {
    text: cutMrkdwn(
      inertProse(
        `Exception ${warning.rule.id} expires at ${warning.rule.expiresAt}; ${count(warning)} container(s) depend on it`,
      ),
      SLACK_LIMITS.fallbackText,
    ),
    blocks: [
      {
        type: 'header',
        text: {
          type: 'plain_text',
          text: [...header].slice(0, SLACK_LIMITS.headerText).join(''),
          emoji: true,
        },
      },
      {
        type: 'section',
        text: { type: 'mrkdwn', text: cutMrkdwn(about.join('\n'), SLACK_LIMITS.sectionText) },
      },
      ...(lines.length > 0
        ? [
            {
              type: 'section',
              text: {
                type: 'mrkdwn',
                text: cutMrkdwn(
                  `${lines.join('\n')}${more > 0 ? `\n…and ${more}${warning.complete ? '' : '+'} more` : ''}`,
                  SLACK_LIMITS.sectionText,
                ),
              },
            },
          ]
        : []),
    ],
  };
}
