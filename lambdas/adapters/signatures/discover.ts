/**
 * Finds every signature artifact stored for one digest, with one set of registry calls shared
 * by all the entries of a rule: cosign's `sha256-<hex>.sig` tag, and the referrers of the
 * digest (cosign signatures pushed in OCI 1.1 mode, Sigstore bundles, Notation signatures).
 * Bounded: an attacker who can push referrers cannot make regwatch fetch without end.
 */
import { RegistryError, RegistryUnreachableError } from '../../core/errors.ts';
import {
  asDescriptor,
  type Descriptor,
  type RegistryClient,
  type RepositoryRef,
  stringMap,
} from '../oci/client.ts';

export const ARTIFACT_TYPES = {
  cosignSimpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
  cosignSignature: 'application/vnd.dev.cosign.artifact.sig.v1+json',
  sigstoreBundle: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  notation: 'application/vnd.cncf.notary.signature',
} as const;

export const COSIGN_ANNOTATIONS = {
  signature: 'dev.cosignproject.cosign/signature',
  certificate: 'dev.sigstore.cosign/certificate',
  chain: 'dev.sigstore.cosign/chain',
  bundle: 'dev.sigstore.cosign/bundle',
} as const;

/** At most this many referrers and signature layers are looked at per digest. */
export const MAX_ARTIFACTS = 32;
/** Signature payloads, bundles and envelopes are small; anything larger is refused. */
export const MAX_SIGNATURE_BLOB = 256 * 1024;

/** One cosign simple-signing layer: the payload descriptor and its annotations. */
export interface SimpleSignature {
  /** Where it was found, for messages: `tag sha256-….sig` or `referrer sha256:…`. */
  where: string;
  payload: Descriptor;
  signature: string;
  certificate: string | null;
  chain: string | null;
  rekorBundle: string | null;
}

/** A layer of a referrer manifest (a Sigstore bundle or a Notation envelope). */
export interface ArtifactLayer {
  where: string;
  layer: Descriptor;
  manifestAnnotations: Record<string, string>;
}

export interface DiscoveredSignatures {
  repo: RepositoryRef;
  digest: string;
  simple: SimpleSignature[];
  bundles: ArtifactLayer[];
  notation: ArtifactLayer[];
  /** Referrers that could not be read (named, skipped: one bad artifact hides no other). */
  skipped: string[];
  /** Reads a layer's bytes once (digest-checked, bounded). */
  read(layer: Descriptor): Promise<Buffer>;
}

/** Looks up everything signed for `digest` in `repo`. */
export async function discoverSignatures(
  client: RegistryClient,
  repo: RepositoryRef,
  digest: string,
): Promise<DiscoveredSignatures> {
  const cache = new Map<string, Promise<Buffer>>();
  const found: DiscoveredSignatures = {
    repo,
    digest,
    simple: [],
    bundles: [],
    notation: [],
    skipped: [],
    read(layer) {
      if (layer.size > MAX_SIGNATURE_BLOB) {
        return Promise.reject(
          new RegistryError(
            repo.host,
            `signature layer ${layer.digest} is ${layer.size} bytes (limit ${MAX_SIGNATURE_BLOB})`,
          ),
        );
      }
      let hit = cache.get(layer.digest);
      if (!hit) {
        hit = client.blob(repo, layer.digest, MAX_SIGNATURE_BLOB);
        cache.set(layer.digest, hit);
      }
      return hit;
    },
  };

  const sigTag = `${digest.replace(':', '-')}.sig`;
  const tagged = await client.manifest(repo, sigTag);
  if (tagged) addSimpleLayers(found, tagged.json, `tag ${sigTag}`);

  const referrers = (await client.referrers(repo, digest)).slice(0, MAX_ARTIFACTS);
  for (const referrer of referrers) {
    const type = referrer.artifactType ?? '';
    if (
      type !== ARTIFACT_TYPES.cosignSignature &&
      type !== ARTIFACT_TYPES.sigstoreBundle &&
      type !== ARTIFACT_TYPES.notation
    ) {
      continue;
    }
    let manifest: Awaited<ReturnType<RegistryClient['manifest']>>;
    try {
      manifest = await client.manifest(repo, referrer.digest);
    } catch (error) {
      if (!(error instanceof RegistryError) || error instanceof RegistryUnreachableError)
        throw error;
      found.skipped.push(`referrer ${referrer.digest}: ${error.message}`);
      continue;
    }
    if (!manifest) continue;
    // The index may claim anything; the manifest itself must name this digest as its subject.
    const subject = asDescriptor(manifest.json.subject);
    if (subject?.digest !== digest) continue;
    const where = `referrer ${referrer.digest}`;
    if (type === ARTIFACT_TYPES.cosignSignature) {
      addSimpleLayers(found, manifest.json, where);
      continue;
    }
    const target = type === ARTIFACT_TYPES.sigstoreBundle ? found.bundles : found.notation;
    const annotations = stringMap(manifest.json.annotations) ?? {};
    for (const layer of layersOf(manifest.json)) {
      if (target.length >= MAX_ARTIFACTS) break;
      target.push({ where, layer, manifestAnnotations: annotations });
    }
  }
  return found;
}

function layersOf(manifest: Record<string, unknown>): Descriptor[] {
  const layers = Array.isArray(manifest.layers) ? manifest.layers.slice(0, MAX_ARTIFACTS) : [];
  return layers.map(asDescriptor).filter((d): d is Descriptor => d !== null);
}

function addSimpleLayers(
  found: DiscoveredSignatures,
  manifest: Record<string, unknown>,
  where: string,
): void {
  for (const layer of layersOf(manifest)) {
    if (found.simple.length >= MAX_ARTIFACTS) return;
    if (layer.mediaType !== ARTIFACT_TYPES.cosignSimpleSigning) continue;
    const a = layer.annotations ?? {};
    const signature = a[COSIGN_ANNOTATIONS.signature];
    if (signature === undefined) continue;
    found.simple.push({
      where,
      payload: layer,
      signature,
      certificate: a[COSIGN_ANNOTATIONS.certificate] ?? null,
      chain: a[COSIGN_ANNOTATIONS.chain] ?? null,
      rekorBundle: a[COSIGN_ANNOTATIONS.bundle] ?? null,
    });
  }
}

/** Whether anything at all was found: distinguishes `unsigned` from `invalid`. */
export function foundAny(found: DiscoveredSignatures): boolean {
  return found.simple.length + found.bundles.length + found.notation.length > 0;
}

/**
 * A layer's bytes, or a message when the registry refuses or garbles that one blob (missing,
 * oversized, wrong digest): the signature it carries then fails alone. An unreachable
 * registry still throws: nothing can be concluded.
 */
export async function readLayer(
  found: DiscoveredSignatures,
  layer: Descriptor,
): Promise<{ ok: true; bytes: Buffer } | { ok: false; error: string }> {
  try {
    return { ok: true, bytes: await found.read(layer) };
  } catch (error) {
    if (!(error instanceof RegistryError) || error instanceof RegistryUnreachableError) throw error;
    return { ok: false, error: error.message };
  }
}

/** An `absent` reason that also names the referrers that could not be read. */
export function absentReason(found: DiscoveredSignatures, reason: string): string {
  return found.skipped.length === 0
    ? reason
    : `${reason}; unreadable: ${found.skipped.slice(0, 3).join('; ')}`;
}
