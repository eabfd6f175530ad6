/**
 * The allowlist: file format, validation, serialization, compiled matcher and decisions.
 * For the CLI, tests and benches. Code bundled into a Lambda imports `schema.ts` and
 * `compile.ts` directly: through this barrel esbuild would also keep `yaml.ts` and its library.
 */
export {
  type CompiledAllowlist,
  type CompiledRule,
  compileValidated,
  specificityOf,
} from './compile.ts';
export { compileAllowlist } from './compile-allowlist.ts';
export {
  ALLOWLIST_VERSION,
  type AllowlistDocument,
  type AllowlistIssue,
  type AllowlistRule,
  allowlistDocumentSchema,
  allowlistRuleSchema,
  DEFAULT_SEVERITIES,
  expandImageShorthand,
  type PullThroughCacheEntry,
  RULE_KEYS,
  type RuleTarget,
  ruleTarget,
  validateAllowlist,
  validateRule,
} from './schema.ts';
export { parseAllowlist, serializeAllowlist } from './yaml.ts';
