/**
 * OCI distribution vocabulary shared by the registry client and the signature discovery:
 * media types, descriptors and manifests parsed from untrusted JSON, digests, and the
 * `WWW-Authenticate` challenge grammar.
 */
import { createHash } from 'node:crypto';

const DIGEST = /^sha256:[a-f0-9]{64}$/;

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string | undefined;
  annotations?: Record<string, string> | undefined;
}

export interface Manifest {
  /** sha256 of the exact bytes served. */
  digest: string;
  mediaType: string;
  bytes: Buffer;
  /** The parsed JSON object. */
  json: Record<string, unknown>;
}

/** Where an image repository lives: canonical host and repository path. */
export interface RepositoryRef {
  host: string;
  path: string;
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Parses an untrusted descriptor; null when it is not one. */
export function asDescriptor(value: unknown): Descriptor | null {
  if (value === null || typeof value !== 'object') return null;
  const v = value as Record<string, unknown>;
  if (typeof v.mediaType !== 'string' || typeof v.digest !== 'string') return null;
  if (!DIGEST.test(v.digest)) return null;
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) return null;
  const annotations = stringMap(v.annotations);
  return {
    mediaType: v.mediaType,
    digest: v.digest,
    size: v.size,
    artifactType: typeof v.artifactType === 'string' ? v.artifactType : undefined,
    annotations,
  };
}

/** The string-valued entries of an untrusted object (annotations). */
export function stringMap(value: unknown): Record<string, string> | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out;
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** `Bearer realm="…",service="…",scope="…"` → scheme and parameters. */
export function parseChallenge(header: string): Challenge | null {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
  if (!m) return null;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?\s*/g;
  for (const p of (m[2] ?? '').matchAll(re)) {
    const key = (p[1] ?? '').toLowerCase();
    params[key] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  }
  return { scheme: (m[1] ?? '').toLowerCase(), params };
}

/** Loopback hosts are reached over plain http (local registries, tests). */
export function isLoopback(host: string): boolean {
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
  return name === 'localhost' || name === '127.0.0.1' || name === '[::1]';
}
