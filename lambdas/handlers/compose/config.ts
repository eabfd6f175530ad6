/**
 * The typed configuration of every Lambda function: one zod schema per function, naming each
 * environment variable the function reads. The stack sets each function's environment through
 * `FunctionEnvironment<name>` (so a variable the handler does not read, or a missing one, is a
 * type error in `lib/`), and each handler parses its environment with the same schema at cold
 * start. `test/lib/function-config.test.ts` parses every function's environment in the
 * synthesized template with its schema.
 *
 * No AWS SDK here: `lib/` imports this module.
 */
import * as z from 'zod';
import { signatureConfigSchema } from '../../adapters/signatures/config.ts';
import { SEVERITIES } from '../../core/types.ts';

/** Every Lambda entry point, `lambdas/handlers/<name>.ts` exporting `handler`. */
export const HANDLER_NAMES = [
  'eks-audit-logs',
  'audit-webhook',
  'audit-webhook-authorizer',
  'pod-events',
  'ecr-push',
  'scan-status',
  'alerts',
  'slack-notifier',
  'reconcile',
] as const;
export type HandlerName = (typeof HANDLER_NAMES)[number];

const whole = (what: string) =>
  z.coerce
    .number({ error: `${what} must be a whole number` })
    .int(`${what} must be a whole number`)
    .min(0, `${what} must not be negative`);

/** HTTP API accepts 10 MB, but Lambda's synchronous payload limit (6 MB) is lower still. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Functions that judge observations: the allowlist, findings and (for scan counts) images. */
export const ingestConfigSchema = z.object({
  FINDINGS_TABLE: z.string(),
  ALLOWLIST_TABLE: z.string(),
  /** Read for scan counts: a running digest that is known vulnerable gets `vulnerable-image`. */
  IMAGES_TABLE: z.string(),
  /**
   * The inventory (issue 11): with it, every observation keeps the inventory current and
   * auto-resolves what it ended. Optional until the stack gives it to the ingest functions.
   */
  INVENTORY_TABLE: z.string().optional(),
  /** Lowest severity a scan's counts must reach to make a `vulnerable-image` finding. */
  VULNERABLE_SEVERITY_THRESHOLD: z.enum(SEVERITIES).default('critical'),
  /** Days a finding lives after its last sighting; 0 keeps findings forever. */
  FINDINGS_TTL_DAYS: whole('FINDINGS_TTL_DAYS'),
  ALLOWLIST_CACHE_TTL_SECONDS: whole('ALLOWLIST_CACHE_TTL_SECONDS').default(60),
  /**
   * Only used where an alert port is wired (local mode). On AWS the `alerts` function applies
   * its own `MIN_ALERT_SEVERITY`, so the stack does not set this for ingest functions.
   */
  MIN_ALERT_SEVERITY: z.enum(SEVERITIES).default('low'),
  /**
   * Explicit DynamoDB endpoint (dynalite, DynamoDB Local). The SDK also honours
   * `AWS_ENDPOINT_URL_DYNAMODB` by itself; this one wins when both are set.
   */
  REGWATCH_DYNAMODB_ENDPOINT: z.url().optional(),
  // Registry access for `requireSignature` (docs/signatures.md).
  ...signatureConfigSchema.shape,
});
export type IngestConfig = z.infer<typeof ingestConfigSchema>;

export const auditWebhookConfigSchema = ingestConfigSchema.extend({
  AUDIT_WEBHOOK_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .max(10 * 1024 * 1024, 'must not exceed the HTTP API limit of 10 MiB')
    .default(DEFAULT_MAX_BODY_BYTES),
});
export type AuditWebhookConfig = z.infer<typeof auditWebhookConfigSchema>;

/** The variables `scan-status` gets from the stack. */
export const scanStatusConfigSchema = z.object({
  IMAGES_TABLE: z.string(),
  FINDINGS_TABLE: z.string(),
  SCAN_CHECK_QUEUE_URL: z.url(),
  SCAN_TIMEOUT_MINUTES: whole('SCAN_TIMEOUT_MINUTES').min(1, 'SCAN_TIMEOUT_MINUTES must be ≥ 1'),
  VULNERABLE_SEVERITY_THRESHOLD: z.enum(SEVERITIES).default('critical'),
  /** 0 keeps findings forever. */
  FINDINGS_TTL_DAYS: whole('FINDINGS_TTL_DAYS').default(0),
  /**
   * Signature checks of pushes (docs/signatures.md) run on the scan-check queue: with the
   * allowlist table set, `scan-status` can run them too. With the inventory table as well
   * (issue 11), a stored scan state re-judges every inventory entry running that digest at
   * once (`vulnerable-image` / `scan-missing`, or their auto-resolution).
   */
  INVENTORY_TABLE: z.string().optional(),
  ALLOWLIST_TABLE: z.string().optional(),
  ALLOWLIST_CACHE_TTL_SECONDS: whole('ALLOWLIST_CACHE_TTL_SECONDS').default(60),
  SIGNATURE_GRACE_SECONDS: whole('SIGNATURE_GRACE_SECONDS').max(900).default(300),
  ...signatureConfigSchema.shape,
});
export type ScanStatusConfig = z.infer<typeof scanStatusConfigSchema>;

/** `ecr-push` judges the pushed reference, so it also reads the allowlist. */
export const ecrPushConfigSchema = scanStatusConfigSchema.extend({
  ALLOWLIST_TABLE: z.string(),
});
export type EcrPushConfig = z.infer<typeof ecrPushConfigSchema>;

export const alertsConfigSchema = z.object({
  FINDINGS_TABLE: z.string(),
  ALERTS_TOPIC_ARN: z.string().startsWith('arn:', 'must be an SNS topic ARN'),
  EVENT_BUS_NAME: z.string(),
  MIN_ALERT_SEVERITY: z.enum(SEVERITIES),
});
export type AlertsConfig = z.infer<typeof alertsConfigSchema>;

export const slackNotifierConfigSchema = z.object({ SLACK_WEBHOOK_SECRET_ARN: z.string() });
export type SlackNotifierConfig = z.infer<typeof slackNotifierConfigSchema>;

export const authorizerConfigSchema = z.object({ WEBHOOK_TOKEN_SECRET_ARN: z.string() });
export type AuthorizerConfig = z.infer<typeof authorizerConfigSchema>;

/**
 * `reconcile` (issue 11): re-judges the inventory — on the allowlist table's stream, on two
 * schedules (every minute: expiries, warnings, a safety net for allowlist changes; the sweep)
 * and on its own queue (a full pass fanned out by cluster).
 */
export const reconcileConfigSchema = z.object({
  FINDINGS_TABLE: z.string(),
  ALLOWLIST_TABLE: z.string(),
  IMAGES_TABLE: z.string(),
  INVENTORY_TABLE: z.string(),
  VULNERABLE_SEVERITY_THRESHOLD: z.enum(SEVERITIES).default('critical'),
  FINDINGS_TTL_DAYS: whole('FINDINGS_TTL_DAYS').default(0),
  /** Pages (500 entries) a search for an expiry warning's dependents reads at most. */
  RECONCILE_MAX_PAGES: whole('RECONCILE_MAX_PAGES').min(1).default(400),
  /** The reconcile queue: one message per cluster of a full pass, and continuations. */
  RECONCILE_QUEUE_URL: z.url(),
  /** Days before a rule's `expiresAt` its warning goes out (`regwatch:exceptionWarningDays`); 0 = none. */
  EXCEPTION_WARNING_DAYS: whole('EXCEPTION_WARNING_DAYS').max(3650).default(7),
  REGWATCH_DYNAMODB_ENDPOINT: z.url().optional(),
});
export type ReconcileConfig = z.infer<typeof reconcileConfigSchema>;

/** Each function's schema, by handler name. */
export const FUNCTION_CONFIG = {
  'eks-audit-logs': ingestConfigSchema,
  'audit-webhook': auditWebhookConfigSchema,
  'audit-webhook-authorizer': authorizerConfigSchema,
  'pod-events': ingestConfigSchema,
  'ecr-push': ecrPushConfigSchema,
  'scan-status': scanStatusConfigSchema,
  alerts: alertsConfigSchema,
  'slack-notifier': slackNotifierConfigSchema,
  reconcile: reconcileConfigSchema,
} as const satisfies Record<HandlerName, z.ZodObject>;

/**
 * The environment the stack gives function `N`: every variable its schema names, as strings
 * (CDK tokens included), optional where the schema has a default or is optional.
 */
export type FunctionEnvironment<N extends HandlerName> = {
  [K in keyof z.input<(typeof FUNCTION_CONFIG)[N]>]: string;
};

/**
 * Variables every function gets from `RegwatchFunction` itself (Powertools, source maps), not
 * from its schema.
 */
export const COMMON_ENVIRONMENT = [
  'POWERTOOLS_SERVICE_NAME',
  'POWERTOOLS_METRICS_NAMESPACE',
  'NODE_OPTIONS',
] as const;
