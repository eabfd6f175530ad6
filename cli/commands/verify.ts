/**
 * `regwatch verify IMAGE… [--allowlist FILE] [-o table|json]`: is each image signed as the
 * allowlist requires? Tags are resolved to the digest they name now; signatures are fetched
 * from the registries (anonymous, or docker `config.json` credentials) and verified locally.
 * Exit 0 when every image is allowed with its signatures verified, 1 when any is not or a
 * registry could not be asked (no conclusion is not a pass), 2 for usage errors.
 */
import type { Command } from 'commander';
import { UsageError } from '../../lambdas/core/errors.ts';
import type { SignatureVerdict } from '../../lambdas/core/signatures/verdict.ts';
import { loadAllowlistFile } from '../allowlist-file.ts';
import { EXIT } from '../context.ts';
import { readLines } from '../input.ts';
import type { Register } from '../main.ts';
import type { VerifiedImage } from '../signatures.ts';
import { formatTable } from '../table.ts';

interface VerifyOptions {
  allowlist?: string;
  cluster?: string;
  namespace?: string;
  output: string;
  json?: boolean;
  trustedRoot?: string;
}

const OUTPUTS = ['table', 'wide', 'json'] as const;

function status(item: VerifiedImage): string {
  if (item.error !== null) return 'ERROR';
  if (!item.decision.allowed) return 'VIOLATION';
  return item.decision.signature ? 'VERIFIED' : 'ALLOWED';
}

/** Which kind of `requireSignature` entry verified: cosign, keyless, awsSigner or notation. */
function entryKind(d: VerifiedImage['decision']): string | null {
  const v = d.signature;
  if (v?.status !== 'verified') return null;
  const check = d.signatureChecks?.find((c) => c.ruleId === d.matchedRule);
  const entry = check?.requirement[v.entry];
  return entry
    ? (Object.keys(entry).find((k) => (entry as Record<string, unknown>)[k]) ?? null)
    : null;
}

function signatureJson(d: VerifiedImage['decision']): object | null {
  const v: SignatureVerdict | undefined = d.signature;
  if (!v) return null;
  return v.status === 'verified'
    ? { status: v.status, kind: entryKind(d), signer: v.signer, entry: v.entry }
    : { status: v.status, reason: v.reason };
}

export const registerVerify: Register = (program: Command, io, setExit) => {
  program
    .command('verify')
    .description(
      'verify image signatures as the allowlist requires (cosign, keyless, AWS Signer, Notation)',
    )
    .argument('[image...]', 'image references (stdin lines if none)')
    .option(
      '--allowlist <file>',
      'allowlist YAML (default: $REGWATCH_ALLOWLIST or ./allowlist.yaml)',
    )
    .option('--cluster <name>', 'cluster the images run in (rules scoped to clusters need it)')
    .option('--namespace <name>', 'namespace the images run in')
    .option(
      '--trusted-root <file>',
      'Sigstore trusted_root.json (default: the shipped public-good root, or $REGWATCH_SIGSTORE_TRUSTED_ROOT)',
    )
    .option('-o, --output <format>', `output format: ${OUTPUTS.join(', ')}`, 'table')
    .option('--json', 'same as -o json')
    .action(async (images: string[], opts: VerifyOptions) => {
      const output = opts.json ? 'json' : opts.output;
      if (!(OUTPUTS as readonly string[]).includes(output)) {
        throw new UsageError(`-o ${output}: not a format of verify (${OUTPUTS.join(', ')})`);
      }
      const allowlist = await loadAllowlistFile(opts.allowlist, io);
      const list = images.length > 0 ? images : await readLines(io.stdin);
      if (list.length === 0) throw new UsageError('no images to verify');
      const { cliVerifier, verifyImage } = await import('../signatures.ts');
      const verifier = await cliVerifier(io, { trustedRoot: opts.trustedRoot });
      const now = new Date();
      const scope = { cluster: opts.cluster, namespace: opts.namespace };
      const results: VerifiedImage[] = [];
      for (const image of list)
        results.push(await verifyImage(verifier, allowlist, image, scope, now));

      if (output === 'json') {
        for (const item of results) {
          const d = item.decision;
          const obj = {
            image: d.image,
            status: status(item).toLowerCase(),
            allowed: item.error === null && d.allowed,
            reference: d.reference?.string ?? null,
            digest: item.digest,
            matchedRule: d.matchedRule,
            signature: signatureJson(d),
            violations:
              item.error === null
                ? d.violations.map(({ rule, severity, message }) => ({ rule, severity, message }))
                : [],
            ...(item.error === null ? {} : { error: item.error }),
          };
          io.stdout.write(`${JSON.stringify(obj)}\n`);
        }
      } else {
        const rows = results.map((item) => {
          const d = item.decision;
          const detail =
            item.error ??
            (d.signature?.status === 'verified'
              ? `signed (${entryKind(d) ?? 'signature'}): ${d.signature.signer}`
              : d.allowed
                ? 'no signature required'
                : d.violations.map((v) => `${v.rule} (${v.severity}): ${v.message}`).join('; '));
          return [status(item), d.image, item.digest ?? '-', d.matchedRule ?? '-', detail];
        });
        // `table` fits 100 columns (cut with "…"); `wide` shows every cell whole.
        const width = output === 'wide' ? { maxWidth: Number.POSITIVE_INFINITY } : {};
        io.stdout.write(
          `${formatTable(['RESULT', 'IMAGE', 'DIGEST', 'RULE', 'DETAIL'], rows, width)}\n`,
        );
        const errors = results.filter((r) => r.error !== null).length;
        const bad = results.filter((r) => r.error === null && !r.decision.allowed).length;
        io.stdout.write(
          `\n${results.length} image(s) verified, ${bad} with violations${errors ? `, ${errors} could not be checked` : ''}\n`,
        );
      }
      for (const item of results) {
        if (item.error !== null)
          io.stderr.write(`regwatch: ${item.decision.image}: ${item.error}\n`);
      }
      const ok = results.every((r) => r.error === null && r.decision.allowed);
      setExit(ok ? EXIT.ok : EXIT.violations);
    });
};
