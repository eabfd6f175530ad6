/**
 * Kubewarden `trusted-repos` settings → allowlist rules. The policy passes an image only
 * when every filter passes: `registries` (allow or reject, exact hosts), `tags` (reject,
 * no tag = latest) and `images` (allow or reject: an entry without tag or digest means any
 * tag). Rejections become deny rules (deny beats allow, which is the same "and"); the
 * allow lists are intersected here, since regwatch allow rules are an "or".
 *
 * Accepts the bare settings (`{registries, tags, images}`) or a Kubewarden
 * `ClusterAdmissionPolicy` / `AdmissionPolicy` whose `spec.settings` holds them.
 */
import { canonicalHost, parseNormalizedNamed } from '../../reference.ts';
import {
  addConverted,
  type ConvertResult,
  emptyResult,
  objectName,
  type PeerScope,
  record,
  ruleFor,
  stringList,
} from './common.ts';
import { convertExact, type StringConversion, type StringTarget } from './strings.ts';

const SETTINGS_KEYS = new Set(['registries', 'tags', 'images']);

export function convertKubewarden(docs: readonly unknown[]): ConvertResult {
  const out = emptyResult();
  docs.forEach((value, index) => {
    const doc = record(value);
    if (!doc) {
      out.unconvertible.push({
        policy: `document ${index + 1}`,
        field: '(root)',
        message: 'not a mapping',
      });
      return;
    }
    const kind = doc.kind;
    let settings: Record<string, unknown>;
    let name: string;
    let scope: PeerScope = {};
    if (kind === 'ClusterAdmissionPolicy' || kind === 'AdmissionPolicy') {
      const spec = record(doc.spec) ?? {};
      settings = record(spec.settings) ?? {};
      name = `${kind}/${objectName(doc, `document-${index + 1}`)}`;
      const namespace = record(doc.metadata)?.namespace;
      if (kind === 'AdmissionPolicy' && typeof namespace === 'string') {
        scope = { namespaces: [namespace] };
      }
      for (const key of ['namespaceSelector', 'objectSelector', 'matchConditions']) {
        if (spec[key] !== undefined) {
          out.unconvertible.push({
            policy: name,
            field: `spec.${key}`,
            message: 'selectors are not converted; regwatch scopes by cluster and namespace name',
          });
        }
      }
    } else if (typeof kind === 'string') {
      out.unconvertible.push({
        policy: `${kind}/${objectName(doc, String(index + 1))}`,
        field: 'kind',
        message: 'only trusted-repos settings or a (Cluster)AdmissionPolicy holding them convert',
      });
      return;
    } else {
      settings = doc;
      name = `settings-${index + 1}`;
    }
    convertSettings(settings, name, scope, out);
  });
  return out;
}

function convertSettings(
  settings: Record<string, unknown>,
  policy: string,
  scope: PeerScope,
  out: ConvertResult,
): void {
  const id = policy.replace(/^.*\//, '');
  for (const key of Object.keys(settings)) {
    if (!SETTINGS_KEYS.has(key)) {
      out.unconvertible.push({ policy, field: key, message: 'not a trusted-repos setting' });
    }
  }
  const lists = (field: string, allowed: readonly string[]) => {
    const block = record(settings[field]) ?? {};
    const result: Record<string, string[]> = {};
    for (const [key, value] of Object.entries(block)) {
      const list = stringList(value);
      if (!allowed.includes(key) || list === null) {
        out.unconvertible.push({
          policy,
          field: `${field}.${key}`,
          message: `expected ${allowed.join(' or ')}: a list of strings`,
        });
        continue;
      }
      result[key] = list;
    }
    if (result.allow && result.reject) {
      out.unconvertible.push({
        policy,
        field,
        message: 'allow and reject together are refused by the policy itself',
      });
    }
    return result;
  };
  const registries = lists('registries', ['allow', 'reject']);
  const tags = lists('tags', ['reject']);
  const images = lists('images', ['allow', 'reject']);
  const reason = (what: string) => `from Kubewarden trusted-repos ${policy} ${what}`;

  (registries.reject ?? []).forEach((host, i) => {
    const target = hostTarget(host);
    addConverted(out, target, { policy, field: `registries.reject[${i}]` }, (t) =>
      ruleFor(`${id}-registry-reject-${i}`, t, scope, reason(`registries.reject ${host}`), 'deny'),
    );
  });
  if (tags.reject && tags.reject.length > 0) {
    out.rules.push(
      ruleFor(
        `${id}-tags-reject`,
        { registry: '**', repository: '**', tags: tags.reject },
        scope,
        reason(`tags.reject ${tags.reject.join(', ')}`),
        'deny',
      ),
    );
    out.notes.push({
      policy,
      field: 'tags.reject',
      message:
        'Kubewarden rejects the tag even when the image is pinned by digest (nginx:latest@sha256:…); regwatch judges such an image by its digest, as the runtime pulls it',
    });
  }
  (images.reject ?? []).forEach((image, i) => {
    addConverted(out, imageEntry(image), { policy, field: `images.reject[${i}]` }, (t) =>
      ruleFor(`${id}-image-reject-${i}`, t, scope, reason(`images.reject ${image}`), 'deny'),
    );
    if (!/[:@]/.test(image.split('/').pop() ?? '')) {
      out.notes.push({
        policy,
        field: `images.reject[${i}]`,
        message: `Kubewarden also rejects ${image}'s path on other registries (it compares the path alone); regwatch rejects the named image only`,
      });
    }
  });

  const allowedHosts = registries.allow?.map((h) => canonicalHost(h.toLowerCase()));
  if (images.allow) {
    images.allow.forEach((image, i) => {
      const where = { policy, field: `images.allow[${i}]` };
      const conversion = imageEntry(image);
      if (conversion.ok && allowedHosts && !allowedHosts.includes(conversion.target.registry)) {
        out.notes.push({
          ...where,
          message: `registry ${conversion.target.registry} is not in registries.allow, so the peer never admits ${image} either: no rule written`,
        });
        return;
      }
      addConverted(out, conversion, where, (t) =>
        ruleFor(`${id}-image-allow-${i}`, t, scope, reason(`images.allow ${image}`)),
      );
      const parsed = parseNormalizedNamed(image);
      if (
        parsed.ok &&
        parsed.ref.tag === null &&
        parsed.ref.digest === null &&
        canonicalHost(parsed.ref.domain) === 'docker.io'
      ) {
        const rest = parsed.ref.path;
        out.closed.push({
          ...where,
          message: `peer also matched <any registry>/${rest} (it compares the path alone, e.g. evil.io/${rest}); regwatch allows docker.io/${rest} only`,
        });
      }
    });
  } else if (registries.allow) {
    registries.allow.forEach((host, i) => {
      addConverted(out, hostTarget(host), { policy, field: `registries.allow[${i}]` }, (t) =>
        ruleFor(`${id}-registry-allow-${i}`, t, scope, reason(`registries.allow ${host}`)),
      );
    });
  }
  if (images.allow || registries.allow) out.allowLists++;
}

/** A registry as trusted-repos compares it: the exact host of the parsed reference. */
function hostTarget(host: string): StringConversion {
  const parsed = parseNormalizedNamed(`${host}/x`);
  if (!parsed.ok || parsed.ref.domain.toLowerCase() !== host.toLowerCase()) {
    return { ok: false, error: `"${host}" is not a registry host` };
  }
  return {
    ok: true,
    target: { registry: canonicalHost(host.toLowerCase()), repository: '**' },
    peerAlsoMatched: [],
    notes: [],
  };
}

/** An `images` entry: without tag or digest, that repository with any tag. */
function imageEntry(image: string): StringConversion {
  const parsed = parseNormalizedNamed(image);
  if (!parsed.ok)
    return { ok: false, error: `"${image}" is not an image reference: ${parsed.error}` };
  const { ref } = parsed;
  if (ref.tag === null && ref.digest === null) {
    const target: StringTarget = { registry: canonicalHost(ref.domain), repository: ref.path };
    return { ok: true, target, peerAlsoMatched: [], notes: [] };
  }
  return convertExact(image);
}
