/**
 * The one place that turns named errors into HTTP responses for API Gateway HTTP API handlers.
 * Clients get a status and a reason they can act on; a 5xx says nothing about the internals
 * (the full error goes to the log, joined by the request id).
 *
 * | error | status |
 * |---|---|
 * | `ValidationError` | 400, with `issues` |
 * | `NotFoundError` | 404 |
 * | `ConflictError` | 409 |
 * | `PayloadTooLargeError` | 413, with `limitBytes` |
 * | `ConfigError`, `AllowlistError` (the stored allowlist is broken: not the client's fault), anything else | 500 |
 */
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import {
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
  ValidationError,
} from '../../core/errors.ts';
import { logger } from './powertools.ts';

export interface ErrorBody {
  error: string;
  message: string;
  issues?: readonly { path: string; message: string }[];
  limitBytes?: number;
  requestId?: string;
}

function json(statusCode: number, body: ErrorBody): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
}

/** The response for `error`; pure, so every mapping is testable without a Lambda. */
export function errorResponse(
  error: unknown,
  requestId?: string,
): APIGatewayProxyStructuredResultV2 {
  if (error instanceof ValidationError) {
    return json(400, { error: error.code, message: error.message, issues: error.issues });
  }
  if (error instanceof PayloadTooLargeError) {
    return json(413, { error: error.code, message: error.message, limitBytes: error.limitBytes });
  }
  if (error instanceof NotFoundError)
    return json(404, { error: error.code, message: error.message });
  if (error instanceof ConflictError)
    return json(409, { error: error.code, message: error.message });
  return json(500, {
    error: 'INTERNAL',
    message: 'internal error',
    ...(requestId ? { requestId } : {}),
  });
}

/**
 * middy `onError` middleware: logs the error (warn for a client's mistake, error for ours) and
 * answers with `errorResponse`. Pass it in `withPowertools(fn, { use: [httpErrors()] })`.
 */
export function httpErrors<E>(): MiddlewareObj<
  E,
  APIGatewayProxyStructuredResultV2,
  Error,
  Context
> {
  return {
    onError: (request) => {
      const response = errorResponse(request.error, request.context?.awsRequestId);
      const status = response.statusCode ?? 500;
      if (status >= 500) logger.error('request failed', { error: request.error, status });
      else logger.warn('request rejected', { error: request.error?.message, status });
      request.response = response;
    },
  };
}
