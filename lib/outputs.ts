/**
 * The stack's output keys: the contract between the stack and the CLI's `--stack NAME`, which
 * reads table names from them. No CDK imports here, so the CLI can load it cheaply.
 */
export const OUTPUT_KEYS = {
  findingsTable: 'FindingsTableName',
  allowlistTable: 'AllowlistTableName',
  imagesTable: 'ImagesTableName',
  inventoryTable: 'InventoryTableName',
  eventBusName: 'EventBusName',
  eventBusArn: 'EventBusArn',
  alertsTopicArn: 'AlertsTopicArn',
  auditWebhookUrl: 'AuditWebhookUrl',
  auditWebhookTokenSecretArn: 'AuditWebhookTokenSecretArn',
  scanCheckQueueUrl: 'ScanCheckQueueUrl',
} as const;
