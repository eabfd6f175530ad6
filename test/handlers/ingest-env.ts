/**
 * Shared set-up for the ingest handler tests (eks-audit-logs, audit-webhook, pod-events): one
 * dynalite with fresh tables, a small allowlist stored through `AllowlistStore`, and the
 * environment the stack gives the functions, set BEFORE the handler module is imported (the
 * handlers read their configuration once, at module load).
 */
import { vi } from 'vitest';
import { AllowlistStore, FindingsStore } from '../../lambdas/adapters/dynamodb/index.ts';
import type { AllowlistRule } from '../../lambdas/core/allowlist/index.ts';
import type { Finding } from '../../lambdas/core/types.ts';
import type { LocalDynamo } from '../helpers/dynalite.ts';
import { startHandlerEnv } from './commons/handler-env.ts';

/** Our ECR (any region) and registry.k8s.io are trusted; everything else is a finding. */
export const TEST_RULES: AllowlistRule[] = [
  { id: 'company-ecr', registry: '444455556666.dkr.ecr.*.amazonaws.com', repository: '**' },
  { id: 'kubernetes-registry', registry: 'registry.k8s.io', repository: '**' },
];

export interface IngestEnv {
  dynamo: LocalDynamo;
  findings: FindingsStore;
  allowlist: AllowlistStore;
  /** Every finding in the table (any status). */
  allFindings(): Promise<Finding[]>;
  stop(): Promise<void>;
}

/**
 * Starts dynalite, creates the tables, stores `rules`, and stubs the `EVAL` environment. The
 * DynamoDB endpoint is given as `AWS_ENDPOINT_URL_DYNAMODB` (read by the SDK itself) unless
 * `endpointVariable` says otherwise.
 */
export async function startIngestEnv(
  options: {
    rules?: AllowlistRule[];
    env?: Record<string, string>;
    endpointVariable?: 'AWS_ENDPOINT_URL_DYNAMODB' | 'REGWATCH_DYNAMODB_ENDPOINT';
  } = {},
): Promise<IngestEnv> {
  const { dynamo, names } = await startHandlerEnv(
    { FINDINGS_TTL_DAYS: '30', ALLOWLIST_CACHE_TTL_SECONDS: '60', ...options.env },
    options.endpointVariable,
  );
  const allowlist = new AllowlistStore(dynamo.doc, names.allowlist);
  for (const rule of options.rules ?? TEST_RULES) await allowlist.put(rule);
  const findings = new FindingsStore(dynamo.doc, names.findings);
  return {
    dynamo,
    findings,
    allowlist,
    async allFindings() {
      const out: Finding[] = [];
      for await (const finding of findings.query()) out.push(finding);
      return out;
    },
    async stop() {
      vi.unstubAllEnvs();
      await dynamo.stop();
    },
  };
}
