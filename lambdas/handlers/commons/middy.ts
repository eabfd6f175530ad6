/**
 * Wraps a handler function with middy and the Powertools middlewares, in one way for every
 * function: Lambda context in every log line, and metrics flushed after each invocation (with a
 * cold-start metric). The invocation is traced by the function's X-Ray active tracing.
 *
 * ```ts
 * export const handler = withPowertools(async (event: SNSEvent) => { … });
 * ```
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy, { type MiddlewareObj, type MiddyfiedHandler } from '@middy/core';
import type { Context } from 'aws-lambda';
import { logger, metrics } from './powertools.ts';

export interface PowertoolsOptions<E, R> {
  /**
   * Log the incoming event. Off unless set: some events carry secrets (the authorizer's
   * bearer token), so a handler opts in explicitly. The explicit value also overrides
   * `POWERTOOLS_LOGGER_LOG_EVENT`, so that variable cannot turn it on by accident.
   */
  logEvent?: boolean;
  /** Further middlewares, applied after the Powertools ones (e.g. `httpErrors()`). */
  use?: MiddlewareObj<E, R>[];
}

export function withPowertools<E, R>(
  fn: (event: E, context: Context) => Promise<R>,
  options: PowertoolsOptions<E, R> = {},
): MiddyfiedHandler<E, R> {
  let wrapped = middy<E, R>(fn)
    .use(injectLambdaContext(logger, { logEvent: options.logEvent ?? false, resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }));
  for (const middleware of options.use ?? []) wrapped = wrapped.use(middleware);
  return wrapped;
}
