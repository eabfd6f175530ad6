/**
 * Container entry: configuration from the environment, JSON logs on stdout, SIGTERM and
 * SIGINT flush the buffer within the grace period and exit.
 */
import { RegwatchError } from '../../lambdas/core/errors.ts';
import { loadConfig } from './config.ts';
import { startForwarder } from './forwarder.ts';
import { createLogger } from './logger.ts';

async function run(): Promise<number> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof RegwatchError) {
      process.stderr.write(`regwatch-forwarder: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger(process.stdout, config.logLevel, { component: 'forwarder' });
  const forwarder = await startForwarder({ config, logger });
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info('shutting down', { signal });
  const { unsent } = await forwarder.shutdown();
  return unsent > 0 ? 1 : 0;
}

run().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `regwatch-forwarder: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 3;
  },
);
