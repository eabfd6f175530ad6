/**
 * Signature verification for the CLI (`verify`, `check --verify-signatures`): registries are
 * asked anonymously or with the user's docker `config.json` credentials; a tag is resolved to
 * the digest it names now; the Sigstore trusted root is the shipped one unless
 * `--trusted-root` / `$REGWATCH_SIGSTORE_TRUSTED_ROOT` replaces it. Heavy modules load here,
 * only when a command asks for signatures.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { AwsSignerPort } from '../lambdas/adapters/signatures/aws-signer.ts';
import { ConfigError } from '../lambdas/core/errors.ts';
import type { Decider } from '../lambdas/core/evaluate.ts';
import { canonicalHost } from '../lambdas/core/reference.ts';
import type { Decision, Scope } from '../lambdas/core/types.ts';
import type { SignatureVerifier } from '../lambdas/services/signatures.ts';
import type { CliIo } from './context.ts';

export interface CliVerifierOptions {
  trustedRoot?: string | undefined;
  /** Fail closed (a finding) instead of an error when a registry cannot be asked. */
  failClosed?: boolean;
}

export interface VerifiedImage {
  decision: Decision;
  /** The digest judged: pinned, or what the tag resolved to; null when unknown. */
  digest: string | null;
  /** Set when a registry could not be asked: no conclusion. */
  error: string | null;
}

export async function cliVerifier(
  io: CliIo,
  options: CliVerifierOptions,
): Promise<SignatureVerifier> {
  const [{ RegistryClient }, credentials, { SignatureVerifier }] = await Promise.all([
    import('../lambdas/adapters/oci/client.ts'),
    import('../lambdas/adapters/oci/credentials.ts'),
    import('../lambdas/services/signatures.ts'),
  ]);
  // Read on first use: a command that never asks a registry never reads the docker config.
  let docker: ReturnType<typeof credentials.dockerConfigCredentials> | null = null;
  const registry = new RegistryClient({
    credentials: async (host) => {
      docker ??= credentials.dockerConfigCredentials(io.env);
      return (await docker)(host);
    },
    endpoints: credentials.parseEndpoints(io.env.REGWATCH_REGISTRY_ENDPOINTS),
  });
  const rootFile = options.trustedRoot ?? io.env.REGWATCH_SIGSTORE_TRUSTED_ROOT;
  const trust = async () => {
    const { SigstoreTrust } = await import('../lambdas/adapters/signatures/keyless.ts');
    if (!rootFile) return new SigstoreTrust();
    const file = path.resolve(io.cwd, rootFile);
    let json: unknown;
    try {
      json = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      throw new ConfigError(
        `cannot read Sigstore trusted root ${file}: ${(error as Error).message}`,
      );
    }
    return new SigstoreTrust(json, file);
  };
  let trustOnce: Promise<Awaited<ReturnType<typeof trust>>> | null = null;
  const awsSigner = {
    async signingStatuses(image: Parameters<AwsSignerPort['signingStatuses']>[0], digest: string) {
      const [{ ECRClient }, { EcrSigningStatus }] = await Promise.all([
        import('@aws-sdk/client-ecr'),
        import('../lambdas/adapters/signatures/aws-signer.ts'),
      ]);
      return new EcrSigningStatus((region) => new ECRClient({ region })).signingStatuses(
        image,
        digest,
      );
    },
  };
  return new SignatureVerifier({
    registry,
    trust: () => {
      trustOnce ??= trust();
      return trustOnce;
    },
    awsSigner,
    failClosedOnError: options.failClosed === true,
  });
}

/**
 * Decides `image` with its signatures verified. A tag is resolved through the registry the
 * reference names (what a pull would get now); a registry error is returned, not thrown, so
 * one unreachable registry does not hide the other images' results.
 */
export async function verifyImage(
  verifier: SignatureVerifier,
  allowlist: Decider,
  image: string,
  scope: Scope,
  now: Date,
): Promise<VerifiedImage> {
  const first = allowlist.decide(image, scope, now);
  if (!first.signatureChecks || first.reference === null) {
    return { decision: first, digest: first.reference?.digest ?? null, error: null };
  }
  const ref = first.reference;
  try {
    // No tag and no digest pulls `latest`.
    const digest =
      ref.digest ??
      (await verifier.registry.resolve(
        { host: canonicalHost(ref.domain), path: ref.path },
        ref.tag ?? 'latest',
      ));
    const decision = await verifier.decide(allowlist, image, scope, now, digest);
    return { decision, digest, error: null };
  } catch (error) {
    return { decision: first, digest: ref.digest, error: (error as Error).message };
  }
}

/**
 * `check --verify-signatures`: every decision that needs a signature is decided again with
 * its signatures verified; a registry that cannot be asked leaves the fail-closed
 * `unsigned-image` violation and is named on stderr.
 */
export async function decideWithSignatures(
  io: CliIo,
  allowlist: Decider,
  items: readonly { image: string; scope: Scope }[],
  now: Date,
): Promise<Decision[]> {
  const verifier = await cliVerifier(io, { failClosed: true });
  const out: Decision[] = [];
  for (const item of items) {
    const result = await verifyImage(verifier, allowlist, item.image, item.scope, now);
    if (result.error !== null) io.stderr.write(`regwatch: ${item.image}: ${result.error}\n`);
    out.push(result.decision);
  }
  return out;
}
