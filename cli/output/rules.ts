/**
 * What each violation kind means and how to fix it: the help text of SARIF rules and JUnit
 * failures. Each kind has a section in docs/rules.md, linked from every SARIF rule.
 */
import { VIOLATION_RULES } from '../../lambdas/core/types.ts';

/** Where the project's documentation is published (SARIF `helpUri`, `informationUri`). */
export const REGWATCH_HOME = 'https://github.com/regwatch/regwatch';
export const RULES_DOC = `${REGWATCH_HOME}/blob/main/docs/rules.md`;

export interface RuleHelp {
  /** PascalCase name (SARIF `reportingDescriptor.name`). */
  name: string;
  short: string;
  help: string;
}

const HELP: Record<string, RuleHelp> = {
  'untrusted-source': {
    name: 'UntrustedSource',
    short: 'The image comes from a registry or repository the allowlist does not trust.',
    help: 'No allowlist rule matches the registry host and repository path of this image. Pull it through a trusted registry (for example your ECR pull-through cache), or add a reviewed allowlist rule with a reason and an owner.',
  },
  'invalid-reference': {
    name: 'InvalidReference',
    short: 'The image reference cannot be parsed, so its source cannot be judged.',
    help: 'The `image:` value is missing, empty, not a string, or not a valid reference by the distribution/reference grammar (for example upper case in the path). An image that cannot be judged is never a pass: fix the value.',
  },
  'unpinned-image': {
    name: 'UnpinnedImage',
    short: 'The matching allowlist rule requires a digest and the image has none.',
    help: 'Pin the image by digest (`name@sha256:…`), for example with `crane digest` or your CI’s build output.',
  },
  'mutable-tag': {
    name: 'MutableTag',
    short: 'The image uses a tag the matching allowlist rule denies (no tag counts as latest).',
    help: 'Use an immutable version tag or a digest instead of a denied tag such as `latest`.',
  },
  'expired-exception': {
    name: 'ExpiredException',
    short: 'The only allowlist rule that trusted this image has expired.',
    help: 'The time-boxed exception (`expiresAt`) is over. Move the workload to a trusted source or renew the exception with a new review.',
  },
  'vulnerable-image': {
    name: 'VulnerableImage',
    short: 'The image’s registry scan reports vulnerabilities at or above the threshold.',
    help: 'Rebuild on a patched base image or upgrade the affected packages, then redeploy.',
  },
  'scan-missing': {
    name: 'ScanMissing',
    short: 'No registry scan result arrived for the pushed image in time.',
    help: 'Check that enhanced scanning covers the repository and that the scan finished.',
  },
  'denied-source': {
    name: 'DeniedSource',
    short: 'An allowlist rule with `effect: deny` matches the image.',
    help: 'Deny rules win over allow rules: use an image from another source.',
  },
  'unsigned-image': {
    name: 'UnsignedImage',
    short: 'The matching allowlist rule requires a signature and none was found.',
    help: 'Sign the image (cosign, keyless, or AWS Signer) as the rule’s `requireSignature` names.',
  },
  'signature-invalid': {
    name: 'SignatureInvalid',
    short: 'The image has a signature that does not verify against the rule’s keys or identities.',
    help: 'Re-sign the image with a key or identity the rule accepts, or investigate tampering.',
  },
};

export function ruleHelp(rule: string): RuleHelp {
  return (
    HELP[rule] ?? {
      name: rule.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase()),
      short: `regwatch violation ${rule}.`,
      help: `See ${RULES_DOC} for this violation.`,
    }
  );
}

export function ruleUri(rule: string): string {
  return `${RULES_DOC}#${rule}`;
}

/** Every violation kind the core knows, then any other seen in this run, in a stable order. */
export function ruleIds(seen: Iterable<string>): string[] {
  const ids: string[] = [...VIOLATION_RULES];
  for (const id of seen) if (!ids.includes(id)) ids.push(id);
  return ids;
}
