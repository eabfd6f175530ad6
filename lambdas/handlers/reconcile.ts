/**
 * `reconcile` (issue 11): keeps findings equal to what the inventory says runs, judged by the
 * allowlist in force now. Triggered by the allowlist table's stream, the reconcile queue (a
 * full pass fanned out by cluster) and two schedules (every minute; the sweep). The edge is
 * `edges/reconcile.ts`, the wiring `compose/reconcile.ts`; see docs/reconciliation.md.
 */
import { loadConfig } from './commons/config.ts';
import { withPowertools } from './commons/middy.ts';
import { powertoolsTelemetry } from './commons/powertools.ts';
import { FUNCTION_CONFIG } from './compose/config.ts';
import { buildReconcileDeps } from './compose/reconcile.ts';
import { reconcileEdge } from './edges/reconcile.ts';

// Read once per cold start: bad configuration fails here, naming every bad variable.
const wiring = buildReconcileDeps(loadConfig(FUNCTION_CONFIG.reconcile), {
  telemetry: powertoolsTelemetry,
});

export const handler = withPowertools(reconcileEdge(wiring));
