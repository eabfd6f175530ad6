/**
 * A small evaluator of the event-pattern language EventBridge rules and Lambda event filters
 * share: exact values (strings, numbers, booleans, null), `prefix`, `suffix`,
 * `equals-ignore-case`, `wildcard`, `anything-but` (a value, a list, or a prefix/suffix),
 * `numeric` ranges, `exists`, and `$or`. An array in the event matches when any element does;
 * nested objects are matched field by field. Anything else throws, so a template that starts
 * using an operator this does not know fails the test instead of passing unchecked.
 */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const OPERATORS = new Set([
  'prefix',
  'suffix',
  'equals-ignore-case',
  'wildcard',
  'anything-but',
  'numeric',
  'exists',
]);

function leaves(value: Json | undefined): (Json | undefined)[] {
  if (Array.isArray(value)) return value.flatMap((v) => leaves(v));
  return [value];
}

function wildcard(pattern: string, text: string): boolean {
  const re = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${re}$`, 's').test(text);
}

function numeric(spec: Json[], value: number): boolean {
  for (let i = 0; i < spec.length; i += 2) {
    const op = spec[i];
    const bound = spec[i + 1];
    if (typeof bound !== 'number') throw new Error(`numeric bound ${JSON.stringify(bound)}`);
    const ok =
      op === '>'
        ? value > bound
        : op === '>='
          ? value >= bound
          : op === '<'
            ? value < bound
            : op === '<='
              ? value <= bound
              : op === '='
                ? value === bound
                : (() => {
                    throw new Error(`numeric operator ${JSON.stringify(op)}`);
                  })();
    if (!ok) return false;
  }
  return true;
}

/** Whether one matcher of a leaf list accepts the (leaf) value `v`. */
function matchOne(matcher: Json, v: Json | undefined): boolean {
  if (matcher === null || typeof matcher !== 'object' || Array.isArray(matcher)) {
    if (v === undefined) return false;
    if (typeof matcher === 'number' && typeof v === 'number') return matcher === v;
    return matcher === v;
  }
  const keys = Object.keys(matcher);
  if (keys.length !== 1 || !OPERATORS.has(keys[0] as string)) {
    throw new Error(`unsupported matcher ${JSON.stringify(matcher)}`);
  }
  const [op] = keys as [string];
  const arg = matcher[op] as Json;
  if (op === 'exists') return arg === true ? v !== undefined : v === undefined;
  if (v === undefined) return false;
  switch (op) {
    case 'prefix':
      return typeof v === 'string' && typeof arg === 'string' && v.startsWith(arg);
    case 'suffix':
      return typeof v === 'string' && typeof arg === 'string' && v.endsWith(arg);
    case 'equals-ignore-case':
      return (
        typeof v === 'string' && typeof arg === 'string' && v.toLowerCase() === arg.toLowerCase()
      );
    case 'wildcard':
      return typeof v === 'string' && typeof arg === 'string' && wildcard(arg, v);
    case 'numeric':
      return typeof v === 'number' && Array.isArray(arg) && numeric(arg, v);
    case 'anything-but': {
      if (arg !== null && typeof arg === 'object' && !Array.isArray(arg)) {
        return !matchOne(arg, v);
      }
      const excluded = Array.isArray(arg) ? arg : [arg];
      return !excluded.some((x) => x === v);
    }
  }
  return false;
}

/** Whether `event` matches `pattern`. */
export function matchesPattern(pattern: Json, event: Json | undefined): boolean {
  if (pattern === null || typeof pattern !== 'object' || Array.isArray(pattern)) {
    throw new Error(`a pattern level must be an object, got ${JSON.stringify(pattern)}`);
  }
  for (const [key, sub] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!Array.isArray(sub)) throw new Error('$or takes a list of patterns');
      if (!sub.some((alternative) => matchesPattern(alternative, event))) return false;
      continue;
    }
    const here =
      event !== null && typeof event === 'object' && !Array.isArray(event)
        ? (event as Record<string, Json>)[key]
        : undefined;
    if (Array.isArray(sub)) {
      const values = leaves(here);
      if (!sub.some((matcher) => values.some((v) => matchOne(matcher, v)))) return false;
      continue;
    }
    // A nested pattern: an array of objects in the event matches when one element does.
    const candidates = Array.isArray(here) ? here : [here];
    if (!candidates.some((candidate) => matchesPattern(sub, candidate))) return false;
  }
  return true;
}
