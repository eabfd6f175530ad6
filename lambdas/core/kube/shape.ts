/**
 * Pod specs found by their shape, for objects whose kind we do not know (Argo Rollouts,
 * OpenKruise, Knative, KEDA ScaledJob, any CRD that embeds a pod template): an object with a
 * `containers`, `initContainers` or `ephemeralContainers` list holding at least one object
 * with an `image` key is a pod spec, wherever it sits. Bounded: the walk visits at most
 * `maxNodes` values and `maxDepth` levels, and says when it stopped early.
 */
import type { ContainerImage } from '../types.ts';
import { containersOfSpec } from './containers.ts';

type Loose = Record<string, unknown>;
const isObj = (v: unknown): v is Loose => v !== null && typeof v === 'object' && !Array.isArray(v);

const LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;

export interface ShapeSearch {
  /** Each pod spec found, with its JSON path (`spec.template.spec`). */
  specs: { path: string; spec: Loose }[];
  /** True when the walk hit a bound: some of the object was not searched. */
  truncated: boolean;
}

export interface ShapeOptions {
  maxNodes?: number | undefined;
  maxDepth?: number | undefined;
  /** Top-level keys not searched (an object's `metadata` and `status` hold no pod spec to judge). */
  skipTopLevel?: readonly string[] | undefined;
}

export const SHAPE_MAX_NODES = 200_000;
export const SHAPE_MAX_DEPTH = 64;

function looksLikePodSpec(o: Loose): boolean {
  return LISTS.some(
    (key) =>
      Object.hasOwn(o, key) &&
      Array.isArray(o[key]) &&
      (o[key] as unknown[]).some((c) => isObj(c) && Object.hasOwn(c, 'image')),
  );
}

export function findPodSpecs(value: unknown, options: ShapeOptions = {}): ShapeSearch {
  const maxNodes = options.maxNodes ?? SHAPE_MAX_NODES;
  const maxDepth = options.maxDepth ?? SHAPE_MAX_DEPTH;
  const skip = new Set(options.skipTopLevel ?? []);
  const specs: ShapeSearch['specs'] = [];
  let nodes = 0;
  let truncated = false;
  // Iterative, so a deeply nested hostile body cannot overflow the stack.
  const stack: { v: unknown; path: string; depth: number }[] = [{ v: value, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop() as { v: unknown; path: string; depth: number };
    if (++nodes > maxNodes || depth > maxDepth) {
      truncated = true;
      break;
    }
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) {
        const item = v[i];
        if (item !== null && typeof item === 'object')
          stack.push({ v: item, path: `${path}[${i}]`, depth: depth + 1 });
      }
      continue;
    }
    if (!isObj(v)) continue;
    if (looksLikePodSpec(v)) {
      specs.push({ path: path || '(root)', spec: v });
      continue; // a pod spec holds no other pod spec
    }
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i] as string;
      if (depth === 0 && skip.has(key)) continue;
      const child = v[key];
      if (child !== null && typeof child === 'object')
        stack.push({ v: child, path: path ? `${path}.${key}` : key, depth: depth + 1 });
    }
  }
  return { specs, truncated };
}

/**
 * The containers of every pod spec found by shape. With more than one pod spec, each
 * container name is prefixed with its spec's path, so two templates' `main` stay apart.
 */
export function containersByShape(
  search: ShapeSearch,
  options: { partial?: boolean } = {},
): ContainerImage[] {
  const several = search.specs.length > 1;
  return search.specs.flatMap(({ path, spec }) =>
    containersOfSpec(spec, undefined, options).map((c) =>
      several ? { ...c, name: `${path}/${c.name}` } : c,
    ),
  );
}
