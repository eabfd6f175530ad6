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

export const METRICS_NAMESPACE = 'regwatch';

export const logger = new Logger();
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE });
