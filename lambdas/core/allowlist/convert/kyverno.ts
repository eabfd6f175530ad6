/**
 * Kyverno policies → allowlist rules:
 * - `ClusterPolicy` / `Policy` rules with `validate.pattern` / `anyPattern` image wildcards
 *   (`eu.foo.io/* | bar.io/*`, `!*:latest`);
 * - `validate.deny` conditions on `{{ images.….registry }}`, `.name`, `.tag` with
 *   `AnyIn` / `AnyNotIn`;
 * - `validate.cel` and `ValidatingPolicy` expressions of the form
 *   `…all(c, c.image.startsWith('x') || c.image.matches('^y'))`.
 * Anything else is listed as not converted.
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
  ruleId,
  stringList,
} from './common.ts';
import { convertExact, convertPrefix, convertWildcard, type StringConversion } from './strings.ts';

const POLICY_KINDS = new Set(['ClusterPolicy', 'Policy']);
const CEL_KINDS = new Set(['ValidatingPolicy', 'NamespacedValidatingPolicy']);

export function convertKyverno(docs: readonly unknown[]): ConvertResult {
  const out = emptyResult();
  docs.forEach((value, index) => {
    const object = kubernetesObject(value, index, out);
    if (!object) return;
    const { doc, kind, name, policy } = object;
    const spec = record(doc.spec) ?? {};
    if (POLICY_KINDS.has(kind)) {
      const namespace = record(doc.metadata)?.namespace;
      const policyScope =
        kind === 'Policy' && typeof namespace === 'string' ? [namespace] : undefined;
      const rules = Array.isArray(spec.rules) ? spec.rules : [];
      rules.forEach((ruleValue, r) => {
        const rule = record(ruleValue) ?? {};
        const ruleName = typeof rule.name === 'string' ? rule.name : `rule-${r}`;
        const at = { policy: `${policy} rule ${ruleName}`, base: `spec.rules[${r}]` };
        convertPolicyRule(rule, policyScope, `${name}-${ruleName}`, at, out);
      });
      actionNote(spec.validationFailureAction, policy, 'spec.validationFailureAction', out);
      return;
    }
    if (CEL_KINDS.has(kind)) {
      const constraints = record(spec.matchConstraints) ?? {};
      for (const key of ['namespaceSelector', 'objectSelector']) {
        if (constraints[key] !== undefined) {
          out.unconvertible.push({
            policy,
            field: `spec.matchConstraints.${key}`,
            message: 'selectors are not converted; regwatch scopes by cluster and namespace name',
          });
        }
      }
      const namespace = record(doc.metadata)?.namespace;
      const scope: PeerScope =
        kind === 'NamespacedValidatingPolicy' && typeof namespace === 'string'
          ? { namespaces: [namespace] }
          : {};
      const validations = Array.isArray(spec.validations) ? spec.validations : [];
      if (validations.length > 0) out.allowLists++;
      validations.forEach((v, i) => {
        const expression = record(v)?.expression;
        convertCel(
          typeof expression === 'string' ? expression : '',
          variablesOf(spec.variables),
          scope,
          `${name}-${i}`,
          { policy, field: `spec.validations[${i}].expression` },
          out,
        );
      });
      return;
    }
    out.unconvertible.push({
      policy,
      field: 'kind',
      message: 'only ClusterPolicy, Policy and ValidatingPolicy convert',
    });
  });
  return out;
}

/** Outside a rule's match (and inside its exclude) the rule says nothing: anything goes there. */
function keepOutside(scope: PeerScope, idBase: string, policy: string, out: ConvertResult): void {
  out.allowLists++;
  outsideScope(scope).forEach((outside, i) => {
    out.rules.push(
      ruleFor(
        `${idBase}-outside-${i}`,
        { registry: '**', repository: '**' },
        outside,
        `from Kyverno ${policy}: images outside the rule's match are not restricted by it`,
      ),
    );
  });
}

function actionNote(action: unknown, policy: string, field: string, out: ConvertResult): void {
  if (typeof action === 'string') {
    out.notes.push({
      policy,
      field,
      message: `"${action}": regwatch reports findings; it never blocks admission`,
    });
  }
}

/* ---------------------------------------------------------------- ClusterPolicy rules */

interface At {
  policy: string;
  base: string;
}

function convertPolicyRule(
  rule: Record<string, unknown>,
  policyNamespace: string[] | undefined,
  idBase: string,
  at: At,
  out: ConvertResult,
): void {
  const scope = ruleScope(rule, policyNamespace, at, out);
  const validate = record(rule.validate);
  if (!validate) {
    out.unconvertible.push({
      policy: at.policy,
      field: at.base,
      message: 'not a validate rule (mutate, generate and verifyImages rules are not converted)',
    });
    return;
  }
  const field = (f: string) => ({ policy: at.policy, field: `${at.base}.validate.${f}` });
  // `foreach` over the container lists with a `pattern` each (disallow-latest-tag) reads
  // like one pattern: regwatch judges every container kind alike.
  const foreach = Array.isArray(validate.foreach) ? validate.foreach.map((f) => record(f)) : null;
  const foreachPatterns = foreach?.every(
    (f) =>
      f && f.pattern !== undefined && Object.keys(f).every((k) => k === 'list' || k === 'pattern'),
  )
    ? foreach.map((f) => f?.pattern)
    : null;
  if (validate.pattern !== undefined || validate.anyPattern !== undefined || foreachPatterns) {
    const patterns =
      validate.pattern !== undefined
        ? [validate.pattern]
        : Array.isArray(validate.anyPattern)
          ? validate.anyPattern
          : (foreachPatterns ?? []);
    const images = new Set<string>();
    for (const p of patterns) collectImagePatterns(p, images);
    if (images.size === 0) {
      out.unconvertible.push({
        ...field(validate.pattern !== undefined ? 'pattern' : 'anyPattern'),
        message: 'no image pattern in it',
      });
      return;
    }
    if (images.size > 1) {
      out.notes.push({
        ...field('pattern'),
        message:
          'the containers, initContainers and ephemeralContainers patterns differ; regwatch judges them all alike, so they are joined',
      });
    }
    let n = 0;
    let allowList = false;
    for (const image of images) {
      for (const alternative of image.split('|').map((s) => s.trim())) {
        const id = `${idBase}-${n++}`;
        const where = field(`pattern image ${JSON.stringify(alternative)}`);
        const negated = /^!\*:([\w][\w.-]{0,127})$/.exec(alternative);
        if (negated) {
          // `!*:latest` (disallow-latest-tag): any image with that tag is refused.
          out.rules.push(
            ruleFor(
              id,
              { registry: '**', repository: '**', tags: [negated[1] ?? ''] },
              scope,
              `from Kyverno ${at.policy}: ${alternative}`,
              'deny',
            ),
          );
          continue;
        }
        if (alternative.startsWith('!')) {
          out.unconvertible.push({ ...where, message: 'only "!*:<tag>" negations convert' });
          continue;
        }
        addConverted(out, convertWildcard(alternative), where, (target) =>
          ruleFor(id, target, scope, `from Kyverno ${at.policy}: ${alternative}`),
        );
        allowList = true;
      }
    }
    if (allowList) keepOutside(scope, idBase, at.policy, out);
    return;
  }
  if (validate.deny !== undefined) {
    if (convertDeny(record(validate.deny) ?? {}, scope, idBase, field('deny'), out)) {
      keepOutside(scope, idBase, at.policy, out);
    }
    return;
  }
  if (validate.cel !== undefined) {
    const cel = record(validate.cel) ?? {};
    const expressions = Array.isArray(cel.expressions) ? cel.expressions : [];
    expressions.forEach((e, i) => {
      const expression = record(e)?.expression;
      convertCel(
        typeof expression === 'string' ? expression : '',
        variablesOf(cel.variables),
        scope,
        `${idBase}-${i}`,
        field(`cel.expressions[${i}].expression`),
        out,
      );
    });
    if (expressions.length > 0) keepOutside(scope, idBase, at.policy, out);
    return;
  }
  out.unconvertible.push({
    ...field(Object.keys(validate).join(',') || '(empty)'),
    message: 'only pattern, anyPattern, foreach with pattern, deny and cel validations convert',
  });
}

/** Values of every `image` key in a Kyverno pattern (keys may carry anchors: `=(x)`). */
function collectImagePatterns(value: unknown, out: Set<string>, depth = 0): void {
  if (depth > 32) return;
  if (Array.isArray(value)) {
    for (const v of value) collectImagePatterns(v, out, depth + 1);
    return;
  }
  const obj = record(value);
  if (!obj) return;
  for (const [key, v] of Object.entries(obj)) {
    const bare = key.replace(/^[=^X+<]?\((.*)\)$/, '$1');
    if (bare === 'image' && typeof v === 'string') out.add(v);
    else collectImagePatterns(v, out, depth + 1);
  }
}

function ruleScope(
  rule: Record<string, unknown>,
  policyNamespace: string[] | undefined,
  at: At,
  out: ConvertResult,
): PeerScope {
  const include = new Set<string>(policyNamespace ?? []);
  const exclude = new Set<string>();
  const visit = (block: unknown, target: Set<string>, field: string) => {
    const b = record(block);
    if (!b) return;
    const groups = [...(Array.isArray(b.any) ? b.any : []), ...(Array.isArray(b.all) ? b.all : [])];
    if (b.resources !== undefined) groups.push(b);
    for (const g of groups) {
      const resources = record(record(g)?.resources) ?? {};
      for (const key of Object.keys(resources)) {
        if (key === 'namespaces') {
          for (const ns of stringList(resources.namespaces) ?? []) target.add(ns);
        } else if (key !== 'kinds' && key !== 'operations') {
          out.unconvertible.push({
            policy: at.policy,
            field: `${at.base}.${field}.resources.${key}`,
            message: 'regwatch scopes by cluster and namespace name only; not converted',
          });
        }
      }
      for (const key of Object.keys(record(g) ?? {})) {
        if (key !== 'resources') {
          out.unconvertible.push({
            policy: at.policy,
            field: `${at.base}.${field}.${key}`,
            message: 'user, role and subject filters are not converted',
          });
        }
      }
    }
  };
  visit(rule.match, include, 'match');
  visit(rule.exclude, exclude, 'exclude');
  return namespaceScope([...include], [...exclude]);
}

/* ---------------------------------------------------------------- deny conditions */

const IMAGES_KEY = /^\{\{\s*images\.[^}]*?\.(registry|name|tag|path|digest)(?:\[\])?\s*\}\}$/;

function convertDeny(
  deny: Record<string, unknown>,
  scope: PeerScope,
  idBase: string,
  where: { policy: string; field: string },
  out: ConvertResult,
): boolean {
  const conditions = record(deny.conditions);
  const list = Array.isArray(deny.conditions)
    ? { mode: 'any', items: deny.conditions }
    : conditions && Array.isArray(conditions.any) && conditions.all === undefined
      ? { mode: 'any', items: conditions.any }
      : conditions && Array.isArray(conditions.all) && conditions.any === undefined
        ? { mode: 'all', items: conditions.all }
        : null;
  if (!list || list.items.length === 0) {
    out.unconvertible.push({ ...where, message: 'conditions must be one any or all list' });
    return false;
  }
  if (list.mode === 'all' && list.items.length > 1) {
    out.unconvertible.push({
      ...where,
      message: 'all of several conditions (deny only when every one holds) has no regwatch form',
    });
    return false;
  }
  let allowLists = 0;
  list.items.forEach((item, c) => {
    const cond = record(item) ?? {};
    const at = { policy: where.policy, field: `${where.field}.conditions.${list.mode}[${c}]` };
    const key = typeof cond.key === 'string' ? cond.key.trim() : '';
    const m = IMAGES_KEY.exec(key);
    const values = stringList(cond.value);
    const operator = cond.operator;
    if (!m || values === null || (operator !== 'AnyIn' && operator !== 'AnyNotIn')) {
      out.unconvertible.push({
        ...at,
        message:
          'only {{ images.….registry|name|tag }} with AnyIn / AnyNotIn and a list value convert',
      });
      return;
    }
    const part = m[1] as 'registry' | 'name' | 'tag' | 'path' | 'digest';
    const deny = operator === 'AnyIn';
    if (!deny && ++allowLists > 1) {
      out.unconvertible.push({
        ...at,
        message:
          'a second allow list (AnyNotIn) in the same rule means "and"; regwatch allow rules are "or"',
      });
      return;
    }
    if (part === 'path' || part === 'digest') {
      out.unconvertible.push({ ...at, message: `images.….${part} is not converted` });
      return;
    }
    if (part === 'tag') {
      if (!deny) {
        out.unconvertible.push({
          ...at,
          message:
            'an allow list of tags for every image has no regwatch form (write tags: per rule)',
        });
        return;
      }
      out.rules.push(
        ruleFor(
          `${idBase}-tags`,
          { registry: '**', repository: '**', tags: values },
          scope,
          `from Kyverno ${where.policy}: tag AnyIn ${values.join(', ')}`,
          'deny',
        ),
      );
      return;
    }
    values.forEach((value, v) => {
      const conversion = part === 'registry' ? registryValue(value) : nameValue(value);
      addConverted(out, conversion, { ...at, field: `${at.field}.value[${v}]` }, (target) =>
        ruleFor(
          `${idBase}-${part}-${v}`,
          target,
          scope,
          `from Kyverno ${where.policy}: ${part} ${operator} ${value}`,
          deny ? 'deny' : 'allow',
        ),
      );
    });
  });
  return allowLists > 0;
}

/** Kyverno's `registry` is the host; its `*` spans dots, so `*.x.io` is `**.x.io`. */
function registryValue(value: string): StringConversion {
  const deep = /^\*\.(.+)$/.exec(value);
  const host = deep ? `**.${deep[1]}` : value;
  if (/[*?]/.test(deep ? (deep[1] ?? '') : value)) {
    return { ok: false, error: `"${value}": only a leading "*." wildcard converts` };
  }
  const converted = convertPrefix(`${host.replace(/^\*\*\./, 'x.')}/`);
  if (!converted.ok) return converted;
  return {
    ok: true,
    target: { registry: host.toLowerCase(), repository: '**' },
    peerAlsoMatched: [],
    notes: [],
  };
}

/** Kyverno's `name` is the last path segment, on any registry. */
function nameValue(value: string): StringConversion {
  if (!/^[a-z0-9*][a-z0-9._*-]*$/.test(value) || value.includes('**')) {
    return { ok: false, error: `"${value}" is not one lower-case path segment` };
  }
  return {
    ok: true,
    target: { registry: '**', repository: `**/${value}` },
    peerAlsoMatched: [],
    notes: [],
  };
}

/* ---------------------------------------------------------------- CEL */

function variablesOf(value: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (!Array.isArray(value)) return out;
  for (const v of value) {
    const r = record(v);
    if (r && typeof r.name === 'string' && typeof r.expression === 'string') {
      out.set(r.name, r.expression);
    }
  }
  return out;
}

const ALL_CONTAINERS = /object\.spec\.containers/;
const TERM =
  /^\(*\s*(\w+)\.image\.(startsWith|matches)\(\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*\)\s*\)*$/;

function convertCel(
  expression: string,
  variables: Map<string, string>,
  scope: PeerScope,
  idBase: string,
  where: { policy: string; field: string },
  out: ConvertResult,
): void {
  const whole =
    /^\s*(?:variables\.(\w+)|object\.spec\.containers)\s*\.all\(\s*(\w+)\s*,([\s\S]*)\)\s*$/.exec(
      expression,
    );
  if (!whole) {
    out.unconvertible.push({
      ...where,
      message: 'only <containers>.all(c, c.image.startsWith(…) || c.image.matches(…)) converts',
    });
    return;
  }
  const listVar = whole[1];
  if (listVar !== undefined && !ALL_CONTAINERS.test(variables.get(listVar) ?? '')) {
    out.unconvertible.push({
      ...where,
      message: `variables.${listVar} is not a list of the pod's containers`,
    });
    return;
  }
  const name = whole[2] ?? '';
  const terms = (whole[3] ?? '').split('||').map((t) => t.trim());
  const parsed: { fn: string; arg: string }[] = [];
  for (const term of terms) {
    const m = TERM.exec(term);
    if (!m || m[1] !== name) {
      out.unconvertible.push({
        ...where,
        message: `${JSON.stringify(term)}: only startsWith / matches terms joined by || convert`,
      });
      return;
    }
    parsed.push({ fn: m[2] ?? '', arg: (m[3] ?? m[4] ?? '').replace(/\\(.)/g, '$1') });
  }
  parsed.forEach(({ fn, arg }, i) => {
    const conversion = fn === 'startsWith' ? convertPrefix(arg) : convertRegex(arg);
    addConverted(
      out,
      conversion,
      { ...where, field: `${where.field} ${fn}(${JSON.stringify(arg)})` },
      (target) =>
        ruleFor(
          ruleId(`${idBase}-${i}`),
          target,
          scope,
          `from Kyverno ${where.policy}: ${fn}('${arg}')`,
        ),
    );
  });
}

/**
 * CEL `matches` is an unanchored RE2 search. Only `^literal`, `^literal.*` and
 * `^literal$` have an exact meaning (a prefix or an exact string).
 */
function convertRegex(regex: string): StringConversion {
  if (!regex.startsWith('^')) {
    return {
      ok: false,
      error: `"${regex}" is not anchored with ^: matches() finds it anywhere in the image string (evil.io/${regex.replace(/\\/g, '')} passes)`,
    };
  }
  const m = /^\^((?:[A-Za-z0-9_/:@-]|\\\.|\\-|\\\/)*)(\.\*)?(\$)?$/.exec(regex);
  if (!m)
    return { ok: false, error: `"${regex}": only ^literal, ^literal.* and ^literal$ convert` };
  const literal = (m[1] ?? '').replace(/\\(.)/g, '$1');
  if (m[3] !== undefined && m[2] === undefined) return convertExact(literal);
  return convertPrefix(literal);
}
