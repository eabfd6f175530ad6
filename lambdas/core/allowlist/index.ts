/** The allowlist: file format, validation, serialization, compiled matcher and decisions. */
export {
  type CompiledAllowlist,
  type CompiledRule,
  compileAllowlist,
  specificityOf,
} from './compile.ts';
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
  parseAllowlist,
  type RuleTarget,
  ruleTarget,
  serializeAllowlist,
  validateAllowlist,
  validateRule,
} from './schema.ts';
