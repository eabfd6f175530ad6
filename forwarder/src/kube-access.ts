/**
 * How the forwarder reaches the API server: the server URL, and per request the headers and
 * TLS dispatcher. In a cluster (the service account) and for plain kubeconfigs (token, token
 * file, client certificate, CA, insecure-skip-tls-verify) this is read here, without loading
 * @kubernetes/client-node: its generated API alone costs ~80 MiB of RSS, half the forwarder's
 * memory budget. Anything else a kubeconfig can ask for (exec plugins such as
 * `aws eks get-token`, auth providers, proxies, several files in KUBECONFIG) is handed to
 * client-node's `KubeConfig`, loaded only then.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { Agent, type Dispatcher } from 'undici';
import { parse } from 'yaml';
import { ConfigError } from '../../lambdas/core/errors.ts';

export interface KubeAccess {
  readonly server: string;
  prepare(url: string): Promise<{ headers: Record<string, string>; dispatcher?: Dispatcher }>;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Bound service-account tokens rotate: the file is read again at most this often. */
const TOKEN_REREAD_MS = 60_000;

interface Plain {
  server: string;
  token?: string | undefined;
  tokenFile?: string | undefined;
  ca?: string | Buffer | undefined;
  cert?: string | Buffer | undefined;
  key?: string | Buffer | undefined;
  insecure?: boolean;
}

function plainAccess(p: Plain): KubeAccess {
  const tls = p.server.startsWith('https:')
    ? new Agent({
        connect: {
          ...(p.ca ? { ca: p.ca } : {}),
          ...(p.cert ? { cert: p.cert } : {}),
          ...(p.key ? { key: p.key } : {}),
          rejectUnauthorized: p.insecure !== true,
        },
      })
    : undefined;
  let token = p.token;
  let readAt = Number.NEGATIVE_INFINITY;
  return {
    server: p.server.replace(/\/+$/, ''),
    async prepare() {
      if (p.tokenFile && Date.now() - readAt > TOKEN_REREAD_MS) {
        token = readFileSync(p.tokenFile, 'utf8').trim();
        readAt = Date.now();
      }
      const headers: Record<string, string> = {};
      if (token) headers.authorization = `Bearer ${token}`;
      return tls ? { headers, dispatcher: tls } : { headers };
    },
  };
}

/** client-node's `KubeConfig` as a `KubeAccess` (exec plugins, auth providers, …). */
export async function kubeConfigAccess(kc: KubeConfig): Promise<KubeAccess> {
  const { HttpMethod, RequestContext } = await import('@kubernetes/client-node');
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new ConfigError('the kubeconfig has no current cluster');
  return {
    server: cluster.server.replace(/\/+$/, ''),
    async prepare(url) {
      const ctx = new RequestContext(url, HttpMethod.GET);
      await kc.applySecurityAuthentication(ctx);
      const dispatcher = ctx.getDispatcher() as Dispatcher | undefined;
      return { headers: ctx.getHeaders(), ...(dispatcher ? { dispatcher } : {}) };
    },
  };
}

type Loose = Record<string, unknown>;
const obj = (v: unknown): Loose => (v !== null && typeof v === 'object' ? (v as Loose) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

const PLAIN_USER_KEYS = new Set([
  'token',
  'tokenFile',
  'client-certificate',
  'client-certificate-data',
  'client-key',
  'client-key-data',
]);
const PLAIN_CLUSTER_KEYS = new Set([
  'server',
  'certificate-authority',
  'certificate-authority-data',
  'insecure-skip-tls-verify',
]);

/** The plain settings of a kubeconfig's current context, or null when client-node must read it. */
export function plainFromKubeconfig(text: string, file: string): Plain | null {
  const doc = obj(parse(text));
  const contextName = str(doc['current-context']);
  const named = (list: unknown, name: string | undefined) =>
    obj((Array.isArray(list) ? list : []).find((e) => name !== undefined && obj(e).name === name));
  const context = obj(named(doc.contexts, contextName).context);
  const cluster = obj(named(doc.clusters, str(context.cluster)).cluster);
  const user = obj(named(doc.users, str(context.user)).user);
  const server = str(cluster.server);
  if (!server) return null;
  if (Object.keys(cluster).some((k) => !PLAIN_CLUSTER_KEYS.has(k))) return null;
  if (Object.keys(user).some((k) => !PLAIN_USER_KEYS.has(k))) return null;
  const dir = path.dirname(file);
  const fileOrData = (fileKey: string, dataKey: string) => {
    const data = str(user[dataKey] ?? cluster[dataKey]);
    if (data) return Buffer.from(data, 'base64');
    const f = str(user[fileKey] ?? cluster[fileKey]);
    return f ? readFileSync(path.resolve(dir, f)) : undefined;
  };
  return {
    server,
    token: str(user.token),
    tokenFile: str(user.tokenFile) ? path.resolve(dir, str(user.tokenFile) as string) : undefined,
    ca: fileOrData('certificate-authority', 'certificate-authority-data'),
    cert: fileOrData('client-certificate', 'client-certificate-data'),
    key: fileOrData('client-key', 'client-key-data'),
    insecure: cluster['insecure-skip-tls-verify'] === true,
  };
}

/**
 * As client-node's `loadFromDefault`: the file given, else `KUBECONFIG`, else `~/.kube/config`,
 * else the in-cluster service account.
 */
export async function loadKubeAccess(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  serviceAccountDir = SA_DIR,
): Promise<KubeAccess> {
  const candidate =
    file ?? str(env.KUBECONFIG) ?? path.join(env.HOME ?? homedir(), '.kube', 'config');
  const single = !candidate.includes(path.delimiter);
  if (single && existsSync(candidate)) {
    const plain = plainFromKubeconfig(readFileSync(candidate, 'utf8'), candidate);
    if (plain) return plainAccess(plain);
  }
  if (!file && !str(env.KUBECONFIG) && !existsSync(candidate)) {
    const host = str(env.KUBERNETES_SERVICE_HOST);
    const port = str(env.KUBERNETES_SERVICE_PORT) ?? '443';
    if (host && existsSync(path.join(serviceAccountDir, 'token'))) {
      const h = host.includes(':') ? `[${host}]` : host;
      return plainAccess({
        server: `https://${h}:${port}`,
        tokenFile: path.join(serviceAccountDir, 'token'),
        ca: readFileSync(path.join(serviceAccountDir, 'ca.crt')),
      });
    }
  }
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return kubeConfigAccess(kc);
}
