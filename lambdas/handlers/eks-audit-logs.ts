/**
 * `eks-audit-logs`: a CloudWatch Logs subscription on `/aws/eks/<cluster>/cluster` → findings.
 * The edge (decoding, what is retried and what is not) is `edges/eks-audit-logs.ts`.
 */
import type { Context } from 'aws-lambda';
import { loadConfig } from './commons/config.ts';
import { withPowertools } from './commons/middy.ts';
import { powertoolsTelemetry } from './commons/powertools.ts';
import { FUNCTION_CONFIG } from './compose/config.ts';
import { buildIngestDeps } from './compose/ingest.ts';
import { auditLogsEdge } from './edges/eks-audit-logs.ts';

export type { AuditLogsOutcome } from './edges/eks-audit-logs.ts';

// Read once per cold start: bad configuration fails here, naming every bad variable.
const wiring = buildIngestDeps(loadConfig(FUNCTION_CONFIG['eks-audit-logs']), {
  telemetry: powertoolsTelemetry,
});
const edge = auditLogsEdge(wiring.deps, powertoolsTelemetry);

export const handler = withPowertools((event: unknown, _context: Context) => edge(event));
