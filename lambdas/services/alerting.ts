/** Which upsert results alert: shared by ingest and the reconciler. */
import { SEVERITIES, type Severity, type UpsertResult } from '../core/types.ts';

export function atLeast(severity: Severity, minimum: Severity): boolean {
  return SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(minimum);
}

/** Whether an upsert result should alert: only new and reopened findings, above the minimum. */
export function shouldAlert(result: UpsertResult, minimum: Severity): boolean {
  return (
    result.counted &&
    (result.outcome === 'new' || result.outcome === 'reopened') &&
    atLeast(result.finding.severity, minimum)
  );
}
