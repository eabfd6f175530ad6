/**
 * `ecr-push`: successful ECR pushes (EventBridge → `EcrPushQueue` → here). Judges the pushed
 * reference against the allowlist, records the push in the Images table and starts the scan
 * checks. The edge is `edges/registry.ts`; docs/stack-contract.md describes the trigger.
 */
import type { RegistryDeps } from '../services/registry.ts';
import { sqsBatchHandler } from './commons/batch.ts';
import { loadConfig } from './commons/config.ts';
import { withPowertools } from './commons/middy.ts';
import { powertoolsTelemetry } from './commons/powertools.ts';
import { FUNCTION_CONFIG } from './compose/config.ts';
import { buildRegistryDeps, cachedAllowlist } from './compose/registry.ts';
import { ecrPushEdge } from './edges/registry.ts';

export function createEcrPushHandler(deps: RegistryDeps) {
  return withPowertools(sqsBatchHandler(ecrPushEdge(deps, powertoolsTelemetry)));
}

// Read once per cold start: bad configuration fails here, naming every bad variable.
const config = loadConfig(FUNCTION_CONFIG['ecr-push']);
export const handler = createEcrPushHandler(
  buildRegistryDeps(config, {
    allowlist: cachedAllowlist(config, powertoolsTelemetry),
    telemetry: powertoolsTelemetry,
  }),
);
