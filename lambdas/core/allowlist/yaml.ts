/**
 * The allowlist file as YAML text (JSON is YAML too): parsing with line and column positions
 * for syntax errors, then the schema's validation; and a serializer with a stable key order.
 * Kept apart from `schema.ts` because only the CLI and local tools read or write YAML: the
 * Lambdas validate parsed values and must not bundle the YAML library (~110 KB minified).
 */
import { LineCounter, parseDocument, stringify } from 'yaml';
import { AllowlistError } from '../errors.ts';
import { type Severity, VIOLATION_RULES } from '../types.ts';
import { type AllowlistDocument, orderRule, summariseIssues, validateAllowlist } from './schema.ts';

/** Parses YAML (or JSON, which is YAML) allowlist text; nothing is returned half-loaded. */
export function parseAllowlist(text: string, source = 'allowlist'): AllowlistDocument {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((error) => {
      const at = lines.linePos(error.pos[0]);
      return {
        path: `line ${at.line}, column ${at.col}`,
        message: error.message.split('\n')[0] ?? error.message,
      };
    });
    throw new AllowlistError(summariseIssues(source, issues, 'is not valid YAML'), issues);
  }
  return validateAllowlist(doc.toJS({ maxAliasCount: 100 }), source);
}

/** YAML in the file format, with a stable key order; `parseAllowlist` reads it back equal. */
export function serializeAllowlist(doc: AllowlistDocument): string {
  const out: Record<string, unknown> = { version: doc.version };
  if (doc.severities !== undefined) {
    const severities: Record<string, Severity> = {};
    for (const rule of VIOLATION_RULES) {
      const severity = doc.severities[rule];
      if (severity !== undefined) severities[rule] = severity;
    }
    out.severities = severities;
  }
  out.rules = doc.rules.map(orderRule);
  if (doc.pullThroughCache !== undefined) {
    out.pullThroughCache = doc.pullThroughCache.map((entry) => ({
      prefix: entry.prefix,
      upstream: entry.upstream,
    }));
  }
  return stringify(out, { lineWidth: 0, aliasDuplicateObjects: false });
}
