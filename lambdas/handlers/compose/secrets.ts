/**
 * Composition root of the functions that read one secret (`slack-notifier`,
 * `audit-webhook-authorizer`): a Secrets Manager client and the secret cached per warm
 * environment.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CachedSecret, type CachedSecretOptions } from '../../adapters/secrets.ts';

export function cachedSecret<T>(
  secretArn: string,
  parse: (secretString: string) => T,
  options: { client?: SecretsManagerClient } & Omit<CachedSecretOptions<T>, 'parse'> = {},
): CachedSecret<T> {
  const { client, ...rest } = options;
  return new CachedSecret(client ?? new SecretsManagerClient({}), secretArn, { ...rest, parse });
}
