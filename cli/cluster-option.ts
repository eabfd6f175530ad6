/** `--cluster NAME` for every command: the one cluster-name rule, as a usage error (exit 2). */
import { CLUSTER_NAME_RULE, isClusterName } from '../lambdas/core/cluster.ts';
import { UsageError } from '../lambdas/core/errors.ts';

export function parseClusterOption(value: string): string {
  const shown = JSON.stringify(value.slice(0, 120));
  if (!isClusterName(value)) {
    throw new UsageError(`--cluster: ${shown} is not a valid cluster name (${CLUSTER_NAME_RULE})`);
  }
  return value;
}
