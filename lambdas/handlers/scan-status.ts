/**
 * `scan-status`: Inspector2 scan and finding events, ECR basic-scan events, and the delayed
 * scan checks `ecr-push` (and this function) send, all on `ScanCheckQueue`. Records scan
 * results, raises `vulnerable-image` and `scan-missing` findings. docs/registry-path.md
 * describes the path; docs/stack-contract.md the trigger.
 */
import type { SQSRecord } from 'aws-lambda';
import type { RegistryDeps } from '../services/registry.ts';
import { sqsBatchHandler } from './commons/batch.ts';
import { loadConfig } from './commons/config.ts';
import { withPowertools } from './commons/middy.ts';
import {
  buildRegistryDeps,
  processRegistryMessage,
  scanStatusConfigSchema,
} from './registry-wiring.ts';

/** The per-record work, for tests and local mode to drive with their own dependencies. */
export function scanStatusRecord(deps: RegistryDeps) {
  return (record: Pick<SQSRecord, 'body' | 'messageId'>) =>
    processRegistryMessage(record.body, record.messageId, deps, {
      kinds: ['scan', 'inspector-finding'],
      scanChecks: true,
    });
}

export function createScanStatusHandler(deps: RegistryDeps) {
  return withPowertools(sqsBatchHandler(scanStatusRecord(deps)));
}

// Read once per cold start: bad configuration fails here, naming every bad variable.
// No allowlist: scan results are judged by severity, pushes by `ecr-push`. Scan checks ask ECR
// alone, for basic and enhanced scanning; Inspector2's events need no client.
const deps = buildRegistryDeps(loadConfig(scanStatusConfigSchema));
export const handler = createScanStatusHandler(deps);
