/**
 * The Powertools instances every handler shares. One logger and one metrics buffer per
 * function; the service name comes from `POWERTOOLS_SERVICE_NAME`, which the stack sets to the
 * handler's name (`lambdas/handlers/<name>.ts`). Outside Lambda (tests, local mode) metrics are
 * disabled with `POWERTOOLS_METRICS_DISABLED=true`.
 *
 * No Powertools Tracer: it bundles the X-Ray SDK (aws-xray-sdk-core, semver, cls-hooked,
 * ≈ 125 KB minified, a fifth of every bundle). X-Ray stays on through the functions' active
 * tracing (the runtime records each invocation's segment); what is given up is one subsegment
 * per AWS SDK call and the handler subsegment's annotations. docs/performance.md has the numbers.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Telemetry } from './telemetry.ts';

export const METRICS_NAMESPACE = 'regwatch';

export const logger = new Logger();
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE });

/** The Lambdas' `Telemetry`: Powertools log lines and metrics (flushed by the middy wrapper). */
export const powertoolsTelemetry: Telemetry = {
  debug: (message, fields) => logger.debug(message, { ...fields }),
  info: (message, fields) => logger.info(message, { ...fields }),
  warn: (message, fields) => logger.warn(message, { ...fields }),
  error: (message, fields) => logger.error(message, { ...fields }),
  count: (name, value = 1, dimension) => {
    if (!dimension) {
      metrics.addMetric(name, 'Count', value);
      return;
    }
    // One metric per dimension value: dashboards can stack them.
    const single = metrics.singleMetric();
    single.addDimension(dimension.name, dimension.value);
    single.addMetric(name, 'Count', value);
  },
};
