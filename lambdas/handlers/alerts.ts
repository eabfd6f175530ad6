/**
 * `alerts`: the findings table's DynamoDB stream → SNS topic + EventBridge bus, once per
 * transition. The edge (what alerts, alert marks) is `edges/alerts.ts`; see docs/alerts.md.
 */
import { dynamoStreamBatchHandler } from './commons/batch.ts';
import { loadConfig } from './commons/config.ts';
import { withPowertools } from './commons/middy.ts';
import { powertoolsTelemetry } from './commons/powertools.ts';
import { buildAlertsDeps } from './compose/alerts.ts';
import { FUNCTION_CONFIG } from './compose/config.ts';
import { alertsEdge } from './edges/alerts.ts';

export { ALERT_MARK_PREFIX, ALERT_MARK_TTL_DAYS, atLeast, classify } from './edges/alerts.ts';

// Read once per cold start: bad configuration fails here, naming every bad variable.
const deps = buildAlertsDeps(loadConfig(FUNCTION_CONFIG.alerts), {
  telemetry: powertoolsTelemetry,
});

export const handler = withPowertools(dynamoStreamBatchHandler(alertsEdge(deps)));
