/**
 * The rule index: host → repository-path trie. A lookup walks the reference's host labels
 * and path segments once; it never visits a rule whose pattern has already stopped
 * matching, so its cost depends on the reference's length and on how many patterns
 * (partially) match it, not on how many rules the allowlist holds.
 *
 * - Exact hosts (no wildcard) live in a map keyed by the canonical `host[:port]`.
 * - Wildcard hosts live in a label trie keyed by port, walked from the top-level domain
 *   leftwards; each node has literal children and at most one `*` child (one whole label),
 *   and the repository trie of a `**.` pattern ending there (one or more further labels).
 * - `registry: "**"` patterns share one repository trie that every host walks.
 * - Each host pattern owns a segment trie for repository patterns: literal children (map),
 *   glob children (indexed by literal prefix and suffix), and a `**` child that may consume
 *   any number of whole segments.
 */
import {
  type Glob,
  matchMiddle,
  type RegistryPattern,
  type RepositoryPattern,
  splitHostPort,
} from './patterns.ts';

/* ---------------------------------------------------------------- repository trie */

/** A glob child, with its literal ends copied out so a match test loads one object. */
interface GlobEdge<T> {
  readonly glob: Glob;
  readonly prefix: string;
  readonly suffix: string;
  /** True when the glob has inner literal parts (more than one `*`). */
  readonly inner: boolean;
  readonly node: RepoNode<T>;
}

/**
 * Glob children of one trie node. Up to `LINEAR_GLOBS` of them are simply tried in turn;
 * beyond that they are bucketed by (literal prefix, literal suffix) and a segment only looks
 * up the (prefix length, suffix length) shapes present, so a thousand `team-<n>-*` globs
 * under one node cost a few map lookups, not a thousand glob matches.
 */
const LINEAR_GLOBS = 8;

class GlobIndex<T> {
  private readonly edges: GlobEdge<T>[] = [];
  private readonly byText = new Map<string, RepoNode<T>>();
  /** Built once there are more than `LINEAR_GLOBS` edges. */
  private buckets: Map<string, GlobEdge<T>[]> | null = null;
  private readonly shapes: { prefix: number; suffix: number }[] = [];
  private readonly shapeKeys = new Set<string>();

  child(glob: Glob): RepoNode<T> {
    const existing = this.byText.get(glob.source);
    if (existing) return existing;
    const node = new RepoNode<T>(false);
    const { parts } = glob;
    const edge: GlobEdge<T> = {
      glob,
      prefix: parts[0] ?? '',
      suffix: parts[parts.length - 1] ?? '',
      inner: parts.length > 2,
      node,
    };
    this.byText.set(glob.source, node);
    this.edges.push(edge);
    if (this.buckets) this.bucket(edge);
    else if (this.edges.length > LINEAR_GLOBS) {
      this.buckets = new Map();
      for (const e of this.edges) this.bucket(e);
    }
    return node;
  }

  private bucket(edge: GlobEdge<T>): void {
    const { parts } = edge.glob;
    const prefix = parts[0] ?? '';
    const suffix = parts[parts.length - 1] ?? '';
    const key = `${prefix}\u0000${suffix}`;
    const bucket = this.buckets?.get(key);
    if (bucket) bucket.push(edge);
    else this.buckets?.set(key, [edge]);
    const shapeKey = `${prefix.length}:${suffix.length}`;
    if (!this.shapeKeys.has(shapeKey)) {
      this.shapeKeys.add(shapeKey);
      this.shapes.push({ prefix: prefix.length, suffix: suffix.length });
    }
  }

  /** Enters (see `enter`) every child whose glob matches `segment`. */
  enterMatching(segment: string, stamp: number, out: RepoNode<T>[], walk: Walk<T>): void {
    const buckets = this.buckets;
    if (buckets === null) {
      // Same test as `matchGlob`; the child only exists for globs, so there is a `*`.
      const n = segment.length;
      for (const edge of this.edges) {
        const to = n - edge.suffix.length;
        if (
          edge.prefix.length <= to &&
          segment.startsWith(edge.prefix) &&
          segment.endsWith(edge.suffix) &&
          (!edge.inner || matchMiddle(edge.glob.parts, segment, edge.prefix.length, to))
        ) {
          enter(edge.node, stamp, out, walk);
        }
      }
      return;
    }
    const n = segment.length;
    for (const shape of this.shapes) {
      if (shape.prefix + shape.suffix > n) continue;
      const key = `${segment.slice(0, shape.prefix)}\u0000${segment.slice(n - shape.suffix)}`;
      const bucket = buckets.get(key);
      if (!bucket) continue;
      for (const edge of bucket) {
        if (matchMiddle(edge.glob.parts, segment, shape.prefix, n - shape.suffix)) {
          enter(edge.node, stamp, out, walk);
        }
      }
    }
  }
}

/**
 * A trie node. Children and payloads are allocated only when present: most nodes have one
 * kind of child or none, and a lookup then tests a field for null instead of loading an
 * empty map, which keeps a 10,000-rule index small and its walks short.
 */
class RepoNode<T> {
  literal: Map<string, RepoNode<T>> | null = null;
  globs: GlobIndex<T> | null = null;
  /** Child reached through a bare `*` segment, which matches any segment: no glob to run. */
  star: RepoNode<T> | null = null;
  /** Child reached through a `**` segment that is followed by more segments. */
  deep: RepoNode<T> | null = null;
  /** The first payload of the patterns that end here (inline, like `rest`). */
  value: T | null = null;
  /** Further payloads of patterns that end here. */
  valueMore: T[] | null = null;
  /**
   * Payloads of patterns that end here with a trailing `**` (`org/**`): they match as soon
   * as the walk reaches this node, whatever follows, so they are taken on entry and the
   * walk need not carry a `**` state through the remaining segments.
   */
  rest: T | null = null;
  /** Further trailing-`**` payloads beyond `rest` (rare: the same pattern twice). */
  restMore: T[] | null = null;
  /** True for a node reached through `**`: it may consume any further segment and stay. */
  readonly isDeep: boolean;
  /** The lookup generation that last added this node to a state list. */
  seen = 0;
  /** The first generation of the lookup that last took `rest` (a node may be re-entered). */
  taken = 0;
  constructor(isDeep: boolean) {
    this.isDeep = isDeep;
  }

  /** False when no further segment can lead anywhere from here. */
  get continues(): boolean {
    return (
      this.isDeep ||
      this.value !== null ||
      this.literal !== null ||
      this.star !== null ||
      this.globs !== null ||
      this.deep !== null
    );
  }
}

function insertRepository<T>(root: RepoNode<T>, pattern: RepositoryPattern, value: T): void {
  let node = root;
  const { segments } = pattern;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (segment === undefined) continue;
    if (segment.kind === 'deep') {
      if (i === segments.length - 1) {
        if (node.rest === null) node.rest = value;
        else {
          node.restMore ??= [];
          node.restMore.push(value);
        }
        return;
      }
      node.deep ??= new RepoNode<T>(true);
      node = node.deep;
    } else if (segment.kind === 'glob' && segment.glob.source === '*') {
      node.star ??= new RepoNode<T>(false);
      node = node.star;
    } else if (segment.kind === 'glob') {
      node.globs ??= new GlobIndex<T>();
      node = node.globs.child(segment.glob);
    } else {
      node.literal ??= new Map();
      let next = node.literal.get(segment.text);
      if (!next) {
        next = new RepoNode<T>(false);
        node.literal.set(segment.text, next);
      }
      node = next;
    }
  }
  if (node.value === null) node.value = value;
  else {
    node.valueMore ??= [];
    node.valueMore.push(value);
  }
}

/**
 * Lookup generation: a node records the last lookup that put it in the state list, so
 * duplicates are skipped without allocating a Set per segment. Lookups are synchronous, so
 * one counter per index is enough.
 */
let generation = 0;

/** One walk of a repository trie: where matches go and how re-entries are recognised. */
interface Walk<T> {
  /** The walk's first generation: `taken === first` means `rest` was already collected. */
  readonly first: number;
  readonly out: T[];
}

/**
 * Adds `node` (once per step) and the `**` children reachable from it without a segment
 * to `states`, and takes the trailing-`**` payloads of each (once per walk).
 */
function enter<T>(node: RepoNode<T>, stamp: number, states: RepoNode<T>[], walk: Walk<T>): void {
  let current: RepoNode<T> | null = node;
  while (current && current.seen !== stamp) {
    current.seen = stamp;
    if (current.rest !== null && current.taken !== walk.first) {
      current.taken = walk.first;
      // Kept inline: at 10,000 rules each node is likely cold, and an array is two more loads.
      walk.out.push(current.rest);
      if (current.restMore !== null) for (const value of current.restMore) walk.out.push(value);
    }
    if (current.continues) states.push(current);
    current = current.deep;
  }
}

/**
 * Runs the trie as an automaton over the path segments of `path` (split on the fly, so no
 * array of segments is built); pushes matching payloads to `out`. Two state lists are
 * swapped between segments instead of allocating one per segment.
 */
function lookupRepository<T>(root: RepoNode<T>, path: string, out: T[]): void {
  let states: RepoNode<T>[] = [];
  let next: RepoNode<T>[] = [];
  const first = ++generation;
  const walk: Walk<T> = { first, out };
  enter(root, first, states, walk);
  let start = 0;
  while (states.length > 0 && start <= path.length) {
    let end = path.indexOf('/', start);
    if (end < 0) end = path.length;
    const segment = path.slice(start, end);
    start = end + 1;
    const stamp = ++generation;
    next.length = 0;
    for (const state of states) {
      if (state.isDeep) enter(state, stamp, next, walk);
      const literal = state.literal?.get(segment);
      if (literal) enter(literal, stamp, next, walk);
      if (state.star !== null) enter(state.star, stamp, next, walk);
      if (state.globs !== null) state.globs.enterMatching(segment, stamp, next, walk);
    }
    const swap = states;
    states = next;
    next = swap;
  }
  if (start <= path.length) return; // stopped early: no pattern that ends here matched
  for (const state of states) {
    if (state.value === null) continue;
    out.push(state.value);
    if (state.valueMore !== null) for (const value of state.valueMore) out.push(value);
  }
}

/* ---------------------------------------------------------------- host index */

class LabelNode<T> {
  readonly literal = new Map<string, LabelNode<T>>();
  star: LabelNode<T> | null = null;
  /** Repository trie of the host pattern that ends at this node. */
  repos: RepoNode<T> | null = null;
  /** Repository trie of the `**.`-pattern whose literal labels end here. */
  deepRepos: RepoNode<T> | null = null;
}

/** Splits a canonical `host[:port]` into labels (IPv6 hosts are one label) and port. */
function hostKey(host: string, port: string): string {
  return port === '' ? host : `${host}:${port}`;
}

/** Distinct registry hosts remembered by `RuleIndex.roots` before the memo starts over. */
const HOST_MEMO_LIMIT = 10_000;

export class RuleIndex<T> {
  private readonly exact = new Map<string, RepoNode<T>>();
  /** Wildcard host patterns, keyed by port (`''` = none), then labels right to left. */
  private readonly wildcard = new Map<string, LabelNode<T>>();
  /** Repository trie of `registry: "**"` rules: every host walks it. */
  private anyHost: RepoNode<T> | null = null;
  /** Memo of `roots`; emptied by `add`, which changes the answers. */
  private readonly hosts = new Map<string, readonly RepoNode<T>[]>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(registry: RegistryPattern, repository: RepositoryPattern, value: T): void {
    insertRepository(this.hostRoot(registry), repository, value);
    this.hosts.clear();
    this.count++;
  }

  private hostRoot(registry: RegistryPattern): RepoNode<T> {
    if (registry.anyHost) {
      this.anyHost ??= new RepoNode<T>(false);
      return this.anyHost;
    }
    if (registry.wildcards === 0 && !registry.deep) {
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
    if (registry.deep) {
      node.deepRepos ??= new RepoNode<T>(false);
      return node.deepRepos;
    }
    node.repos ??= new RepoNode<T>(false);
    return node.repos;
  }

  /**
   * Every payload whose host pattern matches `domain` (canonical `host[:port]`, lower case)
   * and whose repository pattern matches `path` (segments separated by `/`).
   */
  lookup(domain: string, path: string): T[] {
    const out: T[] = [];
    for (const root of this.roots(domain)) lookupRepository(root, path, out);
    return out;
  }

  /**
   * The repository tries of every host pattern that matches `domain`, remembered per
   * domain: a cluster pulls from few registries, so one map lookup usually replaces the
   * exact-host lookup and the label walk. Bounded: cleared when full.
   */
  private roots(domain: string): readonly RepoNode<T>[] {
    const known = this.hosts.get(domain);
    if (known !== undefined) return known;
    const roots: RepoNode<T>[] = [];
    const exact = this.exact.get(domain);
    if (exact) roots.push(exact);
    const { host, port } = splitHostPort(domain);
    const root = this.wildcard.get(port);
    if (root && !host.startsWith('[')) for (const r of lookupHostLabels(root, host)) roots.push(r);
    if (this.anyHost) roots.push(this.anyHost);
    if (this.hosts.size >= HOST_MEMO_LIMIT) this.hosts.clear();
    this.hosts.set(domain, roots);
    return roots;
  }
}

/** Walks the label trie from the top-level domain leftwards; labels are cut on the fly. */
function lookupHostLabels<T>(root: LabelNode<T>, host: string): RepoNode<T>[] {
  let states: LabelNode<T>[] = [root];
  let next: LabelNode<T>[] = [];
  const out: RepoNode<T>[] = [];
  let end = host.length;
  while (end >= 0 && states.length > 0) {
    // lastIndexOf clamps a negative start to 0, so the first label is cut by hand.
    const dot = end === 0 ? -1 : host.lastIndexOf('.', end - 1);
    const label = host.slice(dot + 1, end);
    end = dot;
    next.length = 0;
    for (const state of states) {
      // `**.` takes every remaining label at once, so there must be at least one left.
      if (state.deepRepos && label !== '') out.push(state.deepRepos);
      const literal = state.literal.get(label);
      if (literal) next.push(literal);
      // '*' is one whole, non-empty label: never empty, never across '.' or ':'.
      if (state.star && label !== '') next.push(state.star);
    }
    const swap = states;
    states = next;
    next = swap;
  }
  for (const state of states) if (state.repos) out.push(state.repos);
  return out;
}
