/**
 * The rule index: host → repository-path trie. A lookup walks the reference's host labels
 * and path segments once; it never visits a rule whose pattern has already stopped
 * matching, so its cost depends on the reference's length and on how many patterns
 * (partially) match it, not on how many rules the allowlist holds.
 *
 * - Exact hosts (no wildcard) live in a map keyed by the canonical `host[:port]`.
 * - Wildcard hosts live in a label trie keyed by port, walked from the top-level domain
 *   leftwards; each node has literal children and at most one `*` child (one whole label).
 * - Each host pattern owns a segment trie for repository patterns: literal children (map),
 *   glob children (indexed by literal prefix and suffix), and a `**` child that may consume
 *   any number of whole segments.
 */
import {
  type Glob,
  matchMiddle,
  type RegistryPattern,
  type RepositoryPattern,
} from './patterns.ts';

/* ---------------------------------------------------------------- repository trie */

interface GlobEdge<T> {
  glob: Glob;
  node: RepoNode<T>;
}

/**
 * Glob children of one trie node, bucketed by (literal prefix, literal suffix). A segment
 * only looks up the (prefix length, suffix length) shapes present here, so a thousand
 * `team-<n>-*` globs under one node cost a few map lookups, not a thousand glob matches.
 */
class GlobIndex<T> {
  private readonly buckets = new Map<string, GlobEdge<T>[]>();
  private readonly byText = new Map<string, RepoNode<T>>();
  private readonly shapes: { prefix: number; suffix: number }[] = [];
  private readonly shapeKeys = new Set<string>();

  child(glob: Glob): RepoNode<T> {
    const existing = this.byText.get(glob.source);
    if (existing) return existing;
    const node = new RepoNode<T>(false);
    this.byText.set(glob.source, node);
    const prefix = glob.parts[0] ?? '';
    const suffix = glob.parts[glob.parts.length - 1] ?? '';
    const key = `${prefix}\u0000${suffix}`;
    const bucket = this.buckets.get(key);
    if (bucket) bucket.push({ glob, node });
    else this.buckets.set(key, [{ glob, node }]);
    const shapeKey = `${prefix.length}:${suffix.length}`;
    if (!this.shapeKeys.has(shapeKey)) {
      this.shapeKeys.add(shapeKey);
      this.shapes.push({ prefix: prefix.length, suffix: suffix.length });
    }
    return node;
  }

  get size(): number {
    return this.byText.size;
  }

  collect(segment: string, out: RepoNode<T>[]): void {
    const n = segment.length;
    for (const shape of this.shapes) {
      if (shape.prefix + shape.suffix > n) continue;
      const key = `${segment.slice(0, shape.prefix)}\u0000${segment.slice(n - shape.suffix)}`;
      const bucket = this.buckets.get(key);
      if (!bucket) continue;
      for (const edge of bucket) {
        if (matchMiddle(edge.glob.parts, segment, shape.prefix, n - shape.suffix)) {
          out.push(edge.node);
        }
      }
    }
  }
}

class RepoNode<T> {
  readonly literal = new Map<string, RepoNode<T>>();
  readonly globs = new GlobIndex<T>();
  /** Child reached through a `**` segment. */
  deep: RepoNode<T> | null = null;
  /** Payloads of patterns that end here. */
  readonly values: T[] = [];
  /** True for a node reached through `**`: it may consume any further segment and stay. */
  readonly isDeep: boolean;
  /** The lookup generation that last added this node to a state list. */
  seen = 0;
  constructor(isDeep: boolean) {
    this.isDeep = isDeep;
  }
}

function insertRepository<T>(root: RepoNode<T>, pattern: RepositoryPattern, value: T): void {
  let node = root;
  for (const segment of pattern.segments) {
    if (segment.kind === 'deep') {
      node.deep ??= new RepoNode<T>(true);
      node = node.deep;
    } else if (segment.kind === 'glob') {
      node = node.globs.child(segment.glob);
    } else {
      let next = node.literal.get(segment.text);
      if (!next) {
        next = new RepoNode<T>(false);
        node.literal.set(segment.text, next);
      }
      node = next;
    }
  }
  node.values.push(value);
}

/**
 * Lookup generation: a node records the last lookup that put it in the state list, so
 * duplicates are skipped without allocating a Set per segment. Lookups are synchronous, so
 * one counter per index is enough.
 */
let generation = 0;

/** Adds `node` (once per step) and the `**` children reachable from it without a segment. */
function enter<T>(node: RepoNode<T>, stamp: number, out: RepoNode<T>[]): void {
  let current: RepoNode<T> | null = node;
  while (current && current.seen !== stamp) {
    current.seen = stamp;
    out.push(current);
    current = current.deep;
  }
}

/** Runs the trie as an automaton over the path segments; pushes matching payloads to `out`. */
function lookupRepository<T>(root: RepoNode<T>, segments: readonly string[], out: T[]): void {
  let states: RepoNode<T>[] = [];
  enter(root, ++generation, states);
  const matched: RepoNode<T>[] = [];
  for (const segment of segments) {
    const stamp = ++generation;
    const next: RepoNode<T>[] = [];
    for (const state of states) {
      if (state.isDeep) enter(state, stamp, next);
      const literal = state.literal.get(segment);
      if (literal) enter(literal, stamp, next);
      if (state.globs.size > 0) {
        matched.length = 0;
        state.globs.collect(segment, matched);
        for (const node of matched) enter(node, stamp, next);
      }
    }
    if (next.length === 0) return;
    states = next;
  }
  for (const state of states) for (const value of state.values) out.push(value);
}

/* ---------------------------------------------------------------- host index */

class LabelNode<T> {
  readonly literal = new Map<string, LabelNode<T>>();
  star: LabelNode<T> | null = null;
  /** Repository trie of the host pattern that ends at this node. */
  repos: RepoNode<T> | null = null;
}

/** Splits a canonical `host[:port]` into labels (IPv6 hosts are one label) and port. */
function hostKey(host: string, port: string): string {
  return port === '' ? host : `${host}:${port}`;
}

export class RuleIndex<T> {
  private readonly exact = new Map<string, RepoNode<T>>();
  /** Wildcard host patterns, keyed by port (`''` = none), then labels right to left. */
  private readonly wildcard = new Map<string, LabelNode<T>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(registry: RegistryPattern, repository: RepositoryPattern, value: T): void {
    insertRepository(this.hostRoot(registry), repository, value);
    this.count++;
  }

  private hostRoot(registry: RegistryPattern): RepoNode<T> {
    if (registry.wildcards === 0) {
      const key = hostKey(registry.labels.join('.'), registry.port);
      let root = this.exact.get(key);
      if (!root) {
        root = new RepoNode<T>(false);
        this.exact.set(key, root);
      }
      return root;
    }
    let node = this.wildcard.get(registry.port);
    if (!node) {
      node = new LabelNode<T>();
      this.wildcard.set(registry.port, node);
    }
    for (let i = registry.labels.length - 1; i >= 0; i--) {
      const label = registry.labels[i] ?? '';
      if (label === '*') {
        node.star ??= new LabelNode<T>();
        node = node.star;
      } else {
        let next = node.literal.get(label);
        if (!next) {
          next = new LabelNode<T>();
          node.literal.set(label, next);
        }
        node = next;
      }
    }
    node.repos ??= new RepoNode<T>(false);
    return node.repos;
  }

  /**
   * Every payload whose host pattern matches `host` (canonical, lower case, without port)
   * and `port`, and whose repository pattern matches the path `segments`.
   */
  lookup(host: string, port: string, segments: readonly string[]): T[] {
    const out: T[] = [];
    const exact = this.exact.get(hostKey(host, port));
    if (exact) lookupRepository(exact, segments, out);
    const root = this.wildcard.get(port);
    if (root && !host.startsWith('[')) {
      for (const repos of lookupHostLabels(root, host.split('.'))) {
        lookupRepository(repos, segments, out);
      }
    }
    return out;
  }
}

function lookupHostLabels<T>(root: LabelNode<T>, labels: readonly string[]): RepoNode<T>[] {
  let states: LabelNode<T>[] = [root];
  for (let i = labels.length - 1; i >= 0 && states.length > 0; i--) {
    const label = labels[i] ?? '';
    const next: LabelNode<T>[] = [];
    for (const state of states) {
      const literal = state.literal.get(label);
      if (literal) next.push(literal);
      // '*' is one whole, non-empty label: never empty, never across '.' or ':'.
      if (state.star && label !== '') next.push(state.star);
    }
    states = next;
  }
  const out: RepoNode<T>[] = [];
  for (const state of states) if (state.repos) out.push(state.repos);
  return out;
}
