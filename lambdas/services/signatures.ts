/**
 * Signature verification as the decisions need it: for each signature check a decision
 * asks for, the verdict for the digest (from the cache, or verified on a miss), then the
 * decision again with those verdicts. The core decides; this only gathers evidence.
 * Registry failures propagate as `RegistryError`s: the caller chooses between an error
 * (the CLI) and a fail-closed finding (`failClosedOnError`, the ingest paths).
 */

import type { RegistryClient, RepositoryRef } from '../adapters/oci/client.ts';
import {
  type AwsSignerPort,
  awsSignerOutcome,
  ecrImageOf,
} from '../adapters/signatures/aws-signer.ts';
import { VerdictCache } from '../adapters/signatures/cache.ts';
import { verifyCosignKeys } from '../adapters/signatures/cosign.ts';
import {
  absentReason,
  type DiscoveredSignatures,
  discoverSignatures,
} from '../adapters/signatures/discover.ts';
import type { SigstoreTrust } from '../adapters/signatures/keyless.ts';
import type { NotationPolicy } from '../adapters/signatures/notation.ts';
import { RegistryError } from '../core/errors.ts';
import type { Decider } from '../core/evaluate.ts';
import { canonicalHost } from '../core/reference.ts';
import type { TargetDescriptor } from '../core/signatures/notation.ts';
import { parseVerificationKey, type SignatureEntry } from '../core/signatures/schema.ts';
import {
  combineOutcomes,
  digestUnknown,
  type EntryOutcome,
  type SignatureCheck,
  type SignatureVerdict,
} from '../core/signatures/verdict.ts';
import type { Decision, Scope } from '../core/types.ts';

export interface SignatureVerifierDeps {
  registry: RegistryClient;
  /** The Sigstore trust root for keyless entries; loaded on first use. */
  trust?: () => Promise<SigstoreTrust>;
  /** ECR managed signing, for `awsSigner` entries on ECR images. */
  awsSigner?: AwsSignerPort | undefined;
  cache?: VerdictCache;
  /** The verdict when a registry cannot be asked: unset = throw (the CLI's choice). */
  failClosedOnError?: boolean;
  /** Certificate validity and signature expiry are judged at this time (default: now). */
  clock?: () => Date;
}

export class SignatureVerifier {
  readonly cache: VerdictCache;
  readonly #deps: SignatureVerifierDeps;
  #verifications = 0;
  #trust: Promise<SigstoreTrust> | null = null;

  constructor(deps: SignatureVerifierDeps) {
    this.#deps = deps;
    this.cache = deps.cache ?? new VerdictCache();
  }

  /** The registry client verifications use (the CLI resolves tags with it too). */
  get registry(): RegistryClient {
    return this.#deps.registry;
  }

  /** Verifications actually run (cache misses that reached a registry or ECR). */
  get verifications(): number {
    return this.#verifications;
  }

  /** The verdict of one check for `digest` (null: not known, which never passes). */
  async verdict(
    check: SignatureCheck,
    digest: string | null,
    now: Date = (this.#deps.clock ?? (() => new Date()))(),
  ): Promise<SignatureVerdict> {
    const known = digest ?? check.judged.digest;
    if (known === null) return digestUnknown(check.judged, 'not pinned and no imageID');
    if (!/^sha256:[a-f0-9]{64}$/.test(known)) {
      return digestUnknown(check.judged, `${known} is not a sha256 digest`);
    }
    try {
      return await this.cache.get(known, check.ruleId, check.requirement, () =>
        this.#compute(check, known, now),
      );
    } catch (error) {
      if (!this.#deps.failClosedOnError) throw error;
      // Not cached: the next sighting asks again.
      return {
        status: 'unsigned',
        digest: known,
        reason: `the signature could not be checked: ${(error as Error).message}`,
      };
    }
  }

  /**
   * Decides `image`, verifying the signatures its candidate rules require. `digest` is what
   * ran (the pod's imageID digest); without it the reference's own digest is used.
   */
  async decide(
    decider: Decider,
    image: string,
    scope: Scope,
    now: Date,
    digest: string | null = null,
  ): Promise<Decision> {
    const first = decider.decide(image, scope, now);
    if (!first.signatureChecks) return first;
    const verdicts = new Map<string, SignatureVerdict>();
    for (const check of first.signatureChecks) {
      const known = digest ?? check.judged.digest;
      const cached =
        known === null ? undefined : this.cache.peek(known, check.ruleId, check.requirement);
      verdicts.set(check.ruleId, cached ?? (await this.verdict(check, digest, now)));
    }
    return decider.decide(image, scope, now, (check) => verdicts.get(check.ruleId));
  }

  async #compute(check: SignatureCheck, digest: string, now: Date): Promise<SignatureVerdict> {
    this.#verifications++;
    const repo: RepositoryRef = {
      host: canonicalHost(check.judged.domain),
      path: check.judged.path,
    };
    let discovered: Promise<DiscoveredSignatures> | null = null;
    const discover = () => {
      discovered ??= discoverSignatures(this.#deps.registry, repo, digest);
      return discovered;
    };
    // What a Notation payload must name: the manifest's digest, media type and size.
    let target: Promise<TargetDescriptor> | null = null;
    const manifest = () => {
      target ??= this.#deps.registry.manifest(repo, digest).then((m) => {
        if (!m)
          throw new RegistryError(
            repo.host,
            `${repo.host}/${repo.path}@${digest} is not in the registry`,
          );
        return { digest, mediaType: m.mediaType, size: m.bytes.byteLength };
      });
      return target;
    };
    const outcomes: EntryOutcome[] = [];
    let failure: unknown = null;
    for (const entry of check.requirement) {
      try {
        const outcome = await this.#entry(entry, repo, digest, discover, manifest, now);
        outcomes.push(outcome);
        if (outcome.status === 'verified') return combineOutcomes(digest, outcomes);
      } catch (error) {
        failure ??= error;
      }
    }
    // An entry that could not be checked might have verified: no conclusion, fail closed.
    if (failure !== null) throw failure;
    return combineOutcomes(digest, outcomes);
  }

  async #entry(
    entry: SignatureEntry,
    repo: RepositoryRef,
    digest: string,
    discover: () => Promise<DiscoveredSignatures>,
    manifest: () => Promise<TargetDescriptor>,
    now: Date,
  ): Promise<EntryOutcome> {
    const notation = async (policy: () => Promise<NotationPolicy>) => {
      const found = await discover();
      if (found.notation.length === 0) {
        // Nothing to verify: the verifier (and its X.509 parser) is not even loaded.
        return {
          status: 'absent',
          reason: absentReason(found, `no Notation signature for ${digest}`),
        } as const;
      }
      const { verifyNotationSignatures } = await import('../adapters/signatures/notation.ts');
      return verifyNotationSignatures(found, manifest, await policy(), now);
    };
    if (entry.cosign) {
      const keys = entry.cosign.publicKeys.flatMap((pem) => {
        const parsed = parseVerificationKey(pem);
        return parsed.ok ? [parsed.key] : [];
      });
      return verifyCosignKeys(await discover(), keys);
    }
    if (entry.keyless) {
      if (!this.#deps.trust) {
        return { status: 'absent', reason: 'keyless verification is not configured here' };
      }
      const { verifyKeyless } = await import('../adapters/signatures/keyless.ts');
      // Parsed once; a root that fails to load is tried again next time.
      this.#trust ??= this.#deps.trust().catch((error: unknown) => {
        this.#trust = null;
        throw error;
      });
      return verifyKeyless(await discover(), entry.keyless, await this.#trust);
    }
    if (entry.notation) {
      const { notation: spec } = entry;
      return notation(async () =>
        (await import('../adapters/signatures/notation.ts')).notationPolicy(spec),
      );
    }
    if (entry.awsSigner) {
      const { awsSigner: spec } = entry;
      const viaNotation = () =>
        notation(async () =>
          (await import('../adapters/signatures/notation.ts')).awsSignerNotationPolicy(spec),
        );
      const ecr = ecrImageOf(repo.host, repo.path);
      if (!ecr) return viaNotation();
      if (!this.#deps.awsSigner) {
        return { status: 'absent', reason: 'ECR signing status is not available here' };
      }
      // ECR images: managed signing's status is the evidence. Where ECR reports none at all
      // (no managed signing for the repository), a `notation sign` signature made with the AWS
      // Signer plugin may be stored as a referrer: that is verified instead.
      const statuses = await this.#deps.awsSigner.signingStatuses(ecr, digest);
      if (statuses.length > 0) return awsSignerOutcome(spec, statuses, digest);
      const stored = await viaNotation();
      return stored.status === 'absent'
        ? {
            status: 'absent',
            reason: `ECR reports no signing status for ${digest}; ${stored.reason}`,
          }
        : stored;
    }
    return { status: 'absent', reason: 'unknown signature entry' };
  }
}
