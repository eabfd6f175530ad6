/**
 * Posts to a Slack incoming webhook. Slack answers 429 with `Retry-After` (seconds) when a
 * channel is flooded; we wait as told, and back off on 5xx and network errors. Other 4xx
 * answers (a revoked webhook, a bad payload) will not get better: they fail at once so the
 * caller can send the message to its DLQ.
 */

export class SlackDeliveryError extends Error {
  readonly status: number | null;
  readonly retryable: boolean;
  constructor(message: string, status: number | null, retryable: boolean) {
    super(message);
    this.name = 'SlackDeliveryError';
    this.status = status;
    this.retryable = retryable;
  }
}

export interface SlackPostOptions {
  /** Attempts in all, the first one included. */
  maxAttempts?: number;
  /** Upper bound on one wait, so a hostile Retry-After cannot park a Lambda. */
  maxWaitMs?: number;
  baseDelayMs?: number;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  timeoutMs?: number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `Retry-After` is seconds or an HTTP date; anything else means "use the backoff". */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | null {
  if (header === null || header.trim() === '') return null;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

export async function postToSlack(
  webhookUrl: string,
  payload: unknown,
  options: SlackPostOptions = {},
): Promise<{ attempts: number }> {
  const maxAttempts = options.maxAttempts ?? 5;
  const maxWaitMs = options.maxWaitMs ?? 30_000;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const doFetch = options.fetch ?? fetch;
  const sleep = options.sleep ?? defaultSleep;
  const body = JSON.stringify(payload);
  let lastError: SlackDeliveryError | null = null;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    let waitMs: number;
    try {
      const res = await doFetch(webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      if (res.ok) {
        await res.body?.cancel();
        return { attempts: attempt };
      }
      const text = (await res.text()).slice(0, 200);
      const retryable = res.status === 429 || res.status >= 500;
      lastError = new SlackDeliveryError(
        `Slack answered ${res.status}: ${text}`,
        res.status,
        retryable,
      );
      if (!retryable) throw lastError;
      const backoff = baseDelayMs * 2 ** (attempt - 1);
      waitMs = retryAfterMs(res.headers.get('retry-after')) ?? backoff;
    } catch (err) {
      if (err instanceof SlackDeliveryError && !err.retryable) throw err;
      if (!(err instanceof SlackDeliveryError)) {
        lastError = new SlackDeliveryError(
          `Slack request failed: ${err instanceof Error ? err.message : String(err)}`,
          null,
          true,
        );
      }
      waitMs = baseDelayMs * 2 ** (attempt - 1);
    }
    if (attempt < maxAttempts) await sleep(Math.min(waitMs, maxWaitMs));
  }
  throw lastError ?? new SlackDeliveryError('Slack delivery failed', null, true);
}
