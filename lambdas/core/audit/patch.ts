/**
 * What a patch request body says about images. A patch names only what changes, so the
 * observation it makes is partial; and some operations name no image at all although they
 * can set one (`copy` and `move` take it from elsewhere in the stored object, which the
 * event does not carry; a `test` guards on state we cannot see). Those are returned as
 * `unknown`, so the caller reports them instead of dropping them.
 */
import { containersOfSpec, invalidImage, isImageString, podSpecOf } from '../kube/containers.ts';
import { containersByShape, findPodSpecs } from '../kube/shape.ts';
import type { ContainerImage, ContainerKind } from '../types.ts';

type Loose = Record<string, unknown>;
const isObj = (v: unknown): v is Loose => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Container list keys; a Map so a path token such as `__proto__` cannot find anything. */
const LIST_KIND: ReadonlyMap<string, ContainerKind> = new Map([
  ['containers', 'container'],
  ['initContainers', 'initContainer'],
  ['ephemeralContainers', 'ephemeralContainer'],
]);

export interface PatchReading {
  containers: ContainerImage[];
  /** One line per operation whose effect on an image cannot be known from the event. */
  unknown: string[];
}

/** RFC 6901 pointer → tokens; null when the path is not a JSON pointer. */
export function pointerTokens(path: unknown): string[] | null {
  if (typeof path !== 'string') return null;
  if (path === '') return [];
  if (!path.startsWith('/')) return null;
  return path
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function startsWith(tokens: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= tokens.length && prefix.every((t, i) => tokens[i] === t);
}

/** Follows `tokens` down `value`; undefined when a step is missing. Own properties only. */
function descend(value: unknown, tokens: readonly string[]): unknown {
  let v = value;
  for (const t of tokens) {
    if (!isObj(v) || !Object.hasOwn(v, t)) return undefined;
    v = v[t];
  }
  return v;
}

function oneContainer(list: string, kind: ContainerKind, index: string, value: unknown) {
  const fallback = `${list}[${index}]`;
  if (!isObj(value)) {
    return {
      name: fallback,
      kind,
      image: invalidImage('container', value),
      imageID: null,
      digest: null,
    };
  }
  const image = Object.hasOwn(value, 'image') ? value.image : undefined;
  return {
    name: str(value.name) || fallback,
    kind,
    image: isImageString(image) ? image : invalidImage('image', image),
    imageID: null,
    digest: null,
  };
}

type Touch =
  /** The path holds the pod spec (or an ancestor of it): the value is a whole subtree. */
  | { at: 'subtree'; below: string[] }
  /** A container list, one container, or one container's image. */
  | { at: 'list' | 'container' | 'image'; list: string; kind: ContainerKind; index: string }
  | { at: 'elsewhere' };

/**
 * Where a path lands relative to the pod spec at `spec` (null: the kind is unknown, so any
 * container list anywhere counts).
 */
function touch(tokens: readonly string[], spec: readonly string[] | null): Touch {
  if (spec !== null && startsWith(spec, tokens))
    return { at: 'subtree', below: spec.slice(tokens.length) };
  const from = spec === null ? 0 : spec.length;
  if (spec !== null && !startsWith(tokens, spec)) return { at: 'elsewhere' };
  // The last container-list token after the spec prefix decides (for unknown kinds, anywhere).
  for (let i = tokens.length - 1; i >= from; i--) {
    const list = tokens[i] as string;
    const kind = LIST_KIND.get(list);
    if (!kind || (spec !== null && i !== from)) continue;
    const rest = tokens.slice(i + 1);
    if (rest.length === 0) return { at: 'list', list, kind, index: '' };
    if (rest.length === 1) return { at: 'container', list, kind, index: rest[0] as string };
    if (rest.length === 2 && rest[1] === 'image')
      return { at: 'image', list, kind, index: rest[0] as string };
    return { at: 'elsewhere' };
  }
  return { at: 'elsewhere' };
}

/**
 * A JSON patch (RFC 6902) against an object whose pod spec sits at `specPointer` (null for a
 * kind we do not know: then containers are found by shape). `add` / `replace` are read from
 * their `value`, including whole subtrees (`/spec`, `/spec/template`, a container list, one
 * container); `copy`, `move`, `test` and unreadable operations that land on a container are
 * `unknown`.
 */
export function readJsonPatch(ops: readonly unknown[], specPointer: string | null): PatchReading {
  const spec = specPointer === null ? null : (pointerTokens(specPointer) ?? []);
  const out: PatchReading = { containers: [], unknown: [] };
  for (const [i, op] of ops.entries()) {
    const name = isObj(op) ? str(op.op) : undefined;
    const tokens = isObj(op) ? pointerTokens(op.path) : null;
    if (!isObj(op) || name === undefined || tokens === null) {
      out.unknown.push(`operation ${i} is not a JSON patch operation`);
      continue;
    }
    if (name === 'remove') continue; // removing a container runs nothing new
    const where = touch(tokens, spec);
    if (where.at === 'elsewhere') {
      // A value that carries a whole pod spec somewhere unexpected is still judged.
      if (name === 'add' || name === 'replace') {
        const found = findPodSpecs(op.value);
        for (const c of containersByShape(found)) out.containers.push(c);
        if (found.truncated)
          out.unknown.push(`operation ${i} (${name} ${str(op.path)}) is too large to search`);
      }
      continue;
    }
    if (name !== 'add' && name !== 'replace') {
      out.unknown.push(
        `operation ${i} (${name} ${str(op.path)}) sets a container image the event does not show`,
      );
      continue;
    }
    const value = op.value;
    if (where.at === 'subtree') {
      const podSpec = descend(value, where.below);
      if (isObj(podSpec)) for (const c of containersOfSpec(podSpec)) out.containers.push(c);
      else for (const c of containersByShape(findPodSpecs(value))) out.containers.push(c);
    } else if (where.at === 'list') {
      if (Array.isArray(value)) {
        for (const [j, c] of value.entries())
          out.containers.push(oneContainer(where.list, where.kind, String(j), c));
      } else {
        out.containers.push({
          name: where.list,
          kind: where.kind,
          image: invalidImage(`${where.list} (not a list)`, value),
          imageID: null,
          digest: null,
        });
      }
    } else if (where.at === 'container') {
      out.containers.push(oneContainer(where.list, where.kind, where.index, value));
    } else {
      out.containers.push({
        name: `${where.list}[${where.index}]`,
        kind: where.kind,
        image: isImageString(value) ? value : invalidImage('image', value),
        imageID: null,
        digest: null,
      });
    }
  }
  return out;
}

/**
 * A strategic-merge, merge or apply patch body (an object) of `kind` (undefined: unknown kind,
 * found by shape). Entries with `$patch: delete` or without `image` set no image.
 */
export function readObjectPatch(body: Loose, kind: string | undefined): PatchReading {
  if (kind === undefined) {
    const found = findPodSpecs(body, { skipTopLevel: ['metadata', 'status'] });
    return {
      containers: containersByShape(found, { partial: true }),
      unknown: found.truncated ? ['the patch is too large to search'] : [],
    };
  }
  const spec = podSpecOf(body, kind);
  return {
    containers: spec ? containersOfSpec(spec, undefined, { partial: true }) : [],
    unknown: [],
  };
}
