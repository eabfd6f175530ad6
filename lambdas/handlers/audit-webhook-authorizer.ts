/**
 * `audit-webhook-authorizer`: the HTTP API's Lambda authorizer for the audit webhook route.
 * The edge (token forms, constant-time comparison) is `edges/audit-webhook-authorizer.ts`.
 * Events are never logged: they carry the bearer token (`logEvent: false` overrides
 * `POWERTOOLS_LOGGER_LOG_EVENT`).
 */
import type { APIGatewayRequestAuthorizerEventV2, Context } from 'aws-lambda';
import { loadConfig } from './commons/config.ts';
import { withPowertools } from './commons/middy.ts';
import { powertoolsTelemetry } from './commons/powertools.ts';
import { FUNCTION_CONFIG } from './compose/config.ts';
import { cachedSecret } from './compose/secrets.ts';
import { authorizerEdge, tokenDigestFromSecret } from './edges/audit-webhook-authorizer.ts';

export {
  bearerToken,
  MIN_TOKEN_LENGTH,
  tokenDigestFromSecret,
} from './edges/audit-webhook-authorizer.ts';

// Read once per cold start: bad configuration fails here, naming every bad variable.
const config = loadConfig(FUNCTION_CONFIG['audit-webhook-authorizer']);
const edge = authorizerEdge({
  expected: cachedSecret(config.WEBHOOK_TOKEN_SECRET_ARN, tokenDigestFromSecret),
  telemetry: powertoolsTelemetry,
});

export const handler = withPowertools(
  (event: APIGatewayRequestAuthorizerEventV2, _context: Context) => edge(event),
  { logEvent: false },
);
