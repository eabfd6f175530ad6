import { Writable } from 'node:stream';
import { type ForwarderConfig, loadConfig, type RawConfig } from '../../forwarder/src/config.ts';
import { createLogger, type Logger } from '../../forwarder/src/logger.ts';

/** A logger whose JSON lines the test can read. */
export function memoryLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const out = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return {
    logger: createLogger(out, 'debug'),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** A configuration for loopback tests: short waits, tight retries. */
export function testConfig(flags: RawConfig, over: Partial<ForwarderConfig> = {}): ForwarderConfig {
  return {
    ...loadConfig({}, { batchWait: '20ms', metricsPort: '0', metricsHost: '127.0.0.1', ...flags }),
    retryBaseMs: 20,
    retryMaxMs: 150,
    ...over,
  };
}

export async function counter(
  metric: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> },
  labels: Record<string, string> = {},
): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((a, v) => a + v.value, 0);
}
