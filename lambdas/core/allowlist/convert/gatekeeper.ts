/**
 * Gatekeeper constraints → allowlist rules: `K8sAllowedRepos` (`parameters.repos`, raw
 * `startswith` prefixes) and `K8sAllowedReposv2` (`parameters.allowedImages`: exact
 * strings, or prefixes when they end in `*`) become allow rules, `K8sDisallowedRepos`
 * (`parameters.repos` prefixes) deny rules, with `spec.match` namespaces as scope.
 */
import {
  addConverted,
  type ConvertResult,
  emptyResult,
  kubernetesObject,
  namespaceScope,
  outsideScope,
  type PeerScope,
  record,
  ruleFor,
  stringList,
} from './common.ts';
import { convertPrefix, convertWildcard } from './strings.ts';

const MATCH_KEYS_CONVERTED = new Set(['kinds', 'namespaces', 'excludedNamespaces']);

export function convertGatekeeper(docs: readonly unknown[]): ConvertResult {
  const out = emptyResult();
  let constraints = 0;
  docs.forEach((value, index) => {
    const object = kubernetesObject(value, index, out);
    if (!object) return;
    const { doc, kind, name, policy } = object;
    if (kind === 'ConstraintTemplate') {
      out.notes.push({
        policy,
        field: 'kind',
        message: 'a template holds the logic, not a policy: skipped (its constraints convert)',
      });
      return;
    }
    if (kind === 'K8sDisallowedRepos') {
      convertDisallowed(doc, name, policy, out);
      return;
    }
    if (kind !== 'K8sAllowedRepos' && kind !== 'K8sAllowedReposv2') {
      out.unconvertible.push({
        policy,
        field: 'kind',
        message:
          'only K8sAllowedRepos, K8sAllowedReposv2 and K8sDisallowedRepos constraints convert',
      });
      return;
    }
    constraints++;
    out.allowLists++;
    const spec = record(doc.spec) ?? {};
    const scope = matchScope(spec, policy, out);
    const parameters = record(spec.parameters) ?? {};
    const field = kind === 'K8sAllowedRepos' ? 'repos' : 'allowedImages';
    const entries = stringList(parameters[field]);
    if (entries === null) {
      out.unconvertible.push({
        policy,
        field: `spec.parameters.${field}`,
        message: 'must be a list of strings',
      });
      return;
    }
    if (entries.length === 0) {
      out.notes.push({
        policy,
        field: `spec.parameters.${field}`,
        message: 'an empty list allows no image in scope: no allow rule is written',
      });
    }
    entries.forEach((entry, i) => {
      const conversion = kind === 'K8sAllowedRepos' ? convertPrefix(entry) : convertWildcard(entry);
      const where = { policy, field: `spec.parameters.${field}[${i}]` };
      addConverted(out, conversion, where, (target) =>
        ruleFor(
          `${name}-${i}`,
          target,
          scope,
          `from Gatekeeper ${policy} ${field}[${i}] ${JSON.stringify(entry)}`,
        ),
      );
    });
    // Outside its match the constraint says nothing: keep "anything goes" there.
    outsideScope(scope).forEach((outside, i) => {
      out.rules.push(
        ruleFor(
          `${name}-outside-${i}`,
          { registry: '**', repository: '**' },
          outside,
          `from Gatekeeper ${policy}: images outside the constraint's match are not restricted by it`,
        ),
      );
    });
    const action = spec.enforcementAction;
    if (typeof action === 'string' && action !== 'deny') {
      out.notes.push({
        policy,
        field: 'spec.enforcementAction',
        message: `"${action}": regwatch reports findings; it never blocks admission`,
      });
    }
  });
  if (constraints > 1) {
    out.notes.push({
      policy: '(all)',
      field: 'spec.parameters',
      message:
        'Gatekeeper requires an image to pass every constraint that matches it; regwatch allows what any rule allows, so constraints whose scopes overlap are now a union: review them',
    });
  }
  return out;
}

/** `K8sDisallowedRepos`: each `startswith` prefix becomes a deny rule. */
function convertDisallowed(
  doc: Record<string, unknown>,
  name: string,
  policy: string,
  out: ConvertResult,
): void {
  const spec = record(doc.spec) ?? {};
  const scope = matchScope(spec, policy, out);
  const repos = stringList(record(spec.parameters)?.repos);
  if (repos === null) {
    out.unconvertible.push({
      policy,
      field: 'spec.parameters.repos',
      message: 'must be a list of strings',
    });
    return;
  }
  repos.forEach((entry, i) => {
    const where = { policy, field: `spec.parameters.repos[${i}]` };
    const conversion = convertPrefix(entry);
    if (!conversion.ok) {
      out.unconvertible.push({ ...where, message: conversion.error });
      return;
    }
    const rule = ruleFor(
      `${name}-${i}`,
      conversion.target,
      scope,
      `from Gatekeeper ${policy} repos[${i}] ${JSON.stringify(entry)}`,
      'deny',
    );
    out.rules.push(rule);
    // For a deny list the raw prefix refused more, not less: a narrowing, not a bypass.
    for (const also of conversion.peerAlsoMatched) {
      out.notes.push({
        ...where,
        message: `peer also refused ${also}; deny rule "${rule.id}" does not (such images are judged by the allow rules)`,
      });
    }
    for (const note of conversion.notes) out.notes.push({ ...where, message: note });
  });
}

function matchScope(spec: Record<string, unknown>, policy: string, out: ConvertResult): PeerScope {
  const match = record(spec.match) ?? {};
  for (const key of Object.keys(match)) {
    if (!MATCH_KEYS_CONVERTED.has(key)) {
      out.unconvertible.push({
        policy,
        field: `spec.match.${key}`,
        message:
          'regwatch scopes rules by cluster and namespace name only; this selector is not converted',
      });
    }
  }
  if (match.kinds !== undefined) {
    out.notes.push({
      policy,
      field: 'spec.match.kinds',
      message:
        'regwatch judges every container of every pod and pod-template owner (init and ephemeral too), whatever kinds the constraint matched',
    });
  }
  const include = stringList(match.namespaces) ?? undefined;
  const exclude = stringList(match.excludedNamespaces) ?? undefined;
  return namespaceScope(include, exclude);
}
