/**
 * A small client of the OCI distribution API (the part signature verification needs):
 * manifests by tag or digest, blobs, the referrers API with its tag-scheme fallback, and the
 * registry token flow (anonymous or with credentials). Every response is bounded in size and
 * time, content fetched by digest is checked against the digest, and failures are named
 * errors (`RegistryError`, `RegistryUnreachableError`), never a silent empty answer.
 */
import { RegistryError, RegistryUnreachableError } from '../../core/errors.ts';
import {
  asDescriptor,
  type Descriptor,
  isLoopback,
  type Manifest,
  MEDIA_TYPES,
  parseChallenge,
  type RepositoryRef,
  sha256Digest,
} from './types.ts';

export {
  asDescriptor,
  type Descriptor,
  type Manifest,
  MEDIA_TYPES,
  parseChallenge,
  type RepositoryRef,
  sha256Digest,
  stringMap,
} from './types.ts';

export type RegistryCredentials =
  | { username: string; password: string }
  /** A bearer token the registry accepts as is (e.g. from a credential helper). */
  | { registryToken: string };

/** Credentials for a canonical registry host, or null for anonymous access. */
export type CredentialSource = (host: string) => Promise<RegistryCredentials | null>;

export interface RegistryClientOptions {
  fetch?: typeof globalThis.fetch;
  credentials?: CredentialSource;
  /**
   * Base URL per canonical host (`registry.local:5000` → `http://127.0.0.1:5000`). Without one:
   * `https://host`; Docker Hub is `registry-1.docker.io`; loopback hosts use plain http.
   */
  endpoints?: Readonly<Record<string, string>>;
  timeoutMs?: number;
  maxManifestBytes?: number;
  /** Retries of a 429 answer before giving up. */
  retries?: number;
  /** The longest `Retry-After` honoured; longer waits give up at once. */
  maxRetryAfterMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

const MANIFEST_ACCEPT = Object.values(MEDIA_TYPES).join(', ');
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const TAG = /^[\w][\w.-]{0,127}$/;

export class RegistryClient {
  readonly #fetch: typeof globalThis.fetch;
  readonly #credentials: CredentialSource;
  readonly #endpoints: Readonly<Record<string, string>>;
  readonly #timeoutMs: number;
  readonly #maxManifestBytes: number;
  readonly #retries: number;
  readonly #maxRetryAfterMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  /** Bearer tokens by host + scope. */
  readonly #tokens = new Map<string, { token: string; expires: number }>();

  constructor(options: RegistryClientOptions = {}) {
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#credentials = options.credentials ?? (async () => null);
    this.#endpoints = options.endpoints ?? {};
    this.#timeoutMs = options.timeoutMs ?? 15_000;
    this.#maxManifestBytes = options.maxManifestBytes ?? 4 * 1024 * 1024;
    this.#retries = options.retries ?? 2;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? 10_000;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** The base URL requests for `host` go to. */
  endpoint(host: string): string {
    const configured = this.#endpoints[host];
    if (configured !== undefined) return configured.replace(/\/+$/, '');
    if (host === 'docker.io') return 'https://registry-1.docker.io';
    return `${isLoopback(host) ? 'http' : 'https'}://${host}`;
  }

  /** A manifest by tag or digest; null when the registry has none (404). */
  async manifest(repo: RepositoryRef, reference: string): Promise<Manifest | null> {
    if (!DIGEST.test(reference) && !TAG.test(reference)) {
      throw new RegistryError(repo.host, `${JSON.stringify(reference)} is not a tag or digest`);
    }
    const res = await this.#request(repo, `manifests/${reference}`, { accept: MANIFEST_ACCEPT });
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    await this.#expectOk(repo, res, `manifest ${reference}`);
    const bytes = await this.#read(repo, res, this.#maxManifestBytes, `manifest ${reference}`);
    const digest = sha256Digest(bytes);
    if (DIGEST.test(reference) && digest !== reference) {
      throw new RegistryError(
        repo.host,
        `${repo.host}/${repo.path}: manifest ${reference} served content with digest ${digest}`,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new RegistryError(
        repo.host,
        `${repo.host}/${repo.path}: manifest ${reference} is not JSON`,
      );
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      throw new RegistryError(
        repo.host,
        `${repo.host}/${repo.path}: manifest ${reference} is not an object`,
      );
    }
    const body = json as Record<string, unknown>;
    const mediaType =
      typeof body.mediaType === 'string'
        ? body.mediaType
        : ((res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '');
    return { digest, mediaType, bytes, json: body };
  }

  /** The digest a tag points to now (hashed from the bytes, not taken from a header). */
  async resolve(repo: RepositoryRef, tag: string): Promise<string | null> {
    const manifest = await this.manifest(repo, tag);
    return manifest?.digest ?? null;
  }

  /** A blob, checked against its digest; refuses more than `maxBytes`. */
  async blob(repo: RepositoryRef, digest: string, maxBytes: number): Promise<Buffer> {
    if (!DIGEST.test(digest))
      throw new RegistryError(repo.host, `${digest} is not a sha256 digest`);
    const res = await this.#request(repo, `blobs/${digest}`, {});
    if (res.status === 404) {
      await res.body?.cancel();
      throw new RegistryError(
        repo.host,
        `${repo.host}/${repo.path}: blob ${digest} not found`,
        404,
      );
    }
    await this.#expectOk(repo, res, `blob ${digest}`);
    const bytes = await this.#read(repo, res, maxBytes, `blob ${digest}`);
    if (sha256Digest(bytes) !== digest) {
      throw new RegistryError(
        repo.host,
        `${repo.host}/${repo.path}: blob ${digest} does not match its digest`,
      );
    }
    return bytes;
  }

  /**
   * Manifests that name `digest` as their subject: the referrers API, or, where the registry
   * has none (404), the `sha256-<hex>` tag the OCI spec's fallback maintains.
   */
  async referrers(repo: RepositoryRef, digest: string): Promise<Descriptor[]> {
    if (!DIGEST.test(digest))
      throw new RegistryError(repo.host, `${digest} is not a sha256 digest`);
    const res = await this.#request(repo, `referrers/${digest}`, { accept: MEDIA_TYPES.ociIndex });
    let index: Record<string, unknown> | null;
    if (res.status === 404 || res.status === 405 || res.status === 400) {
      await res.body?.cancel();
      index = (await this.manifest(repo, digest.replace(':', '-')))?.json ?? null;
    } else {
      await this.#expectOk(repo, res, `referrers of ${digest}`);
      const bytes = await this.#read(repo, res, this.#maxManifestBytes, `referrers of ${digest}`);
      try {
        index = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
      } catch {
        throw new RegistryError(
          repo.host,
          `${repo.host}/${repo.path}: referrers of ${digest} is not JSON`,
        );
      }
    }
    const manifests = index?.manifests;
    if (!Array.isArray(manifests)) return [];
    const out: Descriptor[] = [];
    for (const item of manifests) {
      const descriptor = asDescriptor(item);
      if (descriptor) out.push(descriptor);
    }
    return out;
  }

  /* ------------------------------------------------------------ HTTP */

  async #request(
    repo: RepositoryRef,
    suffix: string,
    opts: { accept?: string },
  ): Promise<Response> {
    const url = `${this.endpoint(repo.host)}/v2/${repo.path}/${suffix}`;
    const scope = `repository:${repo.path}:pull`;
    let authorization = this.#cachedToken(repo.host, scope);
    let authenticated = false;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = {};
      if (opts.accept) headers.accept = opts.accept;
      if (authorization) headers.authorization = authorization;
      const res = await this.#send(repo.host, url, headers);
      if (res.status === 401 && !authenticated) {
        authenticated = true;
        const header = res.headers.get('www-authenticate');
        await res.body?.cancel();
        authorization = await this.#authorize(repo.host, header, scope);
        if (authorization === null) {
          throw new RegistryError(
            repo.host,
            `${repo.host}: access to ${repo.path} denied (401) and no usable credentials`,
            401,
          );
        }
        continue;
      }
      if (res.status === 429 && attempt < this.#retries) {
        const wait = retryAfterMs(res.headers.get('retry-after'));
        await res.body?.cancel();
        if (wait > this.#maxRetryAfterMs) {
          throw new RegistryError(
            repo.host,
            `${repo.host}: rate limited (429), retry after ${Math.ceil(wait / 1000)} s`,
            429,
          );
        }
        await this.#sleep(wait);
        continue;
      }
      return res;
    }
  }

  async #send(host: string, url: string, headers: Record<string, string>): Promise<Response> {
    try {
      return await this.#fetch(url, {
        headers,
        redirect: 'follow',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const why =
        (error as Error).name === 'TimeoutError'
          ? `no answer within ${this.#timeoutMs} ms`
          : (cause?.code ?? cause?.message ?? (error as Error).message);
      throw new RegistryUnreachableError(
        host,
        `registry ${host} cannot be reached (${url}): ${why}`,
        {
          cause: error,
        },
      );
    }
  }

  async #expectOk(repo: RepositoryRef, res: Response, what: string): Promise<void> {
    if (res.ok) return;
    await res.body?.cancel();
    const why =
      res.status === 401 || res.status === 403
        ? 'access denied'
        : res.status === 429
          ? 'rate limited'
          : 'error';
    throw new RegistryError(
      repo.host,
      `${repo.host}/${repo.path}: ${what}: ${why} (HTTP ${res.status})`,
      res.status,
    );
  }

  async #read(repo: RepositoryRef, res: Response, maxBytes: number, what: string): Promise<Buffer> {
    const declared = Number(res.headers.get('content-length') ?? Number.NaN);
    if (declared > maxBytes) {
      await res.body?.cancel();
      throw new RegistryError(
        repo.host,
        `${repo.host}/${repo.path}: ${what} is larger than ${maxBytes} bytes`,
      );
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    const reader = res.body?.getReader();
    if (!reader) return Buffer.alloc(0);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.byteLength;
        if (total > maxBytes) {
          await reader.cancel();
          throw new RegistryError(
            repo.host,
            `${repo.host}/${repo.path}: ${what} is larger than ${maxBytes} bytes`,
          );
        }
        chunks.push(value);
      }
    } catch (error) {
      if (error instanceof RegistryError) throw error;
      throw new RegistryUnreachableError(
        repo.host,
        `registry ${repo.host}: ${what}: connection lost`,
        { cause: error },
      );
    }
    return Buffer.concat(chunks);
  }

  /* ------------------------------------------------------------ auth */

  #cachedToken(host: string, scope: string): string | null {
    const hit = this.#tokens.get(`${host}|${scope}`);
    return hit && Date.now() < hit.expires ? hit.token : null;
  }

  async #authorize(host: string, header: string | null, scope: string): Promise<string | null> {
    const challenge = header ? parseChallenge(header) : null;
    const credentials = await this.#credentials(host);
    if (credentials && 'registryToken' in credentials) return `Bearer ${credentials.registryToken}`;
    const basic = credentials
      ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`
      : null;
    if (!challenge || challenge.scheme === 'basic') return basic;
    if (challenge.scheme !== 'bearer') return null;
    const realm = challenge.params.realm;
    if (!realm) return null;
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError(host, `${host}: token realm ${JSON.stringify(realm)} is not a URL`);
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.host))) {
      throw new RegistryError(host, `${host}: token realm ${realm} is not https`);
    }
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    url.searchParams.set('scope', challenge.params.scope ?? scope);
    const res = await this.#send(host, url.toString(), basic ? { authorization: basic } : {});
    if (!res.ok) {
      await res.body?.cancel();
      throw new RegistryError(
        host,
        `${host}: token request refused (HTTP ${res.status})`,
        res.status,
      );
    }
    const bytes = await this.#read({ host, path: '(token)' }, res, 64 * 1024, 'token');
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new RegistryError(host, `${host}: token response is not JSON`);
    }
    const token = typeof body.token === 'string' ? body.token : body.access_token;
    if (typeof token !== 'string' || token === '') {
      throw new RegistryError(host, `${host}: token response has no token`);
    }
    const lifetime = typeof body.expires_in === 'number' ? body.expires_in : 60;
    this.#tokens.set(`${host}|${scope}`, {
      token: `Bearer ${token}`,
      expires: Date.now() + Math.max(0, lifetime - 10) * 1000,
    });
    return `Bearer ${token}`;
  }
}

/** `Retry-After` in seconds or as an HTTP date; 1 s when absent or unreadable. */
function retryAfterMs(value: string | null): number {
  if (value === null) return 1000;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? 1000 : Math.max(0, at - Date.now());
}
