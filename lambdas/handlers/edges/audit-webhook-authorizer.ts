/**
 * The `audit-webhook-authorizer` edge: API Gateway HTTP API Lambda authorizer (payload format 2.0,
 * simple responses) for the audit webhook route. kube-apiserver's audit webhook backend sends
 * `Authorization: Bearer <token>` from its kubeconfig; the token is compared with the Secrets
 * Manager secret `WEBHOOK_TOKEN_SECRET_ARN` in constant time.
 *
 * The token is never logged: events are not logged (`logEvent: false` overrides
 * `POWERTOOLS_LOGGER_LOG_EVENT`), and only the decision and the caller's address are.
 * API Gateway caches each decision for five minutes per `Authorization` value.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerResult,
} from 'aws-lambda';
import * as z from 'zod';
import type { CachedSecret } from '../../adapters/secrets.ts';
import { ConfigError } from '../../core/errors.ts';
import { silentTelemetry, type Telemetry } from '../commons/telemetry.ts';

/** Shorter stored tokens are refused: guessing must stay out of reach. */
export const MIN_TOKEN_LENGTH = 32;

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * The digest of the token in a secret: the token itself (the stack generates a 64-character
 * one) or JSON `{"token": "…"}`; surrounding whitespace is ignored. An empty or short token
 * is a `ConfigError`, so a badly set secret fails closed instead of admitting a guess.
 */
export function tokenDigestFromSecret(secret: string): Buffer {
  let token = secret.trim();
  if (token.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(token);
    } catch {
      throw new ConfigError('the webhook token secret starts with "{" but is not valid JSON');
    }
    const shape = z.object({ token: z.string() }).safeParse(parsed);
    if (!shape.success) {
      throw new ConfigError('the webhook token secret is JSON without a string "token" field');
    }
    token = shape.data.token.trim();
  }
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new ConfigError(
      `the webhook token secret holds a token of ${token.length} characters; at least ${MIN_TOKEN_LENGTH} are required`,
    );
  }
  return sha256(token);
}

/** The token of an `Authorization: Bearer <token>` header, or null when malformed. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^Bearer +([^\s]+) *$/i.exec(header);
  return match?.[1] ?? null;
}

export interface AuthorizerDeps {
  /** The digest of the stored token (`tokenDigestFromSecret`), cached. */
  expected: Pick<CachedSecret<Buffer>, 'get'>;
  telemetry?: Telemetry;
}

/** The edge: one authorization request in, the simple response out. */
export function authorizerEdge(deps: AuthorizerDeps) {
  return (event: APIGatewayRequestAuthorizerEventV2) => authorize(event, deps);
}

async function authorize(
  event: APIGatewayRequestAuthorizerEventV2,
  { expected, telemetry = silentTelemetry }: AuthorizerDeps,
): Promise<APIGatewaySimpleAuthorizerResult> {
  const header = event.headers?.authorization ?? event.identitySource?.[0];
  const given = bearerToken(header);
  let authorized = false;
  if (given !== null) {
    // Digests have equal length whatever was sent, so timingSafeEqual never throws and the
    // comparison time says nothing about the token.
    authorized = timingSafeEqual(sha256(given), await expected.get());
  }
  const decision = {
    authorized,
    reason:
      header === undefined
        ? 'no header'
        : given === null
          ? 'malformed header'
          : authorized
            ? 'token matches'
            : 'wrong token',
    sourceIp: event.requestContext?.http?.sourceIp,
    routeKey: event.routeKey,
  };
  if (authorized) telemetry.info('audit webhook caller authorized', decision);
  else telemetry.warn('audit webhook caller refused', decision);
  telemetry.count(authorized ? 'WebhookAuthorized' : 'WebhookRefused');
  return { isAuthorized: authorized };
}
