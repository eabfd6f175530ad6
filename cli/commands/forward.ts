/**
 * `regwatch forward`: the in-cluster forwarder's code, run from a workstation against any
 * kubeconfig. Runs until SIGINT/SIGTERM, then flushes what is buffered.
 */
import type { Command } from 'commander';
import type { RawConfig } from '../../forwarder/src/config.ts';
import { loadConfig } from '../../forwarder/src/config.ts';
import { startForwarder } from '../../forwarder/src/forwarder.ts';
import { createLogger } from '../../forwarder/src/logger.ts';
import { parseClusterOption } from '../cluster-option.ts';
import { EXIT } from '../context.ts';
import { assertKubeconfig } from '../errors.ts';
import type { Register } from '../main.ts';

interface ForwardOptions {
  cluster?: string;
  sink?: string;
  eventBus?: string;
  kubeconfig?: string;
  namespace?: string[];
  resync?: string;
  batchSize?: string;
  batchWait?: string;
  bufferEvents?: string;
  bufferBytes?: string;
  metricsPort?: string;
  metricsHost?: string;
  shutdownGrace?: string;
  logLevel?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Resolves when the process is asked to stop; tests pass their own. */
export type StopSignal = () => Promise<string>;

const processStop: StopSignal = () =>
  new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });

export function makeRegisterForward(stop: StopSignal = processStop): Register {
  return (program: Command, io, setExit) => {
    program
      .command('forward')
      .description(
        'Stream pod events from a cluster to regwatch (the in-cluster forwarder, run locally)',
      )
      .requiredOption(
        '--cluster <name>',
        'cluster name recorded on every event',
        parseClusterOption,
      )
      .requiredOption(
        '--sink <url|eventbridge>',
        'http(s) URL of /v1/pod-events (token from REGWATCH_SINK_TOKEN), or "eventbridge"',
      )
      .option('--event-bus <name>', 'EventBridge bus name (with --sink eventbridge)')
      .option('--kubeconfig <file>', 'kubeconfig (default: KUBECONFIG, ~/.kube/config)')
      .option('-n, --namespace <ns>', 'watch only this namespace (repeatable)', collect)
      .option('--resync <duration>', 'full resync period, 0 to turn off', '10m')
      .option('--batch-size <n>', 'events per sink call')
      .option('--batch-wait <duration>', 'longest wait to fill a batch', '1s')
      .option('--buffer-events <n>', 'buffer limit in events')
      .option('--buffer-bytes <size>', 'buffer limit in bytes (e.g. 32Mi)')
      .option(
        '--metrics-port <port>',
        '/healthz, /readyz and /metrics port (0: any free port)',
        '0',
      )
      .option('--metrics-host <host>', 'address the probe server listens on', '127.0.0.1')
      .option('--shutdown-grace <duration>', 'time to flush on stop', '10s')
      .option('--log-level <level>', 'debug, info, warn or error')
      .action(async (opts: ForwardOptions) => {
        const flags: RawConfig = {
          cluster: opts.cluster,
          sink: opts.sink,
          eventBus: opts.eventBus,
          kubeconfig: opts.kubeconfig,
          namespaces: opts.namespace?.join(','),
          resync: opts.resync,
          batchSize: opts.batchSize,
          batchWait: opts.batchWait,
          bufferEvents: opts.bufferEvents,
          bufferBytes: opts.bufferBytes,
          metricsPort: opts.metricsPort,
          metricsHost: opts.metricsHost,
          shutdownGrace: opts.shutdownGrace,
          logLevel: opts.logLevel,
        };
        // Throws ConfigError, which the CLI reports as a usage error (exit 2).
        const config = loadConfig(io.env, flags);
        assertKubeconfig(config.kubeconfig, io.env);
        const logger = createLogger(io.stderr, config.logLevel, { component: 'forwarder' });
        const forwarder = await startForwarder({ config, logger });
        const signal = await stop();
        logger.info('shutting down', { signal });
        const { unsent } = await forwarder.shutdown();
        setExit(unsent > 0 ? EXIT.internal : EXIT.ok);
      });
  };
}

/** The `forward` command, stopped by SIGINT or SIGTERM. */
export const registerForward: Register = makeRegisterForward();
