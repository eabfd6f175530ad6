/**
 * Cluster names. They are joined into index keys (`cluster#namespace`), so a name that could
 * hold the separator would let one cluster's findings read as another's. Every edge that
 * takes a cluster name (CLI flags, the webhook path, pod events, local mode, configuration)
 * checks it with this one rule: the EKS cluster-name rule (`/aws/eks/<cluster>/cluster`),
 * 1-100 letters, digits, `-` or `_`, starting with a letter or digit. A DNS-1123 label fits it.
 * No zod here (`cluster-schema.ts` has the schema): `check --cluster` must not load it.
 */
import { ValidationError } from './errors.ts';

export const CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;

export const CLUSTER_NAME_RULE =
  "1-100 letters, digits, '-' or '_', starting with a letter or digit";

export function isClusterName(name: unknown): name is string {
  return typeof name === 'string' && CLUSTER_NAME.test(name);
}

/** The name, or a `ValidationError` saying where it came from and what the rule is. */
export function checkClusterName(name: unknown, where: string): string {
  if (isClusterName(name)) return name;
  const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, 120)) : String(name);
  throw new ValidationError(`${where}: cluster name ${shown} is invalid: ${CLUSTER_NAME_RULE}`, [
    { path: where, message: 'invalid cluster name' },
  ]);
}
