import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  AllowlistError,
  ConfigError,
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
  ValidationError,
} from '../../../lambdas/core/errors.ts';
import { lambdaContext, TEST_ENV } from './lambda-context.ts';

type Commons = typeof import('../../../lambdas/handlers/commons/errors.ts');
type Middy = typeof import('../../../lambdas/handlers/commons/middy.ts');
let errors: Commons;
let middy: Middy;

beforeAll(async () => {
  for (const [key, value] of Object.entries(TEST_ENV)) vi.stubEnv(key, value);
  errors = await import('../../../lambdas/handlers/commons/errors.ts');
  middy = await import('../../../lambdas/handlers/commons/middy.ts');
});

function body(response: APIGatewayProxyStructuredResultV2): Record<string, unknown> {
  return JSON.parse(response.body ?? '{}') as Record<string, unknown>;
}

describe('errorResponse', () => {
  it('maps a ValidationError to 400 with its issues', () => {
    // Act
    const response = errors.errorResponse(
      new ValidationError('bad EventList', [{ path: 'items.0.verb', message: 'required' }]),
    );

    // Assess
    expect(response.statusCode).toBe(400);
    expect(response.headers).toEqual({ 'content-type': 'application/json' });
    expect(body(response)).toEqual({
      error: 'VALIDATION_FAILED',
      message: 'bad EventList',
      issues: [{ path: 'items.0.verb', message: 'required' }],
    });
  });

  it.each([
    [new PayloadTooLargeError(1024), 413, 'PAYLOAD_TOO_LARGE'],
    [new NotFoundError('no finding abcd'), 404, 'NOT_FOUND'],
    [new ConflictError('already resolved'), 409, 'CONFLICT'],
  ])('maps %s', (error, status, code) => {
    const response = errors.errorResponse(error);
    expect(response.statusCode).toBe(status);
    expect(body(response).error).toBe(code);
    expect(body(response).message).toBe(error.message);
  });

  it.each([
    ['a ConfigError', new ConfigError('FINDINGS_TABLE is not set')],
    ['a broken stored allowlist', new AllowlistError('rule r1: bad host')],
    ['an unknown error', new Error('connect ECONNREFUSED 10.1.2.3:443 secret-thing')],
    ['a thrown string', 'oops'],
  ])('answers 500 without internals for %s', (_name, error) => {
    // Act
    const response = errors.errorResponse(error, 'req-42');

    // Assess
    expect(response.statusCode).toBe(500);
    expect(body(response)).toEqual({
      error: 'INTERNAL',
      message: 'internal error',
      requestId: 'req-42',
    });
  });
});

describe('httpErrors middleware', () => {
  it('turns a named error thrown by a wrapped handler into its response', async () => {
    // Prepare
    const handler = middy.withPowertools(
      async (_event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
        throw new PayloadTooLargeError(6_000_000);
      },
      { use: [errors.httpErrors()] },
    );

    // Act
    const response = await handler({} as APIGatewayProxyEventV2, lambdaContext('audit-webhook'));

    // Assess
    expect(response.statusCode).toBe(413);
    expect(body(response).limitBytes).toBe(6_000_000);
  });

  it('leaves successful responses alone', async () => {
    const handler = middy.withPowertools(
      async (): Promise<APIGatewayProxyStructuredResultV2> => ({ statusCode: 202 }),
      { use: [errors.httpErrors()] },
    );
    expect(await handler({}, lambdaContext('audit-webhook'))).toEqual({ statusCode: 202 });
  });
});
