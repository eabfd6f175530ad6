/**
 * The Powertools instances every handler shares. One logger, one metrics buffer and one
 * tracer per function; the service name comes from `POWERTOOLS_SERVICE_NAME`, which the stack
 * sets to the handler's name (`lambdas/handlers/<name>.ts`).
 *
 * Outside Lambda (tests, local mode) the tracer switches itself off, and metrics are
 * disabled with `POWERTOOLS_METRICS_DISABLED=true`.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

export const METRICS_NAMESPACE = 'regwatch';

export const logger = new Logger();
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE });
export const tracer = new Tracer();

/**
 * Instruments an AWS SDK v3 client for X-Ray and returns it. Create clients once at module
 * load with no region: the SDK takes the runtime's `AWS_REGION`.
 *
 * ```ts
 * const sns = awsClient(new SNSClient({}));
 * ```
 */
export function awsClient<T>(client: T): T {
  return tracer.captureAWSv3Client(client);
}
