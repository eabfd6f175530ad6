/**
 * `reconcile` (issue 11): invoked by two EventBridge schedules — every minute (allowlist
 * changes and expiries since the last run) and the sweep (`{"sweep": true}`, hourly by
 * default) — it keeps findings equal to what the inventory says runs, judged by the allowlist
 * in force now (`services/reconcile-schedule.ts`). Publishes `ReconcileChanged` (what a run
 * changed: zero for a healthy system's sweep) and `ReconcileResolved`.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AllowlistStore } from '../adapters/dynamodb/allowlist.ts';
import { FindingsStore } from '../adapters/dynamodb/findings.ts';
import { ImagesStore } from '../adapters/dynamodb/images.ts';
import { documentClient } from '../adapters/dynamodb/index.ts';
import { InventoryStore } from '../adapters/dynamodb/inventory.ts';
import { type ScheduleDeps, scheduledReconcile } from '../services/reconcile-schedule.ts';
import { loadConfig } from './commons/config.ts';
import { withPowertools } from './commons/middy.ts';
import { powertoolsTelemetry } from './commons/powertools.ts';
import type { Telemetry } from './commons/telemetry.ts';
import { FUNCTION_CONFIG, type ReconcileConfig } from './compose/config.ts';

export function buildReconcileDeps(config: ReconcileConfig, telemetry: Telemetry): ScheduleDeps {
  const doc = documentClient(
    new DynamoDBClient(
      config.REGWATCH_DYNAMODB_ENDPOINT ? { endpoint: config.REGWATCH_DYNAMODB_ENDPOINT } : {},
    ),
  );
  const onInvalid = (report: object) =>
    telemetry.warn('invalid item skipped on read', { ...report });
  return {
    inventory: new InventoryStore(doc, config.INVENTORY_TABLE, { onInvalid }),
    findings: new FindingsStore(doc, config.FINDINGS_TABLE, { onInvalid }),
    allowlist: new AllowlistStore(doc, config.ALLOWLIST_TABLE),
    images: new ImagesStore(doc, config.IMAGES_TABLE, { onInvalid }),
    vulnerableThreshold: config.VULNERABLE_SEVERITY_THRESHOLD,
    // The findings stream alerts on AWS.
    minAlertSeverity: 'low',
    clock: () => new Date(),
    ttlDays: config.FINDINGS_TTL_DAYS === 0 ? undefined : config.FINDINGS_TTL_DAYS,
  };
}

export function createReconcileHandler(deps: ScheduleDeps, maxPages: number, telemetry: Telemetry) {
  return withPowertools(async (event: { sweep?: unknown } | null) => {
    const sweep = event?.sweep === true;
    const outcome = await scheduledReconcile(deps, { sweep, maxPages });
    const resolved = Object.values(outcome.report.resolved).reduce((a, b) => a + b, 0);
    telemetry.count('ReconcileChanged', outcome.report.changed, {
      name: 'trigger',
      value: sweep ? 'sweep' : 'minute',
    });
    telemetry.count('ReconcileResolved', resolved);
    telemetry.info('reconciled', {
      causes: outcome.causes,
      scope: outcome.scope,
      judged: outcome.report.judged,
      changed: outcome.report.changed,
      opened: outcome.report.opened,
      resolved: outcome.report.resolved,
      incomplete: outcome.report.next !== undefined,
    });
    return { causes: outcome.causes, scope: outcome.scope, changed: outcome.report.changed };
  });
}

// Read once per cold start: bad configuration fails here, naming every bad variable.
const config = loadConfig(FUNCTION_CONFIG.reconcile);
export const handler = createReconcileHandler(
  buildReconcileDeps(config, powertoolsTelemetry),
  config.RECONCILE_MAX_PAGES,
  powertoolsTelemetry,
);
