/**
 * Containers and the images they run, from any Kubernetes object that carries a pod spec:
 * a Pod, a PodTemplate, or a pod-template owner (Deployment, ReplicaSet, StatefulSet,
 * DaemonSet, Job, CronJob, ReplicationController).
 */
import type { ContainerImage, ContainerKind } from '../types.ts';

type Loose = Record<string, unknown>;
const obj = (v: unknown): Loose | null =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Loose) : null;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Kinds whose pod template sits at `spec.template`. */
export const TEMPLATE_OWNER_KINDS = [
  'Deployment',
  'ReplicaSet',
  'StatefulSet',
  'DaemonSet',
  'Job',
  'ReplicationController',
] as const;

/** Every kind `extractContainers` understands. */
export const POD_SPEC_KINDS = ['Pod', 'PodTemplate', 'CronJob', ...TEMPLATE_OWNER_KINDS] as const;
export type PodSpecKind = (typeof POD_SPEC_KINDS)[number];

export function isPodSpecKind(kind: unknown): kind is PodSpecKind {
  return typeof kind === 'string' && (POD_SPEC_KINDS as readonly string[]).includes(kind);
}

/** Where the pod spec of each kind lives. */
export function podSpecOf(object: unknown, kind?: string): Loose | null {
  const o = obj(object);
  if (!o) return null;
  const k = kind ?? str(o.kind);
  const spec = obj(o.spec);
  switch (k) {
    case 'Pod':
      return spec;
    case 'PodTemplate':
      return obj(obj(o.template)?.spec);
    case 'CronJob':
      return obj(obj(obj(obj(obj(spec?.jobTemplate)?.spec)?.template)?.spec));
    case undefined:
      // No kind (a patch body, a hand-written fragment): recognise the shape instead.
      if (spec && SPEC_LISTS.some(([, key]) => Object.hasOwn(spec, key))) return spec;
      if (obj(spec?.jobTemplate)) return podSpecOf(o, 'CronJob');
      if (obj(spec?.template)) return obj(obj(spec?.template)?.spec);
      if (obj(o.template)) return podSpecOf(o, 'PodTemplate');
      return null;
    default:
      if ((TEMPLATE_OWNER_KINDS as readonly string[]).includes(k))
        return obj(obj(spec?.template)?.spec);
      return null;
  }
}

const SPEC_LISTS: readonly [ContainerKind, string, string][] = [
  ['container', 'containers', 'containerStatuses'],
  ['initContainer', 'initContainers', 'initContainerStatuses'],
  ['ephemeralContainer', 'ephemeralContainers', 'ephemeralContainerStatuses'],
];

/**
 * The repository digest from a container status `imageID`.
 *
 * `docker-pullable://nginx@sha256:…`, `docker.io/library/nginx@sha256:…` (containerd, CRI-O)
 * carry the manifest digest the registry serves: that is what ran and what registries and
 * scanners know. A bare `sha256:…` (or `docker://sha256:…`) is the local image *config* id,
 * which no registry indexes, so it is not returned as a digest (the raw imageID is kept).
 */
export function digestFromImageID(imageID: string | null | undefined): string | null {
  if (!imageID) return null;
  const at = imageID.lastIndexOf('@');
  if (at < 0) return null;
  const digest = imageID.slice(at + 1);
  return DIGEST.test(digest) ? digest : null;
}
const DIGEST =
  /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}|[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,})$/;

/**
 * Repository name with Docker Hub's implicit prefix, used only to notice a stale status: after
 * an in-place image change the status still describes the previous image until it restarts.
 * Returns null when the string names no repository (a bare image id).
 */
function repositoryOf(image: string): string | null {
  let s = image.replace(/^[a-z-]+:\/\//, '');
  const at = s.indexOf('@');
  if (at >= 0) s = s.slice(0, at);
  if (/^sha256:/.test(s) || s === '') return null;
  const slash = s.lastIndexOf('/');
  const colon = s.lastIndexOf(':');
  if (colon > slash) s = s.slice(0, colon);
  const first = s.split('/')[0] ?? '';
  const hasDomain =
    s.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasDomain) s = s.includes('/') ? `docker.io/${s}` : `docker.io/library/${s}`;
  return s.replace(/^index\.docker\.io\//, 'docker.io/').toLowerCase();
}

function statusFor(statuses: unknown, name: string, image: string): { imageID: string | null } {
  if (!Array.isArray(statuses)) return { imageID: null };
  for (const s of statuses) {
    const o = obj(s);
    if (!o || o.name !== name) continue;
    const imageID = str(o.imageID) || null;
    const statusImage = str(o.image);
    if (statusImage) {
      const a = repositoryOf(statusImage);
      const b = repositoryOf(image);
      // Both name a repository and they differ: the status is about another image.
      if (a && b && a !== b) return { imageID: null };
    }
    return { imageID };
  }
  return { imageID: null };
}

/**
 * The image string of a container whose `image` (or whose container list) cannot be read: a
 * text that never parses as a reference, so every decider judges it `invalid-reference` (fail
 * closed) and a stored finding re-judged later stays invalid. Bounded in length.
 */
export function invalidImage(what: string, value: unknown): string {
  return `<invalid ${what}: ${describeValue(value)}>`;
}

const MAX_SHOWN = 64;

function describeValue(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (typeof v === 'string') {
    if (v === '') return 'empty string';
    if (v.length <= MAX_SHOWN) return `string ${JSON.stringify(v)}`;
    return `string ${JSON.stringify(`${v.slice(0, MAX_SHOWN)}…`)} (${v.length} characters)`;
  }
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') {
    return `${typeof v} ${String(v).slice(0, MAX_SHOWN)}`;
  }
  if (Array.isArray(v)) return `array of ${v.length}`;
  return typeof v === 'object' ? 'object' : typeof v;
}

/**
 * Longer than any reference can be (a 255-character name, a 128-character tag and a sha512
 * digest fit well within it): such a string is invalid whatever it holds, and is not carried
 * whole into findings (a stored item must stay far below DynamoDB's 400 KB).
 */
export const MAX_IMAGE_LENGTH = 1024;

/** True for an image we can hand to the reference parser: a non-empty string of sane length. */
export function isImageString(v: unknown): v is string {
  return typeof v === 'string' && v !== '' && v.length <= MAX_IMAGE_LENGTH;
}

export interface ContainerReadOptions {
  /**
   * A patch body: entries name only what changes, so an entry without `image` (or marked
   * `$patch: delete`) sets no image and is left out. In a whole object every container must
   * have an image, so a missing one is an invalid image.
   */
  partial?: boolean | undefined;
}

/**
 * Containers of one pod spec, joined with the statuses (which only pods have). Fail closed: a
 * list that is not an array, an entry that is not an object, or an `image` that is not a
 * non-empty string becomes a container whose image is `invalidImage(…)`, never nothing.
 */
export function containersOfSpec(
  spec: unknown,
  status?: unknown,
  options: ContainerReadOptions = {},
): ContainerImage[] {
  const s = obj(spec);
  if (!s) return [];
  const st = obj(status);
  const out: ContainerImage[] = [];
  for (const [kind, specKey, statusKey] of SPEC_LISTS) {
    if (!Object.hasOwn(s, specKey)) continue;
    const list = s[specKey];
    // `initContainers:` with nothing after it is null in YAML: an empty list, as kubectl reads it.
    if (list === null || list === undefined) continue;
    if (!Array.isArray(list)) {
      out.push(invalidContainer(specKey, kind, invalidImage(`${specKey} (not a list)`, list)));
      continue;
    }
    for (const [i, c] of list.entries()) {
      const o = obj(c);
      if (!o) {
        out.push(invalidContainer(`${specKey}[${i}]`, kind, invalidImage('container', c)));
        continue;
      }
      if (options.partial && (o.$patch === 'delete' || !Object.hasOwn(o, 'image'))) continue;
      const name = str(o.name) || `${specKey}[${i}]`;
      const raw = Object.hasOwn(o, 'image') ? o.image : undefined;
      if (!isImageString(raw)) {
        out.push(invalidContainer(name, kind, invalidImage('image', raw)));
        continue;
      }
      const { imageID } = statusFor(st?.[statusKey], name, raw);
      out.push({ name, kind, image: raw, imageID, digest: digestFromImageID(imageID) });
    }
  }
  return out;
}

function invalidContainer(name: string, kind: ContainerKind, image: string): ContainerImage {
  return { name, kind, image, imageID: null, digest: null };
}

/**
 * Every container (regular, init, ephemeral) of a Pod, PodTemplate or pod-template owner.
 * For pods, each container is joined by name with its status to learn the digest that ran.
 * `kind` overrides `object.kind` (for bodies that do not say what they are).
 */
export function extractContainers(
  object: unknown,
  kind?: string,
  options: ContainerReadOptions = {},
): ContainerImage[] {
  const o = obj(object);
  if (!o) return [];
  const k = kind ?? str(o.kind);
  const spec = podSpecOf(o, k);
  const isPod = k === 'Pod' || (k === undefined && spec === obj(o.spec));
  return containersOfSpec(spec, isPod ? o.status : undefined, options);
}
