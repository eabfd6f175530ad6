/**
 * How the forwarder reaches the API server: the server URL, and per request the headers and
 * TLS agent (Node https). In a cluster (the service account) and for plain kubeconfigs (token, token
 * file, client certificate, CA, insecure-skip-tls-verify) this is read here, without loading
 * @kubernetes/client-node: its generated API alone costs ~80 MiB of RSS, half the forwarder's
 * memory budget. Anything else a kubeconfig can ask for (exec plugins such as
 * `aws eks get-token`, auth providers, proxies, several files in KUBECONFIG) is handed to
 * client-node's `KubeConfig`, loaded only then.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Agent } from 'node:http';
import type { RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from '../../lambdas/core/errors.ts';

export interface KubeAccess {
  readonly server: string;
  /** Headers and the agent (TLS settings, proxies) for a request to `url`. */
  prepare(url: string): Promise<{ headers: Record<string, string>; agent?: Agent }>;
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

async function plainAccess(p: Plain): Promise<KubeAccess> {
  // node:https (and TLS with it) is loaded only for an https server.
  const tls = p.server.startsWith('https:')
    ? new (await import('node:https')).Agent({
        keepAlive: true,
        ...(p.ca ? { ca: p.ca } : {}),
        ...(p.cert ? { cert: p.cert } : {}),
        ...(p.key ? { key: p.key } : {}),
        rejectUnauthorized: p.insecure !== true,
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
      return tls ? { headers, agent: tls } : { headers };
    },
  };
}

/** client-node's `KubeConfig` as a `KubeAccess` (exec plugins, auth providers, …). */
export async function kubeConfigAccess(kc: KubeConfig): Promise<KubeAccess> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new ConfigError('the kubeconfig has no current cluster');
  return {
    server: cluster.server.replace(/\/+$/, ''),
    async prepare() {
      // Node https options: exec plugins and auth providers set headers (asked again per
      // request, so tokens refresh), TLS and proxy settings come as a cached agent.
      const opts: RequestOptions = {};
      await kc.applyToHTTPSOptions(opts);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(opts.headers ?? {})) {
        if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : `${v}`;
      }
      if (opts.auth) headers.authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
      return { headers, ...(typeof opts.agent === 'object' ? { agent: opts.agent } : {}) };
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

/**
 * The plain settings of a kubeconfig's current context, or null when client-node must read it.
 * The YAML parser is loaded only here: in a cluster there is no kubeconfig to read.
 */
export async function plainFromKubeconfig(text: string, file: string): Promise<Plain | null> {
  // `default`: yaml is CommonJS, and the bundle's chunk of it exports only that.
  const { default: yaml } = await import('yaml');
  const doc = obj(yaml.parse(text));
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
    const plain = await plainFromKubeconfig(readFileSync(candidate, 'utf8'), candidate);
    if (plain) return await plainAccess(plain);
  }
  if (!file && !str(env.KUBECONFIG) && !existsSync(candidate)) {
    const host = str(env.KUBERNETES_SERVICE_HOST);
    const port = str(env.KUBERNETES_SERVICE_PORT) ?? '443';
    if (host && existsSync(path.join(serviceAccountDir, 'token'))) {
      const h = host.includes(':') ? `[${host}]` : host;
      return await plainAccess({
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
