import { afterEach, describe, expect, it } from 'vitest';
import { parseChallenge, RegistryClient } from '../../../lambdas/adapters/oci/client.ts';
import { RegistryError, RegistryUnreachableError } from '../../../lambdas/core/errors.ts';
import { digestOf, OCI_MANIFEST, pushImage, TestRegistry } from '../../helpers/oci-registry.ts';

const open: TestRegistry[] = [];
async function registry(
  options?: ConstructorParameters<typeof TestRegistry>[0],
): Promise<TestRegistry> {
  const r = await new TestRegistry(options).start();
  open.push(r);
  return r;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
});

const noSleep = { sleep: async () => {} };

describe('RegistryClient against a loopback registry', () => {
  it('reads a manifest by tag and by digest, hashing the bytes it got', async () => {
    // Prepare
    const r = await registry();
    const digest = pushImage(r, 'apps/api', '1.0');
    const client = new RegistryClient();
    const repo = { host: r.host, path: 'apps/api' };
    // Act
    const byTag = await client.manifest(repo, '1.0');
    const byDigest = await client.manifest(repo, digest);
    // Assess
    expect(byTag?.digest).toBe(digest);
    expect(byDigest?.mediaType).toBe(OCI_MANIFEST);
    expect(await client.resolve(repo, '1.0')).toBe(digest);
    expect(await client.manifest(repo, 'missing')).toBeNull();
  });

  it('gets a bearer token anonymously, or with credentials, and reuses it', async () => {
    // Prepare
    const anonymous = await registry({ auth: {} });
    const locked = await registry({ auth: { username: 'ci', password: 's3cret' } });
    const a = pushImage(anonymous, 'apps/api', '1.0');
    const l = pushImage(locked, 'apps/api', '1.0');
    // Act
    const client = new RegistryClient({
      credentials: async (host) =>
        host === locked.host ? { username: 'ci', password: 's3cret' } : null,
    });
    const first = await client.manifest({ host: anonymous.host, path: 'apps/api' }, '1.0');
    const again = await client.manifest({ host: anonymous.host, path: 'apps/api' }, a);
    const withCreds = await client.manifest({ host: locked.host, path: 'apps/api' }, '1.0');
    // Assess
    expect(first?.digest).toBe(a);
    expect(again?.digest).toBe(a);
    expect(withCreds?.digest).toBe(l);
    expect(anonymous.requests.filter((p) => p === 'GET /token')).toHaveLength(1);
  });

  it('names a 401 without usable credentials', async () => {
    const r = await registry({ auth: { username: 'ci', password: 's3cret' } });
    pushImage(r, 'apps/api', '1.0');
    const client = new RegistryClient({
      credentials: async () => ({ username: 'ci', password: 'wrong' }),
    });
    await expect(client.manifest({ host: r.host, path: 'apps/api' }, '1.0')).rejects.toThrow(
      /token request refused \(HTTP 401\)/,
    );
  });

  it('retries a 429 after Retry-After, and gives up after the retries', async () => {
    // Prepare
    const r = await registry();
    const digest = pushImage(r, 'apps/api', '1.0');
    const waits: number[] = [];
    const client = new RegistryClient({ sleep: async (ms) => void waits.push(ms) });
    const repo = { host: r.host, path: 'apps/api' };
    // Act
    r.fail({ match: '/manifests/1.0', status: 429, headers: { 'retry-after': '2' } });
    const ok = await client.manifest(repo, '1.0');
    r.fail({ match: '/manifests/1.0', status: 429, times: 5 });
    const limited = client.manifest(repo, '1.0');
    // Assess
    expect(ok?.digest).toBe(digest);
    expect(waits[0]).toBe(2000);
    await expect(limited).rejects.toMatchObject({ name: 'RegistryError', status: 429 });
  });

  it('refuses a Retry-After longer than the limit instead of sleeping on it', async () => {
    const r = await registry();
    pushImage(r, 'apps/api', '1.0');
    r.fail({ match: '/manifests/', status: 429, headers: { 'retry-after': '3600' } });
    const client = new RegistryClient({ ...noSleep, maxRetryAfterMs: 5000 });
    await expect(client.manifest({ host: r.host, path: 'apps/api' }, '1.0')).rejects.toThrow(
      /rate limited \(429\), retry after 3600 s/,
    );
  });

  it('reports 500s and unreachable registries as named errors', async () => {
    // Prepare
    const r = await registry();
    pushImage(r, 'apps/api', '1.0');
    r.fail({ match: '/manifests/', status: 500 });
    const client = new RegistryClient(noSleep);
    // Act
    const broken = client.manifest({ host: r.host, path: 'apps/api' }, '1.0');
    const down = new RegistryClient({ endpoints: { 'down.example': 'http://127.0.0.1:1' } });
    // Assess
    await expect(broken).rejects.toBeInstanceOf(RegistryError);
    await expect(down.manifest({ host: 'down.example', path: 'x' }, '1.0')).rejects.toBeInstanceOf(
      RegistryUnreachableError,
    );
    await expect(down.manifest({ host: 'down.example', path: 'x' }, '1.0')).rejects.toThrow(
      /registry down.example cannot be reached/,
    );
  });

  it('refuses content that does not match the digest asked for, and oversized manifests', async () => {
    // Prepare
    const r = await registry();
    const digest = pushImage(r, 'apps/api', '1.0');
    const other = pushImage(r, 'apps/api', '2.0', 'other');
    // A lying registry: serve another manifest under the asked digest.
    const client = new RegistryClient({
      fetch: (url, init) =>
        globalThis.fetch(String(url).replace(digest, other), init as RequestInit),
    });
    const small = new RegistryClient({ maxManifestBytes: 10 });
    const repo = { host: r.host, path: 'apps/api' };
    // Act / Assess
    await expect(client.manifest(repo, digest)).rejects.toThrow(/served content with digest/);
    await expect(small.manifest(repo, '1.0')).rejects.toThrow(/larger than 10 bytes/);
    await expect(client.manifest(repo, '../../etc')).rejects.toThrow(/not a tag or digest/);
  });

  it('checks blobs against their digest', async () => {
    const r = await registry();
    const { digest } = r.pushBlob('apps/api', 'hello');
    const client = new RegistryClient();
    const repo = { host: r.host, path: 'apps/api' };
    expect((await client.blob(repo, digest, 100)).toString()).toBe('hello');
    await expect(client.blob(repo, digestOf('absent'), 100)).rejects.toMatchObject({ status: 404 });
    await expect(client.blob(repo, digest, 2)).rejects.toThrow(/larger than 2 bytes/);
  });

  it('lists referrers through the API, and through the tag scheme where the API is missing', async () => {
    for (const referrersApi of [true, false]) {
      // Prepare
      const r = await registry({ referrersApi });
      const digest = pushImage(r, 'apps/api', '1.0');
      const config = r.pushBlob('apps/api', '{}');
      const referrer = r.pushManifest('apps/api', {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: 'application/example',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', ...config },
        layers: [],
        subject: { mediaType: OCI_MANIFEST, digest, size: 1 },
      });
      // Act
      const found = await new RegistryClient().referrers(
        { host: r.host, path: 'apps/api' },
        digest,
      );
      // Assess
      expect(found).toEqual([
        expect.objectContaining({ digest: referrer, artifactType: 'application/example' }),
      ]);
      expect(r.requests.some((p) => p.includes('/manifests/sha256-'))).toBe(!referrersApi);
    }
  });
});

describe('parseChallenge', () => {
  it('reads quoted parameters with commas and escapes, and bare ones', () => {
    expect(
      parseChallenge(
        'Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"',
      ),
    ).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://auth.example/token',
        service: 'reg',
        scope: 'repository:a/b:pull,push',
      },
    });
    expect(parseChallenge('Basic realm=x')).toEqual({ scheme: 'basic', params: { realm: 'x' } });
    expect(parseChallenge('Bearer realm="a\\"b"')?.params.realm).toBe('a"b');
    expect(parseChallenge('')).toBeNull();
  });

  it('refuses a token realm that is not https (credentials would leave in clear text)', async () => {
    const r = await new TestRegistry({ auth: {} }).start();
    open.push(r);
    pushImage(r, 'apps/api', '1.0');
    // The test registry names an http realm on 127.0.0.1 (allowed); route the host elsewhere.
    const client = new RegistryClient({
      endpoints: { 'reg.example': `http://${r.host}` },
      fetch: async (url, init) => {
        const res = await globalThis.fetch(url, init as RequestInit);
        if (res.status !== 401) return res;
        return new Response(null, {
          status: 401,
          headers: { 'www-authenticate': 'Bearer realm="http://evil.example/token"' },
        });
      },
    });
    await expect(client.manifest({ host: 'reg.example', path: 'apps/api' }, '1.0')).rejects.toThrow(
      /token realm http:\/\/evil.example\/token is not https/,
    );
  });
});
