/**
 * A loopback OCI registry for tests: manifests by tag and digest, blobs, the referrers API
 * (or, switched off, the tag-scheme fallback clients maintain), bearer-token auth with an
 * optional username/password, and injected failures (404, 401, 429, 500). The real
 * `RegistryClient` talks to it over HTTP on 127.0.0.1, port 0.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestRegistryOptions {
  /** Serve `GET /v2/<name>/referrers/<digest>` (default true); else 404 like older registries. */
  referrersApi?: boolean;
  /** Require a bearer token from `/token`; with credentials, the token endpoint checks them. */
  auth?: { username?: string; password?: string } | null;
}

export interface Fault {
  /** Applies to requests whose path contains this. */
  match: string;
  status: number;
  headers?: Record<string, string>;
  /** How many requests it answers (default 1). */
  times?: number;
}

interface Repo {
  /** Descriptors of manifests by the digest their `subject` names. */
  referrers: Map<string, object[]>;
  blobs: Map<string, Buffer>;
  manifests: Map<string, { bytes: Buffer; mediaType: string }>;
  tags: Map<string, string>;
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

export const digestOf = (bytes: Uint8Array | string): string =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export class TestRegistry {
  readonly #repos = new Map<string, Repo>();
  readonly #faults: Fault[] = [];
  readonly #tokens = new Set<string>();
  readonly options: Required<TestRegistryOptions>;
  /** Every request path, in order. */
  readonly requests: string[] = [];
  #server = createServer((req, res) => this.#handle(req, res));
  host = '';

  constructor(options: TestRegistryOptions = {}) {
    this.options = { referrersApi: options.referrersApi ?? true, auth: options.auth ?? null };
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.host = `127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  fail(fault: Fault): void {
    this.#faults.push({ times: 1, ...fault });
  }

  #repo(name: string): Repo {
    let repo = this.#repos.get(name);
    if (!repo) {
      repo = { referrers: new Map(), blobs: new Map(), manifests: new Map(), tags: new Map() };
      this.#repos.set(name, repo);
    }
    return repo;
  }

  pushBlob(repo: string, bytes: Uint8Array | string): { digest: string; size: number } {
    const buffer = Buffer.from(bytes);
    const digest = digestOf(buffer);
    this.#repo(repo).blobs.set(digest, buffer);
    return { digest, size: buffer.byteLength };
  }

  /**
   * Stores a manifest (exact bytes kept) and tags it. A manifest with a `subject` is found by
   * the referrers API, or, with the API off, added to the subject's `sha256-<hex>` tag index.
   */
  pushManifest(repo: string, manifest: object | string, tag?: string): string {
    const text = typeof manifest === 'string' ? manifest : JSON.stringify(manifest);
    const bytes = Buffer.from(text);
    const json = JSON.parse(text) as {
      mediaType?: string;
      subject?: { digest: string };
      artifactType?: string;
      annotations?: Record<string, string>;
      config?: { mediaType?: string };
    };
    const digest = digestOf(bytes);
    const r = this.#repo(repo);
    r.manifests.set(digest, { bytes, mediaType: json.mediaType ?? OCI_MANIFEST });
    if (tag) r.tags.set(tag, digest);
    if (json.subject) {
      const list = r.referrers.get(json.subject.digest) ?? [];
      list.push(this.#descriptorOf(bytes, json));
      r.referrers.set(json.subject.digest, list);
    }
    if (json.subject && !this.options.referrersApi) {
      const fallbackTag = json.subject.digest.replace(':', '-');
      const existing = r.tags.get(fallbackTag);
      const index = existing
        ? (JSON.parse(r.manifests.get(existing)?.bytes.toString() ?? '{}') as {
            manifests: object[];
          })
        : { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] as object[] };
      index.manifests.push(this.#descriptorOf(bytes, json));
      const indexBytes = Buffer.from(JSON.stringify(index));
      const indexDigest = digestOf(indexBytes);
      r.manifests.set(indexDigest, { bytes: indexBytes, mediaType: OCI_INDEX });
      r.tags.set(fallbackTag, indexDigest);
    }
    return digest;
  }

  /** A stored manifest's exact bytes and media type (what a signature's descriptor names). */
  manifestOf(repo: string, digest: string): { bytes: Buffer; mediaType: string } | undefined {
    return this.#repos.get(repo)?.manifests.get(digest);
  }

  deleteTag(repo: string, tag: string): void {
    this.#repo(repo).tags.delete(tag);
  }

  #descriptorOf(
    bytes: Buffer,
    json: {
      mediaType?: string;
      artifactType?: string;
      annotations?: Record<string, string>;
      config?: { mediaType?: string };
    },
  ): object {
    return {
      mediaType: json.mediaType ?? OCI_MANIFEST,
      digest: digestOf(bytes),
      size: bytes.byteLength,
      artifactType: json.artifactType ?? json.config?.mediaType,
      ...(json.annotations ? { annotations: json.annotations } : {}),
    };
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', `http://${this.host}`);
    this.requests.push(`${req.method} ${url.pathname}`);
    const fault = this.#faults.find((f) => url.pathname.includes(f.match) && (f.times ?? 0) > 0);
    if (fault) {
      fault.times = (fault.times ?? 1) - 1;
      res.writeHead(fault.status, fault.headers ?? {});
      res.end();
      return;
    }
    if (url.pathname === '/token') {
      this.#token(req, res, url);
      return;
    }
    if (this.options.auth) {
      const auth = req.headers.authorization ?? '';
      if (!(auth.startsWith('Bearer ') && this.#tokens.has(auth.slice(7)))) {
        const m = /^\/v2\/(.+)\/(?:manifests|blobs|referrers)\//.exec(url.pathname);
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="http://${this.host}/token",service="test-registry",scope="repository:${m?.[1] ?? ''}:pull"`,
          'content-type': 'application/json',
        });
        res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
        return;
      }
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs|referrers)\/([^/]+)$/.exec(url.pathname);
    if (!m) {
      notFound(res);
      return;
    }
    const [, name = '', kind, reference = ''] = m;
    const repo = this.#repos.get(name);
    if (kind === 'referrers') {
      if (!this.options.referrersApi) {
        notFound(res);
        return;
      }
      const manifests = repo?.referrers.get(reference) ?? [];
      const filter = url.searchParams.get('artifactType');
      const shown = filter
        ? manifests.filter((d) => (d as { artifactType?: string }).artifactType === filter)
        : manifests;
      res.writeHead(200, { 'content-type': OCI_INDEX });
      res.end(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: shown }));
      return;
    }
    if (!repo) {
      notFound(res);
      return;
    }
    if (kind === 'blobs') {
      const blob = repo.blobs.get(reference);
      if (!blob) {
        notFound(res);
        return;
      }
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': blob.byteLength,
      });
      res.end(req.method === 'HEAD' ? undefined : blob);
      return;
    }
    const digest = reference.startsWith('sha256:') ? reference : repo.tags.get(reference);
    const stored = digest ? repo.manifests.get(digest) : undefined;
    if (!stored || !digest) {
      notFound(res);
      return;
    }
    res.writeHead(200, {
      'content-type': stored.mediaType,
      'docker-content-digest': digest,
      'content-length': stored.bytes.byteLength,
    });
    res.end(req.method === 'HEAD' ? undefined : stored.bytes);
  }

  #token(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const want = this.options.auth;
    if (want?.username !== undefined) {
      const expected = `Basic ${Buffer.from(`${want.username}:${want.password ?? ''}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
        return;
      }
    }
    const token = `t-${this.#tokens.size}-${url.searchParams.get('scope') ?? ''}`;
    this.#tokens.add(token);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, expires_in: 300 }));
  }
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
}

/** Pushes a small image (config + one layer) and returns its manifest digest. */
export function pushImage(registry: TestRegistry, repo: string, tag: string, seed = 'x'): string {
  const config = registry.pushBlob(
    repo,
    JSON.stringify({ architecture: 'amd64', os: 'linux', seed }),
  );
  const layer = registry.pushBlob(repo, `layer-${seed}`);
  return registry.pushManifest(
    repo,
    {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
    },
    tag,
  );
}
