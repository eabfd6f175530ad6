import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context, SNSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { SlackDeliveryError } from '../../lambdas/adapters/slack.ts';
import { findingAlert } from '../../lambdas/adapters/sns.ts';
import { ConfigError, ValidationError } from '../../lambdas/core/errors.ts';
import type { Finding } from '../../lambdas/core/types.ts';
import { lambdaContext, TEST_ENV } from './commons/lambda-context.ts';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:regwatch/slack-AbCdEf';
const secretsMock = mockClient(SecretsManagerClient);

interface Received {
  path: string;
  body: string;
}
let received: Received[];
/** Status codes the stub answers per path, in order; then 200. */
let script: Map<string, { status: number; headers?: Record<string, string> }[]>;
let server: Server;
let base: string;

let handler: (event: SNSEvent, context: Context) => Promise<void>;
let webhookUrlFromSecret: (secret: string) => string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ path, body: Buffer.concat(chunks).toString('utf8') });
      const next = script.get(path)?.shift() ?? { status: 200 };
      res.writeHead(next.status, { 'content-type': 'text/plain', ...next.headers });
      res.end(next.status === 200 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (const [key, value] of Object.entries(TEST_ENV)) vi.stubEnv(key, value);
  vi.stubEnv('SLACK_WEBHOOK_SECRET_ARN', SECRET_ARN);
  const module = await import('../../lambdas/handlers/slack-notifier.ts');
  handler = module.handler;
  webhookUrlFromSecret = module.webhookUrlFromSecret;
  // Only Date is faked: the secret cache reads the clock, Retry-After waits stay real.
  vi.useFakeTimers({ toFake: ['Date'] });
});

afterAll(async () => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
  secretsMock.restore();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  received = [];
  script = new Map();
  secretsMock.reset();
  // Each test starts with an expired secret cache.
  vi.setSystemTime(Date.now() + 10 * 60_000);
});

function finding(over: Partial<Finding> = {}): Finding {
  return {
    fingerprint: 'a'.repeat(64),
    id: 'a'.repeat(16),
    cluster: 'prod',
    namespace: 'payments',
    workload: { kind: 'Deployment', name: 'api' },
    container: 'app',
    containerKind: 'container',
    image: 'evil.example.com/app:1.0',
    reference: 'evil.example.com/app:1.0',
    repository: 'evil.example.com/app',
    digest: null,
    rule: 'untrusted-source',
    severity: 'critical',
    message: 'evil.example.com is not an allowed registry',
    matchedRule: null,
    actor: null,
    source: 'forwarder',
    observedAt: '2025-06-01T10:00:00.000Z',
    eventId: 'event-1',
    status: 'OPEN',
    firstSeen: '2025-06-01T10:00:00.000Z',
    lastSeen: '2025-06-01T10:00:00.000Z',
    count: 1,
    ...over,
  };
}

function snsEvent(message: unknown): SNSEvent {
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: 'arn:aws:sns:eu-west-1:123456789012:regwatch-alerts:sub',
        Sns: {
          Type: 'Notification',
          MessageId: 'message-1',
          TopicArn: 'arn:aws:sns:eu-west-1:123456789012:regwatch-alerts',
          Subject: 'regwatch: New critical untrusted-source',
          Message: typeof message === 'string' ? message : JSON.stringify(message),
          Timestamp: '2025-06-01T10:00:01.000Z',
          SignatureVersion: '1',
          Signature: 'x',
          SigningCertUrl: 'https://sns.example/cert',
          UnsubscribeUrl: 'https://sns.example/unsubscribe',
          MessageAttributes: {},
        },
      },
    ],
  };
}

function secret(value: string) {
  secretsMock.on(GetSecretValueCommand).resolves({ SecretString: value });
}

const invoke = (event: SNSEvent) => handler(event, lambdaContext('slack-notifier'));

describe('slack-notifier handler', () => {
  it('posts a finding with hostile names escaped', async () => {
    // Prepare
    secret(`${base}/ok`);
    const hostile = finding({
      image: 'evil.example.com/<!channel>:1.0',
      workload: { kind: 'Deployment', name: '<https://evil.example|click me>' },
      actor: {
        username: '<@U123> & friends',
        groups: [],
        sourceIPs: [],
        userAgent: null,
        auditID: null,
      },
    });

    // Act
    await invoke(snsEvent(findingAlert(hostile, 'new')));

    // Assess
    expect(received).toHaveLength(1);
    const body = received[0]?.body ?? '';
    expect(body).not.toContain('<!channel>');
    expect(body).not.toContain('<https://evil.example');
    expect(body).not.toContain('<@U123>');
    expect(body).toContain('&lt;!channel&gt;');
    const payload = JSON.parse(body) as { text: string; blocks: unknown[] };
    expect(payload.text).toMatch(/^New finding: untrusted-source \(critical\)/);
    expect(payload.blocks.length).toBeGreaterThan(0);
  });

  it('waits as told by a 429 Retry-After and then delivers', async () => {
    // Prepare
    secret(`${base}/busy`);
    script.set('/busy', [{ status: 429, headers: { 'retry-after': '1' } }]);

    // Act
    await invoke(snsEvent(findingAlert(finding(), 'reopened')));

    // Assess
    expect(received.map((r) => r.path)).toEqual(['/busy', '/busy']);
    expect(received[0]?.body).toBe(received[1]?.body);
    expect(JSON.parse(received[1]?.body ?? '{}').text).toMatch(/^Reopened finding/);
  });

  it('reads the secret once for two invocations within five minutes', async () => {
    // Prepare
    secret(`${base}/ok`);

    // Act
    await invoke(snsEvent(findingAlert(finding(), 'new')));
    vi.setSystemTime(Date.now() + 4 * 60_000);
    await invoke(snsEvent(findingAlert(finding(), 'new')));
    const cachedCalls = secretsMock.commandCalls(GetSecretValueCommand).length;
    vi.setSystemTime(Date.now() + 2 * 60_000);
    await invoke(snsEvent(findingAlert(finding(), 'new')));

    // Assess
    expect(cachedCalls).toBe(1);
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    expect(secretsMock.commandCalls(GetSecretValueCommand)[0]?.args[0].input.SecretId).toBe(
      SECRET_ARN,
    );
    expect(received).toHaveLength(3);
  });

  it('accepts the JSON secret form', async () => {
    // Prepare
    secret(JSON.stringify({ url: `${base}/json` }));

    // Act
    await invoke(snsEvent(findingAlert(finding(), 'new')));

    // Assess
    expect(received.map((r) => r.path)).toEqual(['/json']);
  });

  it('fails on a revoked webhook and reads the secret again on the retry', async () => {
    // Prepare
    secret(`${base}/gone`);
    script.set('/gone', [{ status: 404 }]);

    // Act
    const error = await invoke(snsEvent(findingAlert(finding(), 'new'))).catch((e: unknown) => e);
    secret(`${base}/replaced`);
    await invoke(snsEvent(findingAlert(finding(), 'new')));

    // Assess
    expect(error).toBeInstanceOf(SlackDeliveryError);
    expect((error as SlackDeliveryError).status).toBe(404);
    expect(received.map((r) => r.path)).toEqual(['/gone', '/replaced']);
  });

  it('posts regwatch CloudWatch alarms, escaped', async () => {
    // Prepare
    secret(`${base}/ok`);
    const alarm = {
      AlarmName: 'regwatch-alerts-dlq-depth',
      AlarmDescription: 'messages in <the> alerts DLQ',
      NewStateValue: 'ALARM',
      NewStateReason: 'Threshold Crossed: 1 datapoint [3.0] was >= 1.0',
      StateChangeTime: '2025-06-01T10:00:00.000+0000',
      Region: 'EU (Ireland)',
    };

    // Act
    await invoke(snsEvent(alarm));

    // Assess
    const payload = JSON.parse(received[0]?.body ?? '{}') as { text: string };
    expect(payload.text).toBe('CloudWatch alarm regwatch-alerts-dlq-depth is ALARM');
    expect(received[0]?.body).toContain('&lt;the&gt;');
  });

  it('refuses a message that is neither a finding alert nor an alarm, posting nothing', async () => {
    // Prepare
    secret(`${base}/ok`);

    // Act
    const notJson = await invoke(snsEvent('hello <!channel>')).catch((e: unknown) => e);
    const unknown = await invoke(snsEvent({ kind: 'something-else' })).catch((e: unknown) => e);

    // Assess
    expect(notJson).toBeInstanceOf(ValidationError);
    expect(unknown).toBeInstanceOf(ValidationError);
    expect(received).toHaveLength(0);
  });

  it('refuses an unusable secret without repeating it', async () => {
    // Prepare
    secret('http://hooks.example.com/services/SECRET-PART');

    // Act
    const error = await invoke(snsEvent(findingAlert(finding(), 'new'))).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).not.toContain('SECRET-PART');
    expect(received).toHaveLength(0);
  });
});

describe('webhookUrlFromSecret', () => {
  it('accepts a bare https URL or JSON {"url"}, trimming whitespace', () => {
    expect(webhookUrlFromSecret(' https://hooks.slack.com/services/T/B/X\n')).toBe(
      'https://hooks.slack.com/services/T/B/X',
    );
    expect(webhookUrlFromSecret('{"url": "https://hooks.slack-gov.com/services/T/B/X"}')).toBe(
      'https://hooks.slack-gov.com/services/T/B/X',
    );
    expect(webhookUrlFromSecret('http://127.0.0.1:8080/hook')).toBe('http://127.0.0.1:8080/hook');
  });

  it.each([
    ['plain http to a remote host', 'http://hooks.slack.com/services/T/B/X'],
    ['another scheme', 'ftp://hooks.slack.com/x'],
    ['not a URL', 'xoxb-not-a-url'],
    ['empty', '   '],
    ['JSON without url', '{"webhook": "https://hooks.slack.com/x"}'],
    ['broken JSON', '{"url": '],
  ])('refuses %s', (_name, value) => {
    expect(() => webhookUrlFromSecret(value)).toThrow(ConfigError);
  });
});
