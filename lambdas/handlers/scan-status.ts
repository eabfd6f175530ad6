/**
 * `scan-status`: Inspector2 scan and finding events, ECR basic-scan events, and the delayed
 * scan checks `ecr-push` (and this function) send, all on `ScanCheckQueue`. Records scan
 * results, raises `vulnerable-image` and `scan-missing` findings. The edge is
 * `edges/registry.ts`; docs/stack-contract.md describes the trigger.
 */
import type { RegistryDeps } from '../services/registry.ts';
import { sqsBatchHandler } from './commons/batch.ts';
import { loadConfig } from './commons/config.ts';
import { withPowertools } from './commons/middy.ts';
import { powertoolsTelemetry } from './commons/powertools.ts';
import { FUNCTION_CONFIG } from './compose/config.ts';
import { buildRegistryDeps } from './compose/registry.ts';
import { scanStatusEdge } from './edges/registry.ts';

export function createScanStatusHandler(deps: RegistryDeps) {
  return withPowertools(sqsBatchHandler(scanStatusEdge(deps, powertoolsTelemetry)));
}

// Read once per cold start: bad configuration fails here, naming every bad variable.
// No allowlist: scan results are judged by severity, pushes by `ecr-push`.
export const handler = createScanStatusHandler(
  buildRegistryDeps(loadConfig(FUNCTION_CONFIG['scan-status']), {
    telemetry: powertoolsTelemetry,
  }),
);
