/**
 * Peer policies compare image strings: Gatekeeper's `startswith`, Kyverno's `*` wildcards
 * and CEL's `startsWith`, an exact `==`. This turns such a string into the regwatch target
 * the author meant — whole hosts, whole path segments, a tag — and says what the raw
 * string also let through that the regwatch rule will not (the bypasses the migration
 * closes). Pure: no I/O.
 */
import { canonicalHost, parseNormalizedNamed } from '../../reference.ts';
import { parseRegistryPattern, parseRepositoryPattern } from '../patterns.ts';

/** What a converted string matches in regwatch terms. */
export interface StringTarget {
  registry: string;
  repository: string;
  tags?: string[];
  digests?: string[];
}

export type StringConversion =
  | {
      ok: true;
      target: StringTarget;
      /** Images the peer's string comparison admitted that the regwatch rule does not. */
      peerAlsoMatched: string[];
      /** Other differences worth a line in the report. */
      notes: string[];
    }
  | { ok: false; error: string };

const fail = (error: string): StringConversion => ({ ok: false, error });

/** The first component is a registry when it has `.` or `:` or is localhost (the grammar's rule). */
function looksLikeHost(component: string): boolean {
  return /[.:]/.test(component) || component === 'localhost';
}

/** A host followed by nothing: `docker.io`, `gcr.io`, `localhost:5000` (not `ubuntu:20.04`). */
function isBareHost(text: string): boolean {
  if (text === 'localhost') return true;
  const colon = text.lastIndexOf(':');
  if (colon >= 0) {
    const port = text.slice(colon + 1);
    const host = text.slice(0, colon);
    return /^\d+$/.test(port) && (host.includes('.') || host === 'localhost');
  }
  return text.includes('.');
}

/**
 * A raw string prefix, as Gatekeeper's `K8sAllowedRepos` `repos` (and a trailing-`*` glob
 * of `K8sAllowedReposv2` / Kyverno / CEL `startsWith`) compare it: `image.startsWith(p)`.
 */
export function convertPrefix(prefix: string): StringConversion {
  if (prefix.includes('*') || prefix.includes('?')) {
    return fail(`"${prefix}": a wildcard inside a prefix has no exact regwatch meaning`);
  }
  if (/\s/.test(prefix)) return fail(`"${prefix}" holds white space`);
  if (prefix === '') {
    return {
      ok: true,
      target: { registry: '**', repository: '**' },
      peerAlsoMatched: [],
      notes: ['an empty prefix matches every image'],
    };
  }
  if (prefix.includes('@')) return fail(`"${prefix}": a digest prefix is not a policy`);
  const slash = prefix.indexOf('/');
  if (slash < 0) {
    if (isBareHost(prefix)) return hostOnly(prefix);
    return nameOnly(prefix);
  }
  const first = prefix.slice(0, slash);
  const rest = prefix.slice(slash + 1);
  if (looksLikeHost(first)) return underHost(first, rest, prefix);
  const hub = underHost('docker.io', prefix, prefix);
  if (hub.ok) {
    // `myregistry/` reads like a registry but is a Docker Hub account: say so.
    hub.notes.push(
      `"${first}" has no '.' or ':' and is not localhost, so it is the Docker Hub account docker.io/${first}/…, not a registry host`,
    );
  }
  return hub;
}

/** `gcr.io` without `/`: the host, and every look-alike that starts with it. */
function hostOnly(host: string): StringConversion {
  const registry = parseRegistryPattern(host);
  if (!registry.ok) return fail(registry.error);
  const canonical = canonicalHost(registry.value.source);
  return {
    ok: true,
    target: { registry: canonical, repository: '**' },
    peerAlsoMatched: [
      `${host}.evil.com/… (any host that starts with "${host}")`,
      `${host}-evil.io/…`,
      ...(registry.value.port === '' ? [`${host}:5000/… (another port: another service)`] : []),
    ],
    notes: [],
  };
}

/** `nginx` or `ubuntu:20.14` without `/`: a Docker Hub name (and tag) as a prefix. */
function nameOnly(prefix: string): StringConversion {
  const parsed = parseNormalizedNamed(prefix);
  if (!parsed.ok) return fail(`"${prefix}" is neither a host nor an image name: ${parsed.error}`);
  const { ref } = parsed;
  const name = prefix.split(':')[0] ?? prefix;
  const peerAlsoMatched = [
    `${name}-evil, ${name}x (other Docker Hub images whose name starts with "${name}")`,
    `${name}/… (the Docker Hub user or organisation "${name}")`,
    `${name}.evil.com/… and ${name}:5000/… (other registries)`,
  ];
  if (ref.tag !== null) {
    return {
      ok: true,
      target: { registry: 'docker.io', repository: ref.path, tags: [ref.tag] },
      peerAlsoMatched: [
        `${prefix}-evil, ${prefix}9 (every tag that starts with "${ref.tag}")`,
        ...peerAlsoMatched.slice(2),
      ],
      notes: [],
    };
  }
  return {
    ok: true,
    target: { registry: 'docker.io', repository: ref.path },
    peerAlsoMatched,
    notes: [],
  };
}

/** `host/path…` (or a Docker Hub `user/path…`): whole segments below the host. */
function underHost(host: string, path: string, prefix: string): StringConversion {
  const registry = parseRegistryPattern(host);
  if (!registry.ok) return fail(registry.error);
  const canonical = canonicalHost(registry.value.source);
  if (path === '') {
    return {
      ok: true,
      target: { registry: canonical, repository: '**' },
      peerAlsoMatched: [],
      notes: [],
    };
  }
  const boundary = path.endsWith('/');
  const trimmed = boundary ? path.slice(0, -1) : path;
  // A tag in the last segment (`gcr.io/x/app:v1`): that repository, that tag.
  const colon = trimmed.lastIndexOf(':');
  const tag = colon > trimmed.lastIndexOf('/') ? trimmed.slice(colon + 1) : null;
  const repo = tag === null ? trimmed : trimmed.slice(0, colon);
  if (/[A-Z]/.test(repo)) {
    return fail(
      `"${prefix}": repository paths are lower case, so this prefix matches no valid image`,
    );
  }
  if (tag !== null) {
    if (boundary) return fail(`"${prefix}": a '/' after a tag matches no valid image`);
    const check = parseRepositoryPattern(repo);
    if (!check.ok) return fail(check.error);
    return {
      ok: true,
      target: { registry: canonical, repository: repo, ...(tag === '' ? {} : { tags: [tag] }) },
      peerAlsoMatched:
        tag === ''
          ? []
          : [
              `${host}/${repo}:${tag}-evil, ${host}/${repo}:${tag}9 (every tag that starts with "${tag}")`,
            ],
      notes: [],
    };
  }
  const repository = `${repo}/**`;
  const check = parseRepositoryPattern(repository);
  if (!check.ok) return fail(check.error);
  const shown = host === 'docker.io' && !prefix.startsWith('docker.io') ? '' : `${host}/`;
  return {
    ok: true,
    target: { registry: canonical, repository },
    peerAlsoMatched: boundary
      ? []
      : [`${shown}${repo}-evil/… and ${shown}${repo}x… (names that start with "${repo}")`],
    notes: [],
  };
}

/**
 * An exact image string (`K8sAllowedReposv2` entries without `*`, Kubewarden-style
 * `image == x`): that repository with that tag, or without a tag the untagged name, which
 * regwatch reads as `latest`, like the runtime.
 */
export function convertExact(image: string): StringConversion {
  const parsed = parseNormalizedNamed(image);
  if (!parsed.ok) return fail(`"${image}" is not an image reference: ${parsed.error}`);
  const { ref } = parsed;
  const registry = canonicalHost(ref.domain);
  if (ref.digest !== null) {
    return {
      ok: true,
      target: { registry, repository: ref.path, digests: [ref.digest] },
      peerAlsoMatched: [],
      notes: ref.tag === null ? [] : [`judged by its digest; the tag "${ref.tag}" is only a label`],
    };
  }
  return {
    ok: true,
    target: { registry, repository: ref.path, tags: [ref.tag ?? 'latest'] },
    peerAlsoMatched: [],
    notes:
      ref.tag === null
        ? [
            `"${image}" has no tag: the peer allowed only that exact string, regwatch reads it as tag latest`,
          ]
        : [],
  };
}

/**
 * A wildcard string as Kyverno patterns and `K8sAllowedReposv2` write it. Only the shapes
 * with an exact meaning convert: no wildcard (exact), or one trailing `*` (a prefix).
 */
export function convertWildcard(glob: string): StringConversion {
  const first = glob.search(/[*?]/);
  if (first < 0) return convertExact(glob);
  if (first === glob.length - 1 && glob.endsWith('*')) {
    const prefix = glob.slice(0, -1);
    const converted = convertPrefix(prefix);
    if (converted.ok && prefix.endsWith('/') === false && prefix.includes('/')) {
      // `gcr.io/team-*`: the author wrote a glob inside a segment, so keep it one.
      const slash = prefix.lastIndexOf('/');
      const partial = prefix.slice(slash + 1);
      if (partial !== '' && !partial.includes(':')) {
        const target = converted.target;
        const parent = target.repository.split('/').slice(0, -2).join('/');
        const repository = `${parent === '' ? '' : `${parent}/`}${partial}*/**`;
        if (parseRepositoryPattern(repository).ok) {
          return {
            ok: true,
            target: { registry: target.registry, repository },
            peerAlsoMatched: [],
            notes: [],
          };
        }
      }
    }
    return converted;
  }
  return fail(`"${glob}": wildcards other than one trailing '*' have no exact regwatch meaning`);
}
