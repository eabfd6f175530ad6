/**
 * `regwatch allowlist convert`: peer policies → one allowlist document, with the report of
 * closed bypasses, notes and what could not be converted. Every produced rule is validated
 * by the allowlist schema; one that fails is reported as not converted, never written.
 */
import { AllowlistError } from '../../errors.ts';
import { type AllowlistDocument, validateAllowlist, validateRule } from '../schema.ts';
import { type ConvertResult, mergeResults, type Peer } from './common.ts';
import { convertGatekeeper } from './gatekeeper.ts';
import { convertKubewarden } from './kubewarden.ts';
import { convertKyverno } from './kyverno.ts';

export { type ConvertNote, type ConvertResult, PEERS, type Peer } from './common.ts';

const CONVERTERS: Readonly<Record<Peer, (docs: readonly unknown[]) => ConvertResult>> = {
  gatekeeper: convertGatekeeper,
  kyverno: convertKyverno,
  kubewarden: convertKubewarden,
};

export interface Conversion extends ConvertResult {
  document: AllowlistDocument;
}

/** Converts the parsed documents of each file (in order) from one peer. */
export function convertPolicies(peer: Peer, files: readonly (readonly unknown[])[]): Conversion {
  const merged = mergeResults(files.map((docs) => CONVERTERS[peer](docs)));
  const constraints = files.flat().filter((d) => {
    const kind = (d as { kind?: unknown } | null)?.kind;
    return kind === 'K8sAllowedRepos' || kind === 'K8sAllowedReposv2';
  }).length;
  if (peer === 'gatekeeper' && constraints > 1 && !merged.notes.some((n) => n.policy === '(all)')) {
    merged.notes.push({
      policy: '(all)',
      field: 'spec.parameters',
      message:
        'Gatekeeper requires an image to pass every constraint that matches it; regwatch allows what any rule allows, so constraints whose scopes overlap are now a union: review them',
    });
  }
  // Policies that only refuse admit everything else; never added to a partial result, so
  // a conversion that lost an allow list cannot gain an allow-all.
  if (merged.allowLists === 0 && merged.unconvertible.length === 0 && merged.rules.length > 0) {
    merged.rules.push({
      id: `${peer}-allow-rest`,
      registry: '**',
      repository: '**',
      reason: `from ${peer}: the policies only refuse images; everything else is admitted`,
    });
    merged.notes.push({
      policy: '(all)',
      field: '(all)',
      message: `the policies only refuse images, so an allow rule for every other image is added (${peer}-allow-rest)`,
    });
  }
  const rules = [];
  for (const rule of merged.rules) {
    try {
      rules.push(validateRule(rule, 'converted rule'));
    } catch (err) {
      if (!(err instanceof AllowlistError)) throw err;
      merged.unconvertible.push({
        policy: rule.reason ?? rule.id,
        field: rule.id,
        message: `the regwatch rule would be invalid: ${err.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      });
    }
  }
  const document = validateAllowlist({ version: 1, rules }, 'converted allowlist');
  return { ...merged, rules: document.rules, document };
}
