/**
 * `ecr-push`: successful ECR pushes (EventBridge → `EcrPushQueue` → here). Judges the pushed
 * reference against the allowlist, records the push in the Images table and starts the scan
 * checks. docs/registry-path.md describes the path; docs/stack-contract.md the trigger.
 */
import type { SQSRecord } from 'aws-lambda';
import type { RegistryDeps } from '../services/registry.ts';
import { sqsBatchHandler } from './commons/batch.ts';
import { loadConfig } from './commons/config.ts';
import { withPowertools } from './commons/middy.ts';
import {
  buildRegistryDeps,
  cachedAllowlist,
  ecrPushConfigSchema,
  processRegistryMessage,
} from './registry-wiring.ts';

/** The per-record work, for tests and local mode to drive with their own dependencies. */
export function ecrPushRecord(deps: RegistryDeps) {
  return (record: Pick<SQSRecord, 'body' | 'messageId'>) =>
    processRegistryMessage(record.body, record.messageId, deps, {
      kinds: ['ecr-push'],
      scanChecks: false,
    });
}

export function createEcrPushHandler(deps: RegistryDeps) {
  return withPowertools(sqsBatchHandler(ecrPushRecord(deps)));
}

// Read once per cold start: bad configuration fails here, naming every bad variable.
const config = loadConfig(ecrPushConfigSchema);
const deps = buildRegistryDeps(config, { allowlist: cachedAllowlist(config) });
export const handler = createEcrPushHandler(deps);
