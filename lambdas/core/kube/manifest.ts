/**
 * Workloads and their containers from Kubernetes manifests (`regwatch check -f`): one entry
 * per object, `List` objects expanded. Known kinds are read where their pod spec lives; every
 * object (known or not: Argo Rollouts, OpenKruise, Knative, KEDA, any CRD) is also searched at
 * any depth for pod-spec-shaped objects — a `containers`/`initContainers`/`ephemeralContainers`
 * list of objects with `image` — and for the containers CRDs keep outside a pod spec (Argo
 * Workflows' `container:`/`script:`, Tekton's `steps:`, `sidecars:`), so no image kubectl would
 * send goes unjudged. A container whose
 * image cannot be judged (missing, null, empty, a number) is returned with `invalid` set: the
 * caller turns it into an `invalid-reference` violation (fail closed).
 */
import { ManifestError } from '../errors.ts';
import type { ContainerKind, WorkloadRef } from '../types.ts';
import { isPodSpecKind, podSpecOf } from './containers.ts';
import type { ManifestSourceMap, SourcePos } from './manifest-yaml.ts';
import { workloadOf } from './workload.ts';

export type JsonPath = readonly (string | number)[];

export interface ManifestContainer {
  name: string;
  kind: ContainerKind;
  /** The image as written; for an invalid one, a rendering of what was there. */
  image: string;
  /** Why the image cannot be judged, or null. */
  invalid: string | null;
  /** Path from the document root to the `image` value (to the container when it has none). */
  path: JsonPath;
  /** Where the `image` value is in the source, when the document came from text. */
  pos: SourcePos | null;
  /** `kind`: read where the object's kind keeps its pod spec; `shape`: found by shape. */
  judgedBy: 'kind' | 'shape';
}

export interface ManifestEntry {
  kind: string;
  name: string;
  namespace: string | null;
  containers: ManifestContainer[];
  /** The owning workload (a ReplicaSet owned by a Deployment → the Deployment). */
  workload: WorkloadRef;
  /** Why no containers were read: `no pod template` for objects with none. */
  skipped?: 'no pod template' | 'not a Kubernetes object' | undefined;
}

type Loose = Record<string, unknown>;
const isObj = (v: unknown): v is Loose => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const own = (o: Loose, k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);

const LISTS: readonly [ContainerKind, string][] = [
  ['container', 'containers'],
  ['initContainer', 'initContainers'],
  ['ephemeralContainer', 'ephemeralContainers'],
];

/** Bounds the shape search of one object (values built from text are already bounded). */
const MAX_VISITS = 1_000_000;

const NO_SOURCE: ManifestSourceMap = {
  at: () => undefined,
  of: () => undefined,
  shadowed: () => [],
};

/** Entries for one parsed manifest document (an object, a `List`, or null for an empty document). */
export function extractFromManifest(
  doc: unknown,
  source: ManifestSourceMap = NO_SOURCE,
  path: JsonPath = [],
): ManifestEntry[] {
  if (doc === null || doc === undefined) return [];
  if (Array.isArray(doc))
    return doc.flatMap((d, i) => extractFromManifest(d, source, [...path, i]));
  if (!isObj(doc)) {
    return [
      {
        kind: '',
        name: '',
        namespace: null,
        containers: [],
        workload: { kind: '', name: '' },
        skipped: 'not a Kubernetes object',
      },
    ];
  }
  const kind = str(own(doc, 'kind')) ?? '';
  const items = own(doc, 'items');
  // `kind: List` (kubectl get -o yaml) and typed lists such as `DeploymentList`.
  if ((kind === 'List' || kind.endsWith('List')) && Array.isArray(items)) {
    const itemKind = kind === 'List' ? undefined : kind.slice(0, -'List'.length);
    return items.flatMap((item, i) =>
      extractFromManifest(
        isObj(item) && itemKind && !own(item, 'kind') ? { ...item, kind: itemKind } : item,
        source,
        [...path, 'items', i],
      ),
    );
  }
  const md = own(doc, 'metadata');
  const meta: Loose = isObj(md) ? md : {};
  const name = str(own(meta, 'name')) ?? str(own(meta, 'generateName')) ?? '';
  const namespace = str(own(meta, 'namespace')) ?? null;
  const base = { kind, name, namespace, workload: workloadOf(doc, {}, kind || undefined) };

  const containers: ManifestContainer[] = [];
  const known = isPodSpecKind(kind) ? podSpecOf(doc, kind) : null;
  const knownPath = known ? findPath(doc, known) : null;
  if (known && knownPath) readPodSpec(known, knownPath, 'kind', true, source, containers);
  searchByShape(doc, path, known, source, containers);
  if (containers.length === 0) return [{ ...base, containers, skipped: 'no pod template' }];
  // Paths were relative to the object; make them relative to the document.
  for (const c of containers)
    if (path.length > 0 && c.judgedBy === 'kind') c.path = [...path, ...c.path];
  return [{ ...base, containers }];
}

/** The path of `target` inside `root` (pod specs of known kinds sit a few levels down). */
function findPath(root: unknown, target: object, depth = 0): JsonPath | null {
  if (root === target) return [];
  if (depth > 8 || root === null || typeof root !== 'object') return null;
  for (const [k, v] of Object.entries(root)) {
    const sub = findPath(v, target, depth + 1);
    if (sub) return [Array.isArray(root) ? Number(k) : k, ...sub];
  }
  return null;
}

function describe(v: unknown): string {
  if (v === undefined) return 'no image';
  if (v === null) return 'image is null';
  if (typeof v === 'string') return 'image is empty';
  if (Array.isArray(v)) return 'image is a list, not a string';
  return `image is a ${typeof v}, not a string`;
}

function render(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return '';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/**
 * Reads the container lists of one pod spec. `strict` (a known kind's own spec): a list that
 * is not a list, or an item that is not a container, is reported as invalid, never skipped.
 */
function readPodSpec(
  spec: Loose,
  specPath: JsonPath,
  judgedBy: 'kind' | 'shape',
  strict: boolean,
  source: ManifestSourceMap,
  out: ManifestContainer[],
): void {
  for (const [ckind, key] of LISTS) {
    const lists = [...source.shadowed(spec, key).map((x) => x.value), own(spec, key)];
    for (const list of lists) {
      if (list === undefined || list === null) continue;
      if (!Array.isArray(list)) {
        if (!strict) continue;
        out.push({
          name: '',
          kind: ckind,
          image: render(list),
          invalid: `${key} is not a list`,
          path: [...specPath, key],
          pos: source.at(spec, key) ?? null,
          judgedBy,
        });
        continue;
      }
      for (const [i, c] of list.entries()) {
        const cPath = [...specPath, key, i];
        if (!isObj(c)) {
          out.push({
            name: '',
            kind: ckind,
            image: render(c),
            invalid: 'container is not an object',
            path: cPath,
            pos: source.at(list, i) ?? null,
            judgedBy,
          });
          continue;
        }
        readContainer(c, cPath, ckind, judgedBy, source.at(list, i), source, out);
      }
    }
  }
}

/** One container object: every value its `image` key had (duplicates too), each judged. */
function readContainer(
  c: Loose,
  cPath: JsonPath,
  ckind: ContainerKind,
  judgedBy: 'kind' | 'shape',
  fallback: SourcePos | undefined,
  source: ManifestSourceMap,
  out: ManifestContainer[],
  fallbackName = '',
): void {
  const cname = str(own(c, 'name')) ?? fallbackName;
  const images = [
    ...source.shadowed(c, 'image'),
    { value: own(c, 'image'), pos: source.at(c, 'image') },
  ];
  for (const { value: image, pos } of images) {
    const valid = typeof image === 'string' && image.trim() !== '';
    out.push({
      name: cname,
      kind: ckind,
      image: render(image),
      invalid: valid ? null : describe(image),
      path: Object.hasOwn(c, 'image') ? [...cPath, 'image'] : cPath,
      pos: pos ?? fallback ?? null,
      judgedBy,
    });
    if (image === undefined) break;
  }
}

const SINGLE_KEYS = ['container', 'script'] as const;
const STEP_LISTS = ['steps', 'sidecars'] as const;

/**
 * Containers that CRDs keep outside a pod spec: Argo Workflows' `container:` and `script:`
 * templates and `sidecars:`, Tekton's `steps:` and `sidecars:`. Returns the keys it read.
 */
function readLooseContainers(
  o: Loose,
  path: JsonPath,
  source: ManifestSourceMap,
  out: ManifestContainer[],
): Set<string> {
  const read = new Set<string>();
  for (const key of SINGLE_KEYS) {
    const c = own(o, key);
    if (isObj(c) && Object.hasOwn(c, 'image')) {
      readContainer(c, [...path, key], 'container', 'shape', source.at(o, key), source, out, key);
      read.add(key);
    }
  }
  for (const key of STEP_LISTS) {
    const list = own(o, key);
    if (!Array.isArray(list) || !list.some((c) => isObj(c) && Object.hasOwn(c, 'image'))) continue;
    for (const [i, c] of list.entries()) {
      if (isObj(c) && Object.hasOwn(c, 'image'))
        readContainer(c, [...path, key, i], 'container', 'shape', source.at(list, i), source, out);
    }
    read.add(key);
  }
  return read;
}

/** A pod spec by shape: a container list holding at least one object with an `image` key. */
function isPodSpecShaped(o: Loose): boolean {
  for (const [, key] of LISTS) {
    const list = own(o, key);
    if (Array.isArray(list) && list.some((c) => isObj(c) && Object.hasOwn(c, 'image'))) return true;
  }
  return false;
}

/** Depth-first search for pod-spec-shaped objects; `skip` is the spec already read by kind. */
function searchByShape(
  root: unknown,
  rootPath: JsonPath,
  skip: object | null,
  source: ManifestSourceMap,
  out: ManifestContainer[],
): void {
  const stack: { value: unknown; path: JsonPath }[] = [{ value: root, path: rootPath }];
  let visits = 0;
  while (stack.length > 0) {
    const { value, path } = stack.pop() as { value: unknown; path: JsonPath };
    if (value === null || typeof value !== 'object' || value === skip) continue;
    if (++visits > MAX_VISITS) {
      throw new ManifestError(`an object with more than ${MAX_VISITS} values: too large to search`);
    }
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--)
        stack.push({ value: value[i], path: [...path, i] });
      continue;
    }
    const o = value as Loose;
    if (isPodSpecShaped(o)) {
      readPodSpec(o, path, 'shape', false, source, out);
      continue;
    }
    const read = readLooseContainers(o, path, source, out);
    const keys = Object.keys(o).filter((k) => !read.has(k));
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i] as string;
      stack.push({ value: o[k], path: [...path, k] });
      for (const s of source.shadowed(o, k)) stack.push({ value: s.value, path: [...path, k] });
    }
  }
}
