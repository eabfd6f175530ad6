/**
 * Local mode's alert port: one readable console line per new / reopened finding, and, with a
 * webhook URL, a Slack Block Kit message. Slack messages go out one at a time from a queue, so
 * an ingest request never waits on Slack (a 429 with `Retry-After` pauses the queue, not the
 * request), and shutdown drains what is queued.
 */
import { postToSlack, type SlackPostOptions } from '../adapters/slack.ts';
import { slackMessage } from '../core/alerts/slack-message.ts';
import type { Finding, UpsertResult } from '../core/types.ts';
import { visible } from '../core/visible.ts';
import type { AlertPort } from '../services/ports.ts';

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

/** One line per alert: severity, rule, where, what, who. */
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

export interface SlackAlerterOptions extends SlackPostOptions {
  /** Told when a message could not be delivered after its retries (it is then dropped). */
  onError?: (error: Error, result: UpsertResult) => void;
  onSent?: (result: UpsertResult, attempts: number) => void;
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

  /** Queues the message and returns at once. */
  async notify(result: UpsertResult): Promise<void> {
    const message = slackMessage(result.finding, result.outcome);
    this.#pending++;
    this.#tail = this.#tail.then(async () => {
      try {
        const { attempts } = await postToSlack(this.#url, message, this.#options);
        this.sent++;
        this.#options.onSent?.(result, attempts);
      } catch (error) {
        this.failed++;
        this.#options.onError?.(error as Error, result);
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
