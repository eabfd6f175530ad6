/**
 * A per-user cache of validated allowlist documents, so that `check` on an unchanged allowlist
 * starts without loading the YAML library, zod or the schema (most of its start-up).
 *
 * An entry holds the allowlist file's whole text and the document validation returned for it.
 * It is used only when all of these hold, else the file is validated in full (and the entry
 * rewritten): the entry's key equals this process's (the validator build id, which changes
 * with any change to the validating code or its libraries, the Node and OpenSSL versions);
 * its source text is byte for byte the file's text now; its checksum matches; it is a regular
 * file owned by this user with no group or other permissions, in a directory owned by this
 * user that no one else can write. Trust model: docs/design-decisions.md ("allowlist cache").
 * Nothing here throws on a bad entry or an unwritable directory: the cache is only ever a
 * shortcut to the result full validation gives.
 */
import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { AllowlistDocument } from '../lambdas/core/allowlist/schema.ts';
import { UsageError } from '../lambdas/core/errors.ts';

/** Layout of an entry; bump on any change to it. */
const FORMAT = 1;
/** Larger allowlists are validated every time (an entry holds the text twice over). */
export const MAX_CACHED_SOURCE = 1024 * 1024;
const MAX_ENTRY_BYTES = 8 * MAX_CACHED_SOURCE;
/** Entries kept; the oldest go when a write passes this. */
export const MAX_ENTRIES = 32;

export interface AllowlistCache {
  readonly dir: string;
  /** Everything an entry must have been made under: see `cacheKey`. */
  readonly key: string;
}

/**
 * The cache this process may use, or null: when the build has no validator id (the sources
 * run in a checkout, where the validating code can change under an entry), when
 * `REGWATCH_CACHE=off`, in CI unless `REGWATCH_CACHE=on` (fresh runners gain nothing, and a
 * cache restored from another job is not this user's own), on platforms without user ids, or
 * when there is no absolute `$XDG_CACHE_HOME` or `$HOME`.
 */
export function allowlistCache(
  env: NodeJS.ProcessEnv,
  validatorId: string | null,
): AllowlistCache | null {
  const setting = env.REGWATCH_CACHE;
  if (setting !== undefined && setting !== '' && setting !== 'on' && setting !== 'off') {
    throw new UsageError(`REGWATCH_CACHE must be "on" or "off", got ${JSON.stringify(setting)}`);
  }
  if (validatorId === null || setting === 'off') return null;
  const ci = env.CI !== undefined && env.CI !== '' && env.CI !== 'false' && env.CI !== '0';
  if (ci && setting !== 'on') return null;
  if (typeof process.getuid !== 'function') return null;
  const base =
    env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME)
      ? env.XDG_CACHE_HOME
      : env.HOME && path.isAbsolute(env.HOME)
        ? path.join(env.HOME, '.cache')
        : null;
  if (base === null) return null;
  return { dir: path.join(base, 'regwatch'), key: cacheKey(validatorId) };
}

/** The validator build id with what else decides validation: Node (and its OpenSSL parses keys). */
export function cacheKey(validatorId: string): string {
  return `${FORMAT}:${validatorId}:node-${process.versions.node}:openssl-${process.versions.openssl}`;
}

/** The document validation gave for exactly `text`, or null (no entry, or one not to trust). */
export function readCachedAllowlist(cache: AllowlistCache, text: string): AllowlistDocument | null {
  if (text.length > MAX_CACHED_SOURCE || !trustedDir(cache.dir)) return null;
  const raw = readOwnFile(path.join(cache.dir, entryName(cache.key, text)));
  if (raw === null) return null;
  try {
    const entry = JSON.parse(raw) as Record<string, unknown>;
    if (entry === null || typeof entry !== 'object') return null;
    const { key, source, document, sum } = entry;
    if (key !== cache.key || source !== text || typeof document !== 'string') return null;
    if (sum !== checksum(cache.key, text, document)) return null;
    const parsed = JSON.parse(document) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
    return parsed as AllowlistDocument;
  } catch {
    return null;
  }
}

/** Stores what validation returned for `text`; written atomically, silently skipped on error. */
export function writeCachedAllowlist(
  cache: AllowlistCache,
  text: string,
  document: AllowlistDocument,
): void {
  if (text.length > MAX_CACHED_SOURCE) return;
  const name = entryName(cache.key, text);
  let tmp: string | null = null;
  try {
    mkdirSync(cache.dir, { recursive: true, mode: 0o700 });
    if (!trustedDir(cache.dir)) return;
    const json = JSON.stringify(document);
    const body = JSON.stringify({
      key: cache.key,
      sum: checksum(cache.key, text, json),
      source: text,
      document: json,
    });
    // A name no other writer uses (`wx` refuses an existing file); renamed into place whole.
    tmp = path.join(
      cache.dir,
      `.${name}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`,
    );
    writeFileSync(tmp, body, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, path.join(cache.dir, name));
    tmp = null;
    prune(cache.dir);
  } catch {
    if (tmp !== null) {
      try {
        unlinkSync(tmp);
      } catch {
        // Already gone.
      }
    }
  }
}

/** `allowlist-<hash>.json`: a lookup key only; a hit still compares the whole text. */
function entryName(key: string, text: string): string {
  return `allowlist-${hash64(`${key}\0${text}`)}.json`;
}

function checksum(key: string, text: string, document: string): string {
  return hash64(`${key}\0${text}\0${document}`);
}

/**
 * Two 32-bit FNV-1a hashes (different offsets) over UTF-16 code units. Not collision
 * resistant, and not needed to be: it names files and catches damage; equality of the full
 * text decides a hit. (node:crypto would cost more start-up than the cache saves.)
 */
function hash64(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/** The cache directory is ours and only we can write to it. */
function trustedDir(dir: string): boolean {
  try {
    const st = statSync(dir);
    return st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/** The file's text when it is a regular file (not a link) of ours that only we can access. */
function readOwnFile(file: string): string | null {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== process.getuid?.() || (st.mode & 0o077) !== 0) return null;
    if (st.size > MAX_ENTRY_BYTES) return null;
    const buffer = Buffer.allocUnsafe(st.size);
    let read = 0;
    while (read < st.size) {
      const n = readSync(fd, buffer, read, st.size - read, read);
      if (n === 0) return null;
      read += n;
    }
    return buffer.toString('utf8');
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** Keeps the newest `MAX_ENTRIES` entries (by modification time); drops stale temp files. */
function prune(dir: string): void {
  const names = readdirSync(dir);
  const hourAgo = Date.now() - 3600_000;
  for (const n of names) {
    // Left behind by a writer that died between write and rename.
    if (!n.startsWith('.allowlist-')) continue;
    try {
      if (statSync(path.join(dir, n)).mtimeMs < hourAgo) unlinkSync(path.join(dir, n));
    } catch {
      // Renamed or removed meanwhile.
    }
  }
  const entries = names.filter((n) => n.startsWith('allowlist-') && n.endsWith('.json'));
  if (entries.length <= MAX_ENTRIES) return;
  const dated = entries
    .map((n) => {
      try {
        return { n, t: statSync(path.join(dir, n)).mtimeMs };
      } catch {
        return { n, t: 0 };
      }
    })
    .sort((x, y) => y.t - x.t);
  for (const { n } of dated.slice(MAX_ENTRIES)) {
    try {
      unlinkSync(path.join(dir, n));
    } catch {
      // Another process pruned it first.
    }
  }
}
