/**
 * Registry credentials in Docker's `config.json` shape (`{"auths": {"host": {"auth": …}}}`):
 * read from the user's docker config by the CLI, and from a Secrets Manager secret by the
 * Lambdas (the same format, so one `docker login` output can be stored as is). Credential
 * helpers (`credsStore`, `credHelpers`) run programs and are not used: such hosts are anonymous.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../core/errors.ts';
import type { CredentialSource, RegistryCredentials } from './client.ts';

/** `https://index.docker.io/v1/` → `docker.io`; `ghcr.io/` → `ghcr.io`. */
export function canonicalAuthKey(key: string): string {
  let host = key.trim().replace(/^[a-z]+:\/\//i, '');
  host = (host.split('/')[0] ?? '').toLowerCase();
  if (host === 'index.docker.io' || host === 'registry-1.docker.io') return 'docker.io';
  return host;
}

/** Credentials by canonical host from a docker-config JSON text; `source` names it in errors. */
export function parseDockerConfig(text: string, source: string): Map<string, RegistryCredentials> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigError(`${source} is not JSON`);
  }
  const auths = (value as { auths?: unknown } | null)?.auths;
  const out = new Map<string, RegistryCredentials>();
  if (auths === undefined) return out;
  if (auths === null || typeof auths !== 'object' || Array.isArray(auths)) {
    throw new ConfigError(`${source}: "auths" must be an object of registry hosts`);
  }
  for (const [key, entry] of Object.entries(auths)) {
    const e = (entry ?? {}) as Record<string, unknown>;
    const host = canonicalAuthKey(key);
    if (typeof e.registrytoken === 'string' && e.registrytoken !== '') {
      out.set(host, { registryToken: e.registrytoken });
    } else if (typeof e.username === 'string' && typeof e.password === 'string') {
      out.set(host, { username: e.username, password: e.password });
    } else if (typeof e.auth === 'string' && e.auth !== '') {
      const decoded = Buffer.from(e.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0)
        throw new ConfigError(`${source}: auths.${key}.auth is not base64 of user:password`);
      out.set(host, { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) });
    }
  }
  return out;
}

export function credentialsFrom(map: ReadonlyMap<string, RegistryCredentials>): CredentialSource {
  return async (host) => map.get(host) ?? null;
}

/** The user's docker config (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`), if any. */
export async function dockerConfigCredentials(env: NodeJS.ProcessEnv): Promise<CredentialSource> {
  const dir = env.DOCKER_CONFIG ?? path.join(env.HOME ?? os.homedir(), '.docker');
  const file = path.join(dir, 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return async () => null;
    throw new ConfigError(`cannot read ${file}: ${(error as Error).message}`);
  }
  return credentialsFrom(parseDockerConfig(text, file));
}

/**
 * `REGWATCH_REGISTRY_ENDPOINTS`: where a registry host is served, for local mode and tests
 * (`registry.local:5000=http://127.0.0.1:5000,other=https://mirror`).
 */
export function parseEndpoints(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (text ?? '').split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    const host = part.slice(0, eq).trim().toLowerCase();
    const url = part.slice(eq + 1).trim();
    if (eq <= 0 || !/^https?:\/\/[^\s/]+/.test(url)) {
      throw new ConfigError(
        `REGWATCH_REGISTRY_ENDPOINTS: "${part.trim()}" is not host=http(s)://address`,
      );
    }
    out[host] = url;
  }
  return out;
}
