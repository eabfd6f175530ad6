/**
 * Signatures on the registry path. A push to a repository that a `requireSignature` rule
 * covers is judged at once for everything but the signature (which is usually pushed a moment
 * after the image), and a signature check is scheduled on the scan-check queue after a grace
 * period; the check verifies and records a registry-side finding when the signature is
 * missing or invalid. A push of a signature itself (`sha256-<hex>.sig`) drops the cached
 * verdicts of the digest it signs.
 */
import {
  pushCandidates,
  pushedReference,
  type RegistrySubject,
} from '../core/registry/identity.ts';
import type { ScanCheckMessage } from '../core/registry/schedule.ts';
import { scanCheckRepository } from '../core/registry/schedule.ts';
import type { SignatureVerdicts } from '../core/signatures/verdict.ts';
import type { UpsertResult } from '../core/types.ts';
import type { AllowlistPort, FindingsPort, SignaturesPort } from './ports.ts';

export const SIGNATURE_CHECK_PURPOSE = 'signature' as const;
export const DEFAULT_SIGNATURE_GRACE_SECONDS = 300;

/** At push time the signature is not judged yet: its check runs after the grace period. */
export function deferredSignatures(digest: string): SignatureVerdicts {
  return () => ({
    status: 'verified',
    digest,
    entry: -1,
    signer: 'checked after the grace period',
  });
}

/** The digest a pushed tag carries signatures for (`sha256-<hex>.sig`), or null. */
export function signatureTagDigest(tag: string | null): string | null {
  const m = tag === null ? null : /^sha256-([a-f0-9]{64})\.sig$/.exec(tag);
  return m ? `sha256:${m[1]}` : null;
}

export interface SignatureCheckDeps {
  allowlist?: AllowlistPort | undefined;
  findings: FindingsPort;
  signatures?: SignaturesPort | undefined;
  clock: () => Date;
  ttlDays?: number | undefined;
}

/** Runs a scheduled signature check and records what fails. */
export async function handleSignatureCheck(
  message: ScanCheckMessage,
  deps: SignatureCheckDeps,
): Promise<{ action: string; findings: UpsertResult[]; detail?: string | undefined }> {
  if (!deps.allowlist || !deps.signatures) {
    throw new Error('a signature check needs the allowlist and signature ports');
  }
  const now = deps.clock();
  const repo = scanCheckRepository(message);
  const digest = message.imageDigest;
  const reference = pushedReference(repo.repository, message.imageTag, digest);
  const decider = await deps.allowlist.current();
  const decision = await deps.signatures.decide(decider, reference, {}, now, digest);
  const subject: RegistrySubject = { ...repo, digest, tag: message.imageTag };
  const candidates = pushCandidates(subject, decision, {
    eventId: `signature-check:${repo.repository}@${digest}#${message.pushedAt}`,
    observedAt: now.toISOString(),
  });
  const findings: UpsertResult[] = [];
  for (const candidate of candidates) {
    findings.push(
      await deps.findings.upsert(candidate, {
        now,
        ...(deps.ttlDays ? { ttlDays: deps.ttlDays } : {}),
      }),
    );
  }
  return {
    action: decision.allowed ? 'signature-verified' : 'signature-violation',
    findings,
    detail: decision.violations.map((v) => v.rule).join(',') || undefined,
  };
}
