import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { CachedSecret } from '../../lambdas/adapters/secrets.ts';
import { ConfigError } from '../../lambdas/core/errors.ts';

const secretsMock = mockClient(SecretsManagerClient);
const client = new SecretsManagerClient({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});

afterAll(() => {
  secretsMock.restore();
});
beforeEach(() => {
  secretsMock.reset();
});

describe('CachedSecret', () => {
  it('shares one request between concurrent callers and caches until the TTL', async () => {
    // Prepare
    let now = 0;
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: 'v1' });
    const secret = new CachedSecret(client, 'id', { ttlMs: 1000, now: () => now });

    // Act
    const first = await Promise.all([secret.get(), secret.get(), secret.get()]);
    now = 999;
    const cached = await secret.get();
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: 'v2' });
    now = 1000;
    const refreshed = await secret.get();

    // Assess
    expect(first).toEqual(['v1', 'v1', 'v1']);
    expect(cached).toBe('v1');
    expect(refreshed).toBe('v2');
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('does not cache a failed fetch or a value the parser refuses', async () => {
    // Prepare
    secretsMock
      .on(GetSecretValueCommand)
      .rejectsOnce(new Error('throttled'))
      .resolvesOnce({ SecretString: 'not-a-number' })
      .resolves({ SecretString: '42' });
    const secret = new CachedSecret(client, 'id', {
      parse: (s) => {
        const n = Number(s);
        if (Number.isNaN(n)) throw new ConfigError('not a number');
        return n;
      },
    });

    // Act
    const errors = [
      await secret.get().catch((e: unknown) => e),
      await secret.get().catch((e: unknown) => e),
    ];
    const value = await secret.get();

    // Assess
    expect((errors[0] as Error).message).toBe('throttled');
    expect(errors[1]).toBeInstanceOf(ConfigError);
    expect(value).toBe(42);
  });

  it('refuses a binary secret', async () => {
    secretsMock.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2]) });
    await expect(new CachedSecret(client, 'bin').get()).rejects.toThrow(/no SecretString/);
  });

  it('fetches again after invalidate', async () => {
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: 'v' });
    const secret = new CachedSecret(client, 'id');
    await secret.get();
    secret.invalidate();
    await secret.get();
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });
});
