/**
 * Local mode's alert port: one readable console line per new / reopened finding, and, with a
 * webhook URL, a Slack Block Kit message. Slack messages go out one at a time from a queue, so
 * an ingest request never waits on Slack (a 429 with `Retry-After` pauses the queue, not the
 * request), and shutdown drains what is queued. With an outbox (`--data DIR`), each message is
 * stored durably before `notify` returns and removed once Slack took it (or refused it for
 * good), so what was not delivered survives a `kill -9` and goes out at the next start.
 */
import type { FileOutbox } from '../adapters/outbox.ts';
import { postToSlack, SlackDeliveryError, type SlackPostOptions } from '../adapters/slack.ts';
import {
  type ExpiryWarning,
  expiryWarningKey,
  expiryWarningLine,
  expiryWarningSlack,
} from '../core/alerts/expiry-warning.ts';
import { alertNotes, type SlackMessage, slackMessage } from '../core/alerts/slack-message.ts';
import { type Finding, SEVERITIES, type Severity, type UpsertResult } from '../core/types.ts';
import { visible } from '../core/visible.ts';
import type { AlertPort } from '../services/ports.ts';
import type { ExpiryWarningNotifier } from '../services/reconcile-warning.ts';

/**
 * Attacker-chosen strings (image, pod and user names) shown on a terminal: control, bidi and
 * zero-width characters are written as visible escapes (`\x1b`, `\u202e`) so they cannot move
 * the cursor, recolour the screen, reorder the line or forge a second log line.
 */
export function terminalSafe(text: string): string {
  return visible(text);
}

function actorOf(finding: Finding): string {
  const actor = finding.actor;
  if (!actor) return `(${finding.source}: no actor)`;
  return actor.impersonatedUser
    ? `${actor.username} as ${actor.impersonatedUser.username}`
    : actor.username;
}

/** One line per alert: severity, rule, where, what, who, and the latest sighting's notes. */
export function alertLine(result: UpsertResult): string {
  const f = result.finding;
  const parts = [
    `ALERT ${result.outcome.toUpperCase()}`,
    f.severity.toUpperCase(),
    f.rule,
    `${f.cluster}/${f.namespace}`,
    `${f.workload.kind}/${f.workload.name}`,
    `container=${f.container}`,
    `image=${f.image}`,
    ...(f.digest && !f.image.includes(f.digest) ? [`digest=${f.digest}`] : []),
    `actor=${actorOf(f)}`,
    `id=${f.id}`,
    ...alertNotes(f).map((note) => `note=${JSON.stringify(note)}`),
  ];
  return terminalSafe(parts.join(' '));
}

export class ConsoleAlerter implements AlertPort {
  readonly #write: (line: string) => void;
  constructor(write: (line: string) => void) {
    this.#write = write;
  }
  async notify(result: UpsertResult): Promise<void> {
    this.#write(alertLine(result));
  }
}

/** An alert waiting in the outbox. */
export interface PendingAlert {
  findingId: string;
  message: SlackMessage;
}

export interface SlackAlerterOptions extends SlackPostOptions {
  /**
   * Told when a message could not be delivered after its retries: without an outbox it is
   * dropped; with one it stays for the next start unless Slack refused it for good (4xx).
   */
  onError?: (error: Error, result: UpsertResult) => void;
  onSent?: (result: UpsertResult, attempts: number) => void;
  /** Where undelivered messages wait (local mode's `--data DIR`). */
  outbox?: FileOutbox<PendingAlert>;
  /** For messages resumed from the outbox (no upsert result in this process). */
  onResumedError?: (error: Error, findingId: string) => void;
  onResumedSent?: (findingId: string, attempts: number) => void;
}

export class SlackAlerter implements AlertPort {
  readonly #url: string;
  readonly #options: SlackAlerterOptions;
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;
  sent = 0;
  failed = 0;

  constructor(webhookUrl: string, options: SlackAlerterOptions = {}) {
    this.#url = webhookUrl;
    this.#options = options;
  }

  /** Stores the message in the outbox (if any), queues it and returns. */
  async notify(result: UpsertResult): Promise<void> {
    const message = slackMessage(result.finding, result.outcome);
    const outbox = this.#options.outbox;
    const name = outbox?.put({ findingId: result.finding.id, message });
    this.#enqueue(message, name, {
      sent: (attempts) => this.#options.onSent?.(result, attempts),
      failed: (error) => this.#options.onError?.(error, result),
    });
  }

  /**
   * Stores an expiry warning in the outbox (if any) and queues it, like a finding alert;
   * `id` names it in the outbox and in error reports.
   */
  notifyWarning(warning: ExpiryWarning): void {
    const message = expiryWarningSlack(warning);
    const id = `expiry-warning:${expiryWarningKey(warning.rule)}`;
    const name = this.#options.outbox?.put({ findingId: id, message });
    this.#enqueue(message, name, {
      sent: (attempts) => this.#options.onResumedSent?.(id, attempts),
      failed: (error) => this.#options.onResumedError?.(error, id),
    });
  }

  /** Queues every message a previous run left in the outbox; resolves with how many. */
  resume(): number {
    const outbox = this.#options.outbox;
    if (!outbox) return 0;
    const items = outbox.list();
    for (const { name, value } of items) {
      this.#enqueue(value.message, name, {
        sent: (attempts) => this.#options.onResumedSent?.(value.findingId, attempts),
        failed: (error) => this.#options.onResumedError?.(error, value.findingId),
      });
    }
    return items.length;
  }

  #enqueue(
    message: SlackMessage,
    name: string | undefined,
    on: { sent: (attempts: number) => void; failed: (error: Error) => void },
  ): void {
    const outbox = this.#options.outbox;
    this.#pending++;
    this.#tail = this.#tail.then(async () => {
      try {
        const { attempts } = await postToSlack(this.#url, message, this.#options);
        if (name) outbox?.remove(name);
        this.sent++;
        on.sent(attempts);
      } catch (error) {
        // Refused for good (a bad payload, a revoked webhook): keeping it would resend it forever.
        if (name && error instanceof SlackDeliveryError && !error.retryable) outbox?.remove(name);
        this.failed++;
        on.failed(error as Error);
      } finally {
        this.#pending--;
      }
    });
  }

  /** Messages queued or in flight. */
  get pending(): number {
    return this.#pending;
  }

  /** Resolves when every queued message was delivered or given up on. */
  async drain(): Promise<void> {
    let tail: Promise<void>;
    do {
      tail = this.#tail;
      await tail;
    } while (tail !== this.#tail);
  }
}

/** Sends every alert to each port in turn. */
export class FanOutAlerter implements AlertPort {
  readonly #ports: readonly AlertPort[];
  constructor(ports: readonly AlertPort[]) {
    this.#ports = ports;
  }
  async notify(result: UpsertResult): Promise<void> {
    for (const port of this.#ports) await port.notify(result);
  }
}

/**
 * Local mode's expiry warnings: an `ALERT EXPIRY-WARNING` console line and, with a webhook, the
 * Slack message through the alert outbox; from the minimum alert severity up, as findings.
 */
export class LocalExpiryWarningNotifier implements ExpiryWarningNotifier {
  readonly #write: ((line: string) => void) | null;
  readonly #slack: SlackAlerter | undefined;
  readonly #minimum: Severity;

  constructor(
    write: ((line: string) => void) | null,
    slack: SlackAlerter | undefined,
    minimum: Severity,
  ) {
    this.#write = write;
    this.#slack = slack;
    this.#minimum = minimum;
  }

  async send(warning: ExpiryWarning): Promise<string | null> {
    if (SEVERITIES.indexOf(warning.severity) < SEVERITIES.indexOf(this.#minimum)) return null;
    this.#write?.(terminalSafe(expiryWarningLine(warning)));
    this.#slack?.notifyWarning(warning);
    return this.#slack ? 'console+slack' : 'console';
  }
}
