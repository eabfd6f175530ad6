/**
 * Signature verdicts: what a verifier (adapters, with I/O) found for one digest and one rule,
 * and the pure rules that turn per-entry outcomes into one verdict and a verdict into a
 * violation. The core never fetches a signature; it is handed verdicts.
 */
import type { ImageReference } from '../types.ts';
import type { SignatureRequirement } from './schema.ts';

/**
 * - `verified`: one entry of the requirement verified for exactly this digest;
 * - `unsigned`: no signature for the digest was found (or the digest is unknown);
 * - `invalid`: something was found but does not verify, names another digest, or is by
 *   another identity than the rule allows.
 */
export type SignatureVerdict =
  | {
      status: 'verified';
      digest: string;
      entry: number;
      signer: string;
      /** When the evidence stops holding (a signature's expiry, a certificate's end), epoch ms. */
      validUntil?: number;
    }
  | { status: 'unsigned'; digest: string | null; reason: string }
  | { status: 'invalid'; digest: string; reason: string };

/** What one entry of a requirement concluded (a verifier returns one per entry). */
export type EntryOutcome =
  | { status: 'verified'; signer: string; validUntil?: number }
  | { status: 'absent'; reason: string }
  | { status: 'rejected'; reason: string };

/**
 * Any entry verifying satisfies the requirement; otherwise a rejected signature (found but
 * wrong) makes it `invalid` — a forged or misdirected signature is worth a louder finding
 * than a missing one — and only when every entry found nothing is it `unsigned`.
 */
export function combineOutcomes(
  digest: string,
  outcomes: readonly EntryOutcome[],
): SignatureVerdict {
  const verified = outcomes.findIndex((outcome) => outcome.status === 'verified');
  const hit = outcomes[verified];
  if (hit?.status === 'verified') {
    return {
      status: 'verified',
      digest,
      entry: verified,
      signer: hit.signer,
      ...(hit.validUntil === undefined ? {} : { validUntil: hit.validUntil }),
    };
  }
  const rejected = outcomes.filter((outcome) => outcome.status === 'rejected');
  if (rejected.length > 0) {
    return { status: 'invalid', digest, reason: joinReasons(rejected.map((r) => r.reason)) };
  }
  const reasons = outcomes.map((outcome) => (outcome.status === 'absent' ? outcome.reason : ''));
  return {
    status: 'unsigned',
    digest,
    reason: joinReasons(reasons.filter((reason) => reason !== '')) || 'no signature found',
  };
}

function joinReasons(reasons: readonly string[]): string {
  const unique = [...new Set(reasons)];
  const shown = unique.slice(0, 3).join('; ');
  return unique.length > 3 ? `${shown}; and ${unique.length - 3} more` : shown;
}

/** One signature check a decision needs: the rule, what it requires, the judged image. */
export interface SignatureCheck {
  ruleId: string;
  requirement: SignatureRequirement;
  judged: ImageReference;
}

/**
 * Verdicts handed to a decision, looked up per check. `undefined` means nobody verified
 * it: the decision then fails closed (`unsigned-image`, "not verified").
 */
export type SignatureVerdicts = (check: SignatureCheck) => SignatureVerdict | undefined;

/** The verdict for a reference whose digest is not known: never a pass. */
export function digestUnknown(judged: ImageReference, why: string): SignatureVerdict {
  return {
    status: 'unsigned',
    digest: null,
    reason: `the digest of ${judged.string} is not known (${why}), so no signature can be checked`,
  };
}
