/**
 * `audit-webhook-authorizer`: API Gateway HTTP API Lambda authorizer (payload format 2.0,
 * simple responses) for the audit webhook route. kube-apiserver's audit webhook backend sends
 * `Authorization: Bearer <token>` from its kubeconfig; the token is compared with the Secrets
 * Manager secret `WEBHOOK_TOKEN_SECRET_ARN` in constant time.
 *
 * The token is never logged: events are not logged (`logEvent: false` overrides
 * `POWERTOOLS_LOGGER_LOG_EVENT`), and only the decision and the caller's address are.
 * API Gateway caches each decision for five minutes per `Authorization` value.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerResult,
} from 'aws-lambda';
import * as z from 'zod';
import { CachedSecret } from '../adapters/secrets.ts';
import { ConfigError } from '../core/errors.ts';
import { loadConfig } from './commons/config.ts';
import { withPowertools } from './commons/middy.ts';
import { logger, metrics } from './commons/powertools.ts';

const config = loadConfig(z.object({ WEBHOOK_TOKEN_SECRET_ARN: z.string() }));
const secrets = new SecretsManagerClient({});

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

const expected = new CachedSecret(secrets, config.WEBHOOK_TOKEN_SECRET_ARN, {
  parse: tokenDigestFromSecret,
});

/** The token of an `Authorization: Bearer <token>` header, or null when malformed. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^Bearer +([^\s]+) *$/i.exec(header);
  return match?.[1] ?? null;
}

async function authorize(
  event: APIGatewayRequestAuthorizerEventV2,
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
  if (authorized) logger.info('audit webhook caller authorized', decision);
  else logger.warn('audit webhook caller refused', decision);
  metrics.addMetric(authorized ? 'WebhookAuthorized' : 'WebhookRefused', 'Count', 1);
  return { isAuthorized: authorized };
}

export const handler = withPowertools(authorize, { logEvent: false });
