/**
 * Signature verdicts cached by digest + rule (+ the rule's requirement, so an edited rule never
 * reuses an old verdict), so a busy cluster costs one verification per digest. Bounded (LRU),
 * concurrent misses share one verification, and:
 * - a verified verdict lives long (signatures of a digest rarely change);
 * - unsigned / invalid verdicts live briefly, because the signature is often pushed just after
 *   the image, and a new signature must be noticed without waiting hours;
 * - `invalidate(digest)` drops every verdict of a digest when a new signature push is seen.
 */
import { createHash } from 'node:crypto';
import type { SignatureRequirement } from '../../core/signatures/schema.ts';
import type { SignatureVerdict } from '../../core/signatures/verdict.ts';

export interface VerdictCacheOptions {
  maxEntries?: number;
  verifiedTtlMs?: number;
  negativeTtlMs?: number;
  now?: () => number;
}

export interface VerdictCacheStats {
  hits: number;
  misses: number;
  size: number;
}

const requirementHashes = new WeakMap<object, string>();

/** A stable hash of a requirement's content (memoised per object). */
export function requirementHash(requirement: SignatureRequirement): string {
  let hash = requirementHashes.get(requirement);
  if (hash === undefined) {
    hash = createHash('sha256').update(JSON.stringify(requirement)).digest('hex').slice(0, 24);
    requirementHashes.set(requirement, hash);
  }
  return hash;
}

export class VerdictCache {
  readonly #entries = new Map<string, { verdict: SignatureVerdict; expires: number }>();
  readonly #inflight = new Map<string, Promise<SignatureVerdict>>();
  /** Keys per digest, for invalidation. */
  readonly #byDigest = new Map<string, Set<string>>();
  readonly #max: number;
  readonly #verifiedTtl: number;
  readonly #negativeTtl: number;
  readonly #now: () => number;
  #hits = 0;
  #misses = 0;

  constructor(options: VerdictCacheOptions = {}) {
    this.#max = options.maxEntries ?? 10_000;
    this.#verifiedTtl = options.verifiedTtlMs ?? 6 * 3600_000;
    this.#negativeTtl = options.negativeTtlMs ?? 120_000;
    this.#now = options.now ?? (() => Date.now());
  }

  static key(digest: string, ruleId: string, requirement: SignatureRequirement): string {
    return `${digest}|${ruleId}|${requirementHash(requirement)}`;
  }

  /** The cached verdict, or the one `compute` produces (shared by concurrent callers). */
  async get(
    digest: string,
    ruleId: string,
    requirement: SignatureRequirement,
    compute: () => Promise<SignatureVerdict>,
  ): Promise<SignatureVerdict> {
    const key = VerdictCache.key(digest, ruleId, requirement);
    const hit = this.#entries.get(key);
    if (hit && this.#now() < hit.expires) {
      this.#hits++;
      // Refresh its place in the LRU order.
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit.verdict;
    }
    const running = this.#inflight.get(key);
    if (running) {
      this.#hits++;
      return running;
    }
    this.#misses++;
    const promise = compute()
      .then((verdict) => {
        this.#store(key, digest, verdict);
        return verdict;
      })
      .finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, promise);
    return promise;
  }

  /** The fresh cached verdict, if any, without waiting (the hot path of a busy cluster). */
  peek(
    digest: string,
    ruleId: string,
    requirement: SignatureRequirement,
  ): SignatureVerdict | undefined {
    const hit = this.#entries.get(VerdictCache.key(digest, ruleId, requirement));
    if (!hit || !(this.#now() < hit.expires)) return undefined;
    this.#hits++;
    return hit.verdict;
  }

  /** Drops every verdict of `digest` (a signature for it was just pushed). */
  invalidate(digest: string): number {
    const keys = this.#byDigest.get(digest);
    if (!keys) return 0;
    for (const key of keys) this.#entries.delete(key);
    this.#byDigest.delete(digest);
    return keys.size;
  }

  stats(): VerdictCacheStats {
    return { hits: this.#hits, misses: this.#misses, size: this.#entries.size };
  }

  #store(key: string, digest: string, verdict: SignatureVerdict): void {
    let ttl = verdict.status === 'verified' ? this.#verifiedTtl : this.#negativeTtl;
    // A verified verdict is not reused past the moment its evidence stops holding.
    if (verdict.status === 'verified' && verdict.validUntil !== undefined) {
      ttl = Math.max(0, Math.min(ttl, verdict.validUntil - this.#now()));
    }
    this.#entries.delete(key);
    this.#entries.set(key, { verdict, expires: this.#now() + ttl });
    let keys = this.#byDigest.get(digest);
    if (!keys) {
      keys = new Set();
      this.#byDigest.set(digest, keys);
    }
    keys.add(key);
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
      const d = oldest.slice(0, oldest.indexOf('|'));
      this.#byDigest.get(d)?.delete(oldest);
      if (this.#byDigest.get(d)?.size === 0) this.#byDigest.delete(d);
    }
  }
}

/** ECR push tags that carry signatures for a digest: `sha256-<hex>.sig` (and the fallback index). */
export function signedDigestOfTag(tag: string): string | null {
  const m = /^sha256-([a-f0-9]{64})(?:\.sig)?$/.exec(tag);
  return m ? `sha256:${m[1]}` : null;
}
