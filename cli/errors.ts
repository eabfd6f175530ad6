/**
 * Errors from the machine, not from regwatch: an endpoint that does not answer, a kubeconfig
 * that is not there. They become named errors (exit 2, one line saying what to do) so that
 * "unexpected error" (exit 3) is left for our own bugs.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, ConnectionError } from '../lambdas/core/errors.ts';

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
};

interface SystemErrorLike {
  code?: unknown;
  address?: unknown;
  port?: unknown;
  hostname?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** The first network error in `err`, its `cause` chain, or an AggregateError's list. */
function findNetworkError(err: unknown, depth = 0): SystemErrorLike | null {
  if (depth > 5 || err === null || typeof err !== 'object') return null;
  const e = err as SystemErrorLike;
  if (typeof e.code === 'string' && e.code in NETWORK_CODES) return e;
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const found = findNetworkError(inner, depth + 1);
      if (found) return found;
    }
  }
  return findNetworkError(e.cause, depth + 1);
}

/** A named error for a machine-side failure, or null when `err` is something else. */
export function environmentError(err: unknown): ConnectionError | null {
  const net = findNetworkError(err);
  if (!net) return null;
  const host =
    typeof net.address === 'string'
      ? `${net.address}${net.port !== undefined ? `:${String(net.port)}` : ''}`
      : typeof net.hostname === 'string'
        ? net.hostname
        : 'the endpoint';
  const why = NETWORK_CODES[net.code as string] ?? String(net.code);
  return new ConnectionError(
    `cannot reach ${host} (${why}): check the endpoint (--dynamodb-endpoint, --sink, --stack) and that it is running (regwatch local for local mode)`,
    { cause: err },
  );
}

/**
 * The kubeconfig the forwarder will use exists, or it runs in a cluster. Checked before start so
 * a typo is one line, not a stack trace from the Kubernetes client.
 */
export function assertKubeconfig(file: string | undefined, env: NodeJS.ProcessEnv): void {
  if (file) {
    if (!existsSync(file)) {
      throw new ConfigError(
        `kubeconfig ${file}: no such file; pass --kubeconfig with an existing file or fix KUBECONFIG`,
      );
    }
    return;
  }
  if (env.KUBERNETES_SERVICE_HOST) return; // in-cluster: the service account is the config
  const home = env.HOME ?? env.USERPROFILE;
  if (home && existsSync(path.join(home, '.kube', 'config'))) return;
  throw new ConfigError(
    'no kubeconfig found (no --kubeconfig, no KUBECONFIG, no ~/.kube/config, not in a cluster); pass --kubeconfig FILE',
  );
}
