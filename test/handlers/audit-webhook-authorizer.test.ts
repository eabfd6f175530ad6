import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerResult,
  Context,
} from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../lambdas/core/errors.ts';
import { lambdaContext, TEST_ENV } from './commons/lambda-context.ts';

const SECRET_ARN =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:regwatch/audit-webhook-token-AbCdEf';
const TOKEN = 'k8sAuditToken0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN'; // 64 characters
const secretsMock = mockClient(SecretsManagerClient);

let handler: (
  event: APIGatewayRequestAuthorizerEventV2,
  context: Context,
) => Promise<APIGatewaySimpleAuthorizerResult>;
let bearerToken: (header: string | undefined) => string | null;
let logged: string[];

beforeAll(async () => {
  for (const [key, value] of Object.entries(TEST_ENV)) vi.stubEnv(key, value);
  // Logs on, and event logging asked for by the environment: the token must still not appear.
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'DEBUG');
  vi.stubEnv('POWERTOOLS_LOGGER_LOG_EVENT', 'true');
  vi.stubEnv('WEBHOOK_TOKEN_SECRET_ARN', SECRET_ARN);
  const module = await import('../../lambdas/handlers/audit-webhook-authorizer.ts');
  handler = module.handler;
  bearerToken = module.bearerToken;
  vi.useFakeTimers({ toFake: ['Date'] });
});

afterAll(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
  secretsMock.restore();
});

beforeEach(() => {
  secretsMock.reset();
  secretsMock.on(GetSecretValueCommand).resolves({ SecretString: TOKEN });
  vi.setSystemTime(Date.now() + 10 * 60_000); // expire the cached token
  logged = [];
  const capture = (chunk: unknown) => {
    logged.push(String(chunk));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture);
});

afterEach(() => {
  vi.restoreAllMocks();
});

function request(authorization?: string): APIGatewayRequestAuthorizerEventV2 {
  return {
    version: '2.0',
    type: 'REQUEST',
    routeArn: 'arn:aws:execute-api:eu-west-1:123456789012:abc123/$default/POST/audit/prod',
    identitySource: authorization === undefined ? [] : [authorization],
    routeKey: 'POST /audit/{cluster}',
    rawPath: '/audit/prod',
    rawQueryString: '',
    cookies: [],
    headers: {
      'content-type': 'application/json',
      ...(authorization === undefined ? {} : { authorization }),
    },
    queryStringParameters: {},
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: 'abc123.execute-api.eu-west-1.amazonaws.com',
      domainPrefix: 'abc123',
      http: {
        method: 'POST',
        path: '/audit/prod',
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.7',
        userAgent: 'kube-apiserver-admission',
      },
      requestId: 'req-1',
      routeKey: 'POST /audit/{cluster}',
      stage: '$default',
      time: '01/Jun/2025:10:00:00 +0000',
      timeEpoch: 1748772000000,
    },
    pathParameters: { cluster: 'prod' },
    stageVariables: {},
  };
}

const invoke = (authorization?: string) =>
  handler(request(authorization), lambdaContext('audit-webhook-authorizer'));

describe('audit-webhook-authorizer handler', () => {
  it('authorizes the right bearer token and never logs it', async () => {
    // Act
    const result = await invoke(`Bearer ${TOKEN}`);

    // Assess
    expect(result).toEqual({ isAuthorized: true });
    const output = logged.join('');
    expect(output).toContain('audit webhook caller authorized');
    expect(output).toContain('203.0.113.7');
    expect(output).not.toContain(TOKEN);
    expect(output).not.toContain(TOKEN.slice(0, 16));
  });

  it('accepts the scheme in any case', async () => {
    expect(await invoke(`bearer ${TOKEN}`)).toEqual({ isAuthorized: true });
  });

  it('refuses a wrong token of the same length without logging it', async () => {
    // Prepare
    const wrong = `${TOKEN.slice(0, -1)}X`;

    // Act
    const result = await invoke(`Bearer ${wrong}`);

    // Assess
    expect(result).toEqual({ isAuthorized: false });
    expect(logged.join('')).toContain('wrong token');
    expect(logged.join('')).not.toContain(wrong);
  });

  it.each([
    ['a shorter token', `Bearer ${TOKEN.slice(0, 10)}`],
    ['a longer token', `Bearer ${TOKEN}${TOKEN}`],
    ['a prefix of the token plus a space', `Bearer ${TOKEN} extra`],
    ['another scheme', `Basic ${TOKEN}`],
    ['the bare token', TOKEN],
    ['an empty token', 'Bearer '],
    ['an empty header', ''],
  ])('refuses %s', async (_name, header) => {
    expect(await invoke(header)).toEqual({ isAuthorized: false });
  });

  it('refuses a request without the header and does not read the secret for it', async () => {
    // Act
    const result = await invoke(undefined);

    // Assess
    expect(result).toEqual({ isAuthorized: false });
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  it('reads the secret once per five minutes', async () => {
    // Act
    await invoke(`Bearer ${TOKEN}`);
    vi.setSystemTime(Date.now() + 4 * 60_000);
    await invoke('Bearer wrong-token-wrong-token-wrong-token');
    const cachedCalls = secretsMock.commandCalls(GetSecretValueCommand).length;
    vi.setSystemTime(Date.now() + 2 * 60_000);
    await invoke(`Bearer ${TOKEN}`);

    // Assess
    expect(cachedCalls).toBe(1);
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    expect(secretsMock.commandCalls(GetSecretValueCommand)[0]?.args[0].input.SecretId).toBe(
      SECRET_ARN,
    );
  });

  it('accepts the JSON secret form', async () => {
    // Prepare
    secretsMock
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify({ token: TOKEN }) });

    // Act
    const result = await invoke(`Bearer ${TOKEN}`);

    // Assess
    expect(result).toEqual({ isAuthorized: true });
  });

  it('fails closed on a short stored token', async () => {
    // Prepare
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: 'short' });

    // Act
    const error = await invoke('Bearer short').catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(ConfigError);
  });
});

describe('bearerToken', () => {
  it('takes the token after the scheme and nothing else', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('BEARER  abc ')).toBe('abc');
    expect(bearerToken('Bearer a b')).toBeNull();
    expect(bearerToken('Bearerabc')).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
  });
});
