/**
 * `audit-webhook`: kube-apiserver's audit webhook backend → findings, behind the bearer-token
 * authorizer. The edge (body formats, answers) is `edges/audit-webhook.ts`; named errors become
 * HTTP answers in `commons/errors.ts`.
 */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { loadConfig } from './commons/config.ts';
import { httpErrors } from './commons/errors.ts';
import { withPowertools } from './commons/middy.ts';
import { powertoolsTelemetry } from './commons/powertools.ts';
import { FUNCTION_CONFIG } from './compose/config.ts';
import { buildIngestDeps } from './compose/ingest.ts';
import { auditWebhookEdge } from './edges/audit-webhook.ts';

export { DEFAULT_MAX_BODY_BYTES } from './compose/config.ts';
export { bodyText, CLUSTER_NAME, parseAuditBody } from './edges/audit-webhook.ts';

// Read once per cold start: bad configuration fails here, naming every bad variable.
const config = loadConfig(FUNCTION_CONFIG['audit-webhook']);
const edge = auditWebhookEdge(
  buildIngestDeps(config, { telemetry: powertoolsTelemetry }).deps,
  { maxBodyBytes: config.AUDIT_WEBHOOK_MAX_BODY_BYTES },
  powertoolsTelemetry,
);

export const handler = withPowertools(
  (event: APIGatewayProxyEventV2, _context: Context) => edge.handle(event),
  { use: [httpErrors<APIGatewayProxyEventV2>()] },
);
