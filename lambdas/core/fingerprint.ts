/**
 * Finding identity. The same violation of the same container of the same workload is one
 * finding however many pods, events or re-deliveries report it.
 */
import { hash } from 'node:crypto';
import type { ViolationRule, WorkloadRef } from './types.ts';

export interface FingerprintInput {
  cluster: string;
  namespace: string;
  /** The owning workload (a Deployment, not its pods). */
  workload: WorkloadRef;
  container: string;
  /** The normalised reference string, or the raw image when it does not parse. */
  image: string;
  rule: ViolationRule | string;
}

/**
 * sha256 (hex) over length-prefixed fields, so no choice of field values can make two
 * different inputs encode alike (`a/b` + `c` vs `a` + `b/c`). The `v1` tag lets a future
 * scheme coexist with stored findings.
 */
export function fingerprint(input: FingerprintInput): string {
  const fields = [
    'regwatch-finding-v1',
    input.cluster,
    input.namespace,
    input.workload.kind,
    input.workload.name,
    input.container,
    input.image,
    input.rule,
  ];
  // One string hashed at once: the same bytes as one update per field, cheaper.
  let text = '';
  for (const f of fields) text += `${Buffer.byteLength(f, 'utf8')}:${f};`;
  return hash('sha256', text, 'hex');
}

/** The short id people type (`regwatch findings show ID`): the first 16 hex characters. */
export function findingId(fp: string): string {
  return fp.slice(0, 16);
}
