/**
 * A Secrets Manager value cached in module scope: one `GetSecretValue` per `ttlMs` (default
 * five minutes) per warm Lambda environment, so a rotated secret is picked up within the TTL
 * without paying a call per invocation. Concurrent callers share one request; a failed fetch
 * or a value `parse` rejects is not cached.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError } from '../core/errors.ts';

export const DEFAULT_SECRET_TTL_MS = 5 * 60_000;

export interface CachedSecretOptions<T> {
  ttlMs?: number;
  /** Turns the `SecretString` into the value callers want; throw to reject it. */
  parse?: (secretString: string) => T;
  /** Clock, for tests. */
  now?: () => number;
}

export class CachedSecret<T = string> {
  readonly #client: SecretsManagerClient;
  readonly #secretId: string;
  readonly #ttlMs: number;
  readonly #parse: (secretString: string) => T;
  readonly #now: () => number;
  #cached: { value: T; expires: number } | undefined;
  #inflight: Promise<T> | undefined;

  constructor(
    client: SecretsManagerClient,
    secretId: string,
    options: CachedSecretOptions<T> = {},
  ) {
    this.#client = client;
    this.#secretId = secretId;
    this.#ttlMs = options.ttlMs ?? DEFAULT_SECRET_TTL_MS;
    this.#parse = options.parse ?? ((s: string) => s as T);
    this.#now = options.now ?? (() => Date.now());
  }

  /** The current value, from the cache while it is fresh. */
  async get(): Promise<T> {
    const cached = this.#cached;
    if (cached && this.#now() < cached.expires) return cached.value;
    this.#inflight ??= this.#fetch().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /** Forget the cached value, e.g. after the value was refused (a revoked webhook). */
  invalidate(): void {
    this.#cached = undefined;
  }

  async #fetch(): Promise<T> {
    const out = await this.#client.send(new GetSecretValueCommand({ SecretId: this.#secretId }));
    if (typeof out.SecretString !== 'string') {
      throw new ConfigError(
        `secret ${this.#secretId} has no SecretString (binary secrets are not supported)`,
      );
    }
    const value = this.#parse(out.SecretString);
    this.#cached = { value, expires: this.#now() + this.#ttlMs };
    return value;
  }
}
