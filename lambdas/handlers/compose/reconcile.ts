/**
 * Composition root of the `reconcile` function: one DynamoDB client and the stores over it,
 * and the reconcile queue (fan-out by cluster). Expiry warnings are findings-table items.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AllowlistStore } from '../../adapters/dynamodb/allowlist.ts';
import { FindingsStore } from '../../adapters/dynamodb/findings.ts';
import { ImagesStore } from '../../adapters/dynamodb/images.ts';
import { documentClient } from '../../adapters/dynamodb/index.ts';
import { InventoryStore } from '../../adapters/dynamodb/inventory.ts';
import { FindingsStreamWarnings, WarningMarks } from '../../adapters/dynamodb/warning-marks.ts';
import { SqsReconcileQueue } from '../../adapters/sqs-reconcile.ts';
import type { ReconcileQueuePort } from '../../services/reconcile-fanout.ts';
import type { ScheduleDeps } from '../../services/reconcile-schedule.ts';
import type { StreamDeps } from '../../services/reconcile-stream.ts';
import type { ExpiryWarningNotifier, WarningRunDeps } from '../../services/reconcile-warning.ts';
import { silentTelemetry, type Telemetry } from '../commons/telemetry.ts';
import type { ReconcileConfig } from './config.ts';

/** Everything the reconcile edge drives: one set of stores behind every trigger. */
export interface ReconcileWiring {
  config: ReconcileConfig;
  /** The schedule, the stream and the queue consumer share these (`fanOut` is set by the edge). */
  deps: ScheduleDeps & StreamDeps;
  warnings: WarningRunDeps;
  telemetry: Telemetry;
}

export interface ReconcileBuildOptions {
  doc?: DynamoDBDocumentClient;
  queue?: ReconcileQueuePort;
  notifier?: ExpiryWarningNotifier;
  clock?: () => Date;
  telemetry?: Telemetry;
}

export function buildReconcileDeps(
  config: ReconcileConfig,
  options: ReconcileBuildOptions = {},
): ReconcileWiring {
  const telemetry = options.telemetry ?? silentTelemetry;
  const doc =
    options.doc ??
    documentClient(
      new DynamoDBClient(
        config.REGWATCH_DYNAMODB_ENDPOINT ? { endpoint: config.REGWATCH_DYNAMODB_ENDPOINT } : {},
      ),
    );
  const onInvalid = (report: object) =>
    telemetry.warn('invalid item skipped on read', { ...report });
  const clock = options.clock ?? (() => new Date());
  const inventory = new InventoryStore(doc, config.INVENTORY_TABLE, { onInvalid });
  const deps: ScheduleDeps & StreamDeps = {
    inventory,
    findings: new FindingsStore(doc, config.FINDINGS_TABLE, { onInvalid }),
    allowlist: new AllowlistStore(doc, config.ALLOWLIST_TABLE),
    images: new ImagesStore(doc, config.IMAGES_TABLE, { onInvalid }),
    queue: options.queue ?? new SqsReconcileQueue(new SQSClient({}), config.RECONCILE_QUEUE_URL),
    vulnerableThreshold: config.VULNERABLE_SEVERITY_THRESHOLD,
    // The findings stream alerts on AWS: the reconciler only writes findings.
    minAlertSeverity: 'low',
    clock,
    ttlDays: config.FINDINGS_TTL_DAYS === 0 ? undefined : config.FINDINGS_TTL_DAYS,
  };
  return {
    config,
    deps,
    warnings: {
      inventory,
      marks: new WarningMarks(doc, config.FINDINGS_TABLE),
      // The warning goes the way findings alert: a findings-table item the alerts function
      // reads from the stream and publishes (SNS from MIN_ALERT_SEVERITY up, EventBridge).
      notifier: options.notifier ?? new FindingsStreamWarnings(doc, config.FINDINGS_TABLE),
      clock,
    },
    telemetry,
  };
}
