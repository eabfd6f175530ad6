/**
 * Registry credentials for ECR hosts: `GetAuthorizationToken` gives a 12-hour `AWS:<token>`
 * basic credential for the OCI API of the account's registry; it is cached per registry until
 * shortly before it expires. Other hosts fall through to `fallback` (a Secrets Manager docker
 * config, or anonymous).
 */
import { type ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import type { CredentialSource, RegistryCredentials } from './client.ts';

const ECR_HOST = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;

export function ecrCredentials(
  clientFor: (region: string) => ECRClient,
  fallback: CredentialSource = async () => null,
  now: () => number = () => Date.now(),
): CredentialSource {
  const cache = new Map<string, { value: RegistryCredentials; expires: number }>();
  return async (host) => {
    const m = ECR_HOST.exec(host);
    if (!m) return fallback(host);
    const hit = cache.get(host);
    if (hit && now() < hit.expires) return hit.value;
    const out = await clientFor(m[2] ?? '').send(
      new GetAuthorizationTokenCommand({ registryIds: [m[1] ?? ''] }),
    );
    const data = out.authorizationData?.[0];
    const decoded = Buffer.from(data?.authorizationToken ?? '', 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return null;
    const value = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    const expires = data?.expiresAt ? data.expiresAt.getTime() - 15 * 60_000 : now() + 3600_000;
    cache.set(host, { value, expires });
    return value;
  };
}
