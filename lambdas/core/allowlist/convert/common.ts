/**
 * What every importer returns, and the helpers they share: rule ids, scope from peer
 * `match` blocks, and the bookkeeping of what could not be converted (never dropped).
 */
import type { AllowlistRule } from '../schema.ts';
import type { StringConversion, StringTarget } from './strings.ts';

export const PEERS = ['gatekeeper', 'kyverno', 'kubewarden'] as const;
export type Peer = (typeof PEERS)[number];

/** One line of the report, naming the peer policy and the field it is about. */
export interface ConvertNote {
  policy: string;
  field: string;
  message: string;
}

export interface ConvertResult {
  rules: AllowlistRule[];
  /** What the peer let through that the regwatch rules will not: bypasses closed on purpose. */
  closed: ConvertNote[];
  /** Differences that are neither a bypass nor a loss (spellings, kinds, semantics). */
  notes: ConvertNote[];
  /** What could not be converted: the command exits 1 when this is not empty. */
  unconvertible: ConvertNote[];
  /**
   * Peer policies that restrict images to an allow list. With none, the policies only
   * refuse, and everything they do not refuse is admitted (see `convertPolicies`).
   */
  allowLists: number;
}

export function emptyResult(): ConvertResult {
  return { rules: [], closed: [], notes: [], unconvertible: [], allowLists: 0 };
}

export function mergeResults(results: readonly ConvertResult[]): ConvertResult {
  const out = emptyResult();
  for (const r of results) {
    for (const x of r.rules) out.rules.push(x);
    for (const x of r.closed) out.closed.push(x);
    for (const x of r.notes) out.notes.push(x);
    for (const x of r.unconvertible) out.unconvertible.push(x);
    out.allowLists += r.allowLists;
  }
  // Two policies may name the same id; keep ids unique, as the format requires.
  const used = new Set<string>();
  for (const rule of out.rules) {
    let id = rule.id;
    for (let n = 2; used.has(id); n++) id = ruleId(`${rule.id}-${n}`);
    used.add(id);
    rule.id = id;
  }
  return out;
}

/** A valid rule id from free text: 1–128 of A-Z a-z 0-9 . _ : -, starting alphanumeric. */
export function ruleId(text: string): string {
  const cleaned = text.replace(/[^A-Za-z0-9._:-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  if (cleaned === '') return 'rule';
  // Too long: keep the start (the policy) and the end (the index that makes it unique).
  return cleaned.length <= 128 ? cleaned : `${cleaned.slice(0, 80)}-${cleaned.slice(-47)}`;
}

/** Namespaces a peer scope names: included globs and excluded ones. */
export interface PeerScope {
  namespaces?: string[];
}

/** `namespaces` for a rule from include / exclude lists (`["*", "!x"]` for exclusions only). */
export function namespaceScope(
  include: readonly string[] | undefined,
  exclude: readonly string[] | undefined,
): PeerScope {
  const inc = include && include.length > 0 ? [...include] : null;
  const exc = exclude && exclude.length > 0 ? exclude.map((n) => `!${n}`) : [];
  if (inc === null && exc.length === 0) return {};
  return { namespaces: [...(inc ?? ['*']), ...exc] };
}

/** The complement of a scope, so "the policy does not apply here" stays "anything goes". */
export function outsideScope(scope: PeerScope): PeerScope[] {
  const ns = scope.namespaces;
  if (!ns) return [];
  const include = ns.filter((n) => !n.startsWith('!'));
  const exclude = ns.filter((n) => n.startsWith('!')).map((n) => n.slice(1));
  const out: PeerScope[] = [];
  // Outside the included namespaces …
  if (!(include.length === 1 && include[0] === '*')) {
    out.push({ namespaces: ['*', ...include.map((n) => `!${n}`)] });
  }
  // … and inside the excluded ones.
  if (exclude.length > 0) out.push({ namespaces: exclude });
  return out;
}

/** A rule for a converted string target. */
export function ruleFor(
  id: string,
  target: StringTarget,
  scope: PeerScope,
  reason: string,
  effect: 'allow' | 'deny' = 'allow',
): AllowlistRule {
  return {
    id: ruleId(id),
    ...(effect === 'deny' ? { effect } : {}),
    registry: target.registry,
    repository: target.repository,
    ...(target.tags ? { tags: target.tags } : {}),
    ...(target.digests ? { digests: target.digests } : {}),
    ...scope,
    // The schema caps notes at 2000 characters; a peer value can be longer.
    reason: reason.length > 2000 ? `${reason.slice(0, 1999)}…` : reason,
  };
}

/** Adds a converted string to the result: a rule, its closed bypasses and notes, or a failure. */
export function addConverted(
  out: ConvertResult,
  conversion: StringConversion,
  where: { policy: string; field: string },
  rule: (target: StringTarget) => AllowlistRule,
): void {
  if (!conversion.ok) {
    out.unconvertible.push({ ...where, message: conversion.error });
    return;
  }
  const made = rule(conversion.target);
  out.rules.push(made);
  for (const bypass of conversion.peerAlsoMatched) {
    out.closed.push({
      ...where,
      message: `peer also matched ${bypass}; rule "${made.id}" does not`,
    });
  }
  for (const note of conversion.notes) out.notes.push({ ...where, message: note });
}

/** A plain object, or null. */
export function record(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

export function stringList(value: unknown): string[] | null {
  if (!Array.isArray(value)) return null;
  return value.every((v) => typeof v === 'string') ? (value as string[]) : null;
}

/** The `metadata.name` of a peer object, for notes and rule ids. */
/**
 * The `index`th document as a Kubernetes object with its kind and `Kind/name` policy label, or
 * null after recording it in `out` as not convertible.
 */
export function kubernetesObject(
  value: unknown,
  index: number,
  out: ConvertResult,
): { doc: Record<string, unknown>; kind: string; name: string; policy: string } | null {
  const doc = record(value);
  const kind = doc?.kind;
  if (!doc || typeof kind !== 'string') {
    out.unconvertible.push({
      policy: `document ${index + 1}`,
      field: 'kind',
      message: 'not a Kubernetes object',
    });
    return null;
  }
  const name = objectName(doc, `document-${index + 1}`);
  return { doc, kind, name, policy: `${kind}/${name}` };
}

export function objectName(doc: Record<string, unknown>, fallback: string): string {
  const name = record(doc.metadata)?.name;
  return typeof name === 'string' && name !== '' ? name : fallback;
}
