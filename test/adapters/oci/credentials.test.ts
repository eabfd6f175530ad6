import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, describe, expect, it } from 'vitest';
import {
  canonicalAuthKey,
  parseDockerConfig,
  parseEndpoints,
} from '../../../lambdas/adapters/oci/credentials.ts';
import { ecrCredentials } from '../../../lambdas/adapters/oci/ecr-credentials.ts';
import { ConfigError } from '../../../lambdas/core/errors.ts';

describe('docker config credentials', () => {
  it('reads auth, username/password and registry tokens, keyed by canonical host', () => {
    // Prepare
    const text = JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: Buffer.from('me:pa:ss').toString('base64') },
        'ghcr.io': { username: 'bot', password: 'tok' },
        'https://Registry.Example:5000/': { registrytoken: 'bearer-1' },
        'quay.io': {},
      },
      credsStore: 'desktop',
    });
    // Act
    const map = parseDockerConfig(text, 'config.json');
    // Assess
    expect(Object.fromEntries(map)).toEqual({
      'docker.io': { username: 'me', password: 'pa:ss' },
      'ghcr.io': { username: 'bot', password: 'tok' },
      'registry.example:5000': { registryToken: 'bearer-1' },
    });
  });

  it('refuses malformed files with a named error', () => {
    expect(() => parseDockerConfig('{', 'c.json')).toThrow(ConfigError);
    expect(() => parseDockerConfig('{"auths": []}', 'c.json')).toThrow(/"auths" must be an object/);
    expect(() =>
      parseDockerConfig(
        JSON.stringify({ auths: { x: { auth: Buffer.from('nocolon').toString('base64') } } }),
        'c.json',
      ),
    ).toThrow(/not base64 of user:password/);
    expect(canonicalAuthKey('registry-1.docker.io')).toBe('docker.io');
  });

  it('parses endpoint overrides and refuses bad ones', () => {
    expect(
      parseEndpoints('a.example:5000=http://127.0.0.1:5000, b=https://mirror.example'),
    ).toEqual({
      'a.example:5000': 'http://127.0.0.1:5000',
      b: 'https://mirror.example',
    });
    expect(parseEndpoints(undefined)).toEqual({});
    expect(() => parseEndpoints('nourl')).toThrow(ConfigError);
    expect(() => parseEndpoints('a=ftp://x')).toThrow(ConfigError);
  });
});

describe('ECR credentials', () => {
  const ecrMock = mockClient(ECRClient);
  afterAll(() => ecrMock.restore());

  it('gets and caches a GetAuthorizationToken credential per ECR host; others fall through', async () => {
    // Prepare
    ecrMock.on(GetAuthorizationTokenCommand).resolves({
      authorizationData: [
        {
          authorizationToken: Buffer.from('AWS:secret-token').toString('base64'),
          expiresAt: new Date(Date.now() + 12 * 3600_000),
        },
      ],
    });
    const source = ecrCredentials(
      (region) =>
        new ECRClient({ region, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }),
      async (host) => (host === 'ghcr.io' ? { username: 'x', password: 'y' } : null),
    );
    // Act
    const first = await source('123456789012.dkr.ecr.eu-west-1.amazonaws.com');
    const again = await source('123456789012.dkr.ecr.eu-west-1.amazonaws.com');
    const other = await source('ghcr.io');
    // Assess
    expect(first).toEqual({ username: 'AWS', password: 'secret-token' });
    expect(again).toEqual(first);
    expect(other).toEqual({ username: 'x', password: 'y' });
    const calls = ecrMock.commandCalls(GetAuthorizationTokenCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({ registryIds: ['123456789012'] });
  });
});
