/**
 * A loopback Kubernetes API server for pods, enough of the real protocol for client-node's
 * list/watch: resourceVersions, paged lists (limit/continue), chunked watch streams of
 * `{type, object}` lines with BOOKMARK, expired resourceVersions (an ERROR event with a 410
 * Status, or an HTTP 410), dropped connections, and a switch to refuse every request.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

type Pod = {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: Record<string, unknown> & { name: string; namespace: string; uid: string };
  spec: Record<string, unknown> & { containers: { name: string; image: string }[] };
  status?: Record<string, unknown>;
};

interface WatchEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: Pod;
}

interface Watcher {
  namespace: string | null;
  res: ServerResponse;
}

export const TOKEN = 'fake-apiserver-token';

export class FakeApiServer {
  readonly server: Server;
  port = 0;
  #rv = 100;
  #uid = 0;
  readonly pods = new Map<string, Pod>();
  readonly #history: WatchEvent[] = [];
  /** Watches from a resourceVersion below this get 410 Gone. */
  #compactedBelow = 0;
  readonly #watchers = new Set<Watcher>();
  readonly #snapshots = new Map<string, { rv: number; items: Pod[] }>();
  /** When set, every request is answered with this status (API server unavailable). */
  unavailable: number | null = null;
  /** How an expired watch is reported: an ERROR event in a 200 stream, or HTTP 410. */
  expiredAs: 'event' | 'status' = 'event';
  listRequests = 0;
  watchRequests = 0;
  expiredWatches = 0;
  /** Paths and query strings of every request, for assertions. */
  readonly requests: string[] = [];

  constructor() {
    this.server = createServer((req, res) => this.#handle(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const w of this.#watchers) w.res.destroy();
    this.#watchers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Writes a kubeconfig for this server into a fresh temp dir and returns its path. */
  writeKubeconfig(): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'regwatch-kube-'));
    const file = path.join(dir, 'config');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        // client-node refuses plain http unless TLS verification is explicitly off.
        `- name: fake\n  cluster:\n    server: http://127.0.0.1:${this.port}\n    insecure-skip-tls-verify: true`,
        'users:',
        `- name: tester\n  user:\n    token: ${TOKEN}`,
        'contexts:',
        '- name: fake\n  context:\n    cluster: fake\n    user: tester',
        'current-context: fake',
        '',
      ].join('\n'),
    );
    return file;
  }

  get resourceVersion(): number {
    return this.#rv;
  }

  createPod(
    namespace: string,
    name: string,
    containers: { name: string; image: string }[] = [{ name: 'app', image: 'nginx:1.27' }],
  ): Pod {
    const pod: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace,
        uid: `uid-${++this.#uid}`,
        labels: { app: name },
        creationTimestamp: '2026-01-02T03:04:05Z',
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${name}-rs`, controller: true },
        ],
      },
      spec: {
        serviceAccountName: 'default',
        containers: containers.map((c) => ({
          ...c,
          env: [{ name: 'SECRET_TOKEN', value: 'hunter2' }],
        })),
        volumes: [{ name: 'creds', secret: { secretName: 'db' } }],
      },
      status: { phase: 'Pending' },
    };
    this.#commit('ADDED', pod);
    return pod;
  }

  /** Schedules the pod and gives every container a status with a digest `imageID`. */
  setRunning(namespace: string, name: string): Pod {
    const pod = this.#get(namespace, name);
    pod.spec.nodeName = 'node-1';
    pod.status = {
      phase: 'Running',
      containerStatuses: pod.spec.containers.map((c) => ({
        name: c.name,
        image: c.image,
        imageID: `docker.io/library/${c.name}@sha256:${digestFor(c.image)}`,
        ready: true,
      })),
    };
    this.#commit('MODIFIED', pod);
    return pod;
  }

  /** Adds an ephemeral container (kubectl debug) that starts at once. */
  addEphemeral(namespace: string, name: string, container: { name: string; image: string }): Pod {
    const pod = this.#get(namespace, name);
    const eph = (pod.spec.ephemeralContainers as { name: string; image: string }[]) ?? [];
    pod.spec.ephemeralContainers = [...eph, container];
    const status = (pod.status ?? {}) as Record<string, unknown>;
    const ephStatus = (status.ephemeralContainerStatuses as unknown[]) ?? [];
    status.ephemeralContainerStatuses = [
      ...ephStatus,
      {
        name: container.name,
        image: container.image,
        imageID: `docker.io/library/debug@sha256:${digestFor(container.image)}`,
      },
    ];
    pod.status = status;
    this.#commit('MODIFIED', pod);
    return pod;
  }

  /** A change that does not touch images (labels): must not produce a pod event. */
  relabel(namespace: string, name: string, labels: Record<string, string>): Pod {
    const pod = this.#get(namespace, name);
    pod.metadata.labels = labels;
    this.#commit('MODIFIED', pod);
    return pod;
  }

  deletePod(namespace: string, name: string): void {
    const pod = this.#get(namespace, name);
    this.pods.delete(`${namespace}/${name}`);
    this.#commit('DELETED', pod);
  }

  /** Sends a BOOKMARK with the current resourceVersion on every open watch. */
  bookmark(): void {
    for (const w of this.#watchers) {
      writeLine(w.res, {
        type: 'BOOKMARK',
        object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: String(this.#rv) } },
      });
    }
  }

  /** Writes `text` as it is on every open watch: what a broken or hostile API server sends. */
  writeRaw(text: string): void {
    for (const w of this.#watchers) w.res.write(text);
  }

  /** Adds a list item that is not a pod (served by the next list, never watched). */
  readonly junkListItems: unknown[] = [];

  /** Destroys every open watch connection mid-stream, as a load balancer or restart would. */
  dropWatches(): number {
    const n = this.#watchers.size;
    for (const w of this.#watchers) w.res.socket?.destroy();
    this.#watchers.clear();
    return n;
  }

  /**
   * Forgets all history up to now: a watch from any older resourceVersion is expired. Open
   * watches get an ERROR event with a 410 Status and are closed, as etcd compaction does.
   */
  compact(): void {
    this.#compactedBelow = this.#rv + 1;
    this.#history.length = 0;
    for (const w of this.#watchers) {
      writeLine(w.res, { type: 'ERROR', object: expiredStatus() });
      w.res.end();
    }
    this.#watchers.clear();
  }

  get openWatches(): number {
    return this.#watchers.size;
  }

  #get(namespace: string, name: string): Pod {
    const pod = this.pods.get(`${namespace}/${name}`);
    if (!pod) throw new Error(`no pod ${namespace}/${name}`);
    return pod;
  }

  #commit(type: WatchEvent['type'], pod: Pod): void {
    const rv = ++this.#rv;
    pod.metadata.resourceVersion = String(rv);
    if (type !== 'DELETED') this.pods.set(`${pod.metadata.namespace}/${pod.metadata.name}`, pod);
    const object = structuredClone(pod);
    this.#history.push({ rv, type, object });
    for (const w of this.#watchers) {
      if (w.namespace === null || w.namespace === pod.metadata.namespace) {
        writeLine(w.res, { type, object });
      }
    }
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push(`${url.pathname}${url.search}`);
    if (this.unavailable !== null) {
      res.writeHead(this.unavailable, { 'content-type': 'application/json' });
      res.end(JSON.stringify(status(this.unavailable, 'ServiceUnavailable', 'unavailable')));
      return;
    }
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(status(401, 'Unauthorized', 'Unauthorized')));
      return;
    }
    const m = /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?pods$/.exec(url.pathname);
    if (req.method !== 'GET' || !m) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(status(404, 'NotFound', 'not found')));
      return;
    }
    const namespace = m[1] ? decodeURIComponent(m[1]) : null;
    if (url.searchParams.get('watch') === 'true') this.#watch(namespace, url, res);
    else this.#list(namespace, url, res);
  }

  #list(namespace: string | null, url: URL, res: ServerResponse): void {
    this.listRequests++;
    const limit = Number(url.searchParams.get('limit') ?? '0');
    const cont = url.searchParams.get('continue');
    let snap: { rv: number; items: Pod[] };
    let offset = 0;
    if (cont) {
      const [id, off] = cont.split(':');
      const found = this.#snapshots.get(id ?? '');
      if (!found) {
        res.writeHead(410, { 'content-type': 'application/json' });
        res.end(JSON.stringify(expiredStatus()));
        return;
      }
      snap = found;
      offset = Number(off);
    } else {
      const items = [...this.pods.values()]
        .filter((p) => namespace === null || p.metadata.namespace === namespace)
        .sort((a, b) =>
          `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(
            `${b.metadata.namespace}/${b.metadata.name}`,
          ),
        )
        .map((p) => structuredClone(p));
      snap = { rv: this.#rv, items };
    }
    const end = limit > 0 ? Math.min(offset + limit, snap.items.length) : snap.items.length;
    const metadata: Record<string, string> = { resourceVersion: String(snap.rv) };
    if (end < snap.items.length) {
      const id = cont?.split(':')[0] ?? `s${this.#snapshots.size + 1}`;
      this.#snapshots.set(id, snap);
      metadata.continue = `${id}:${end}`;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        kind: 'PodList',
        apiVersion: 'v1',
        metadata,
        items:
          offset === 0
            ? [...this.junkListItems, ...snap.items.slice(offset, end)]
            : snap.items.slice(offset, end),
      }),
    );
  }

  #watch(namespace: string | null, url: URL, res: ServerResponse): void {
    this.watchRequests++;
    const from = Number(url.searchParams.get('resourceVersion') || '0');
    const expired = from > 0 && from < this.#compactedBelow - 1;
    if (expired && this.expiredAs === 'status') {
      this.expiredWatches++;
      res.writeHead(410, { 'content-type': 'application/json' });
      res.end(JSON.stringify(expiredStatus()));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    if (expired) {
      this.expiredWatches++;
      writeLine(res, { type: 'ERROR', object: expiredStatus() });
      res.end();
      return;
    }
    for (const e of this.#history) {
      if (e.rv > from && (namespace === null || e.object.metadata.namespace === namespace)) {
        writeLine(res, { type: e.type, object: e.object });
      }
    }
    const w: Watcher = { namespace, res };
    this.#watchers.add(w);
    res.on('close', () => this.#watchers.delete(w));
  }
}

function writeLine(res: ServerResponse, value: unknown): void {
  res.write(`${JSON.stringify(value)}\n`);
}

function status(code: number, reason: string, message: string) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
  };
}

function expiredStatus() {
  return status(410, 'Expired', 'too old resource version');
}

function digestFor(image: string): string {
  let h = 0;
  for (const ch of image) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h.toString(16).padStart(8, '0').repeat(8);
}
