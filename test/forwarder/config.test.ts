import { describe, expect, it } from 'vitest';
import { loadConfig, parseBytes } from '../../forwarder/src/config.ts';
import { parseDuration } from '../../forwarder/src/duration.ts';
import { ConfigError } from '../../lambdas/core/errors.ts';

describe('forwarder configuration', () => {
  it('reads the environment, lets flags override it, and fills defaults', () => {
    // Prepare
    const env = {
      REGWATCH_CLUSTER: 'prod-eu',
      REGWATCH_SINK: 'eventbridge',
      REGWATCH_EVENT_BUS: 'regwatch',
      REGWATCH_NAMESPACES: 'apps, kube-system,apps',
      REGWATCH_RESYNC: '5m',
    };

    // Act
    const c = loadConfig(env, { resync: '1h30m', bufferBytes: '8Mi' });

    // Assess
    expect(c).toMatchObject({
      cluster: 'prod-eu',
      namespaces: ['apps', 'kube-system'],
      sink: { kind: 'eventbridge', eventBusName: 'regwatch' },
      resyncMs: 5_400_000,
      batchSize: 10,
      batchWaitMs: 1_000,
      bufferMaxEvents: 10_000,
      bufferMaxBytes: 8 * 1024 * 1024,
      metricsPort: 9090,
    });
  });

  it('takes an http sink with the token from the environment and caps eventbridge batches at 10', () => {
    // Act
    const http = loadConfig(
      { REGWATCH_SINK_TOKEN: 's3cret' },
      { cluster: 'dev', sink: 'http://127.0.0.1:8787/v1/pod-events', batchSize: '250' },
    );
    const eb = loadConfig(
      {},
      { cluster: 'dev', sink: 'eventbridge', eventBus: 'b', batchSize: '50' },
    );

    // Assess
    expect(http.sink).toEqual({
      kind: 'http',
      url: 'http://127.0.0.1:8787/v1/pod-events',
      token: 's3cret',
    });
    expect(http.batchSize).toBe(250);
    expect(eb.batchSize).toBe(10);
  });

  it('names every bad setting at once and never echoes the token', () => {
    // Act
    let err: unknown;
    try {
      loadConfig(
        { REGWATCH_SINK_TOKEN: 'do-not-print-me' },
        { sink: 'http://x', resync: 'soon', bufferEvents: '-3', namespaces: 'Bad_NS' },
      );
    } catch (e) {
      err = e;
    }

    // Assess
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toContain('cluster: required');
    expect(msg).toContain('resync: "soon" is not a duration');
    expect(msg).toContain('buffer-events');
    expect(msg).toContain('namespaces');
    expect(msg).not.toContain('do-not-print-me');
  });

  it('refuses an unknown sink and eventbridge without a bus', () => {
    expect(() => loadConfig({}, { cluster: 'c', sink: 'kafka://x' })).toThrow(
      /neither "eventbridge" nor an http\(s\) URL/,
    );
    expect(() => loadConfig({}, { cluster: 'c', sink: 'eventbridge' })).toThrow(
      /eventBus: required/,
    );
  });

  it('refuses a sink URL with user:pass@ at start, naming the setting without echoing the secret', () => {
    for (const sink of [
      'https://svc:hunter2@regwatch.example.com/v1/pod-events',
      'http://only-user@127.0.0.1:8787/v1/pod-events',
      'http://:hunter2@127.0.0.1:8787/v1/pod-events',
    ]) {
      let err: unknown;
      try {
        loadConfig({}, { cluster: 'c', sink });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/sink: the URL carries credentials/);
      expect((err as Error).message).not.toContain('hunter2');
    }
  });

  it('parses durations and sizes as people write them', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('2500')).toBe(2500);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('10 minutes')).toBeNull();
    expect(parseDuration('')).toBeNull();
    expect(parseBytes('32Mi')).toBe(32 * 1024 * 1024);
    expect(parseBytes('1MB')).toBe(1_000_000);
    expect(parseBytes('lots')).toBeNull();
  });
});
