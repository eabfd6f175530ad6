/**
 * The allowlist checks that span fields (of one rule, or of the whole document), zod-free so
 * that the schema (schema.ts) and the quick acceptance (quick-validate.ts) run the same code.
 */

import { matchesOnlySingleSegment, parseRepositoryPattern } from './patterns.ts';
import type { AllowlistIssue, AllowlistRule } from './schema.ts';

/** Checks that span fields of one rule (run after the fields themselves are valid). */
export function ruleCrossIssues(rule: AllowlistRule): { path: string[]; message: string }[] {
  const issues: { path: string[]; message: string }[] = [];
  const explicit = rule.registry !== undefined || rule.repository !== undefined;
  if (rule.image !== undefined && explicit) {
    issues.push({
      path: ['image'],
      message: 'give either image or registry/repository, not both',
    });
  } else if (rule.image === undefined && rule.registry === undefined) {
    issues.push({
      path: rule.repository === undefined ? [] : ['registry'],
      message:
        rule.repository === undefined
          ? 'needs image or registry'
          : 'is required with repository (or use image)',
    });
  }
  if (rule.effect === 'deny') {
    // A deny rule refuses what it matches; constraints would only say "deny unless…",
    // which is an allow rule's job. Refused so no one reads a deny as conditional.
    for (const key of ['requireDigest', 'denyTags'] as const) {
      if (rule[key] !== undefined) {
        issues.push({
          path: [key],
          message: `a deny rule has no constraints (it refuses whatever it matches); narrow it with tags, digests or scope, or write an allow rule`,
        });
      }
    }
  }
  if (rule.registry !== undefined) {
    const host = rule.registry.toLowerCase();
    if (host === 'index.docker.io') {
      issues.push({
        path: ['registry'],
        message: 'index.docker.io is normalised to docker.io in image references; write docker.io',
      });
    }
    const repository = parseRepositoryPattern(rule.repository ?? '**');
    if (host === 'docker.io' && repository.ok && matchesOnlySingleSegment(repository.value)) {
      issues.push({
        path: ['repository'],
        message: `Docker Hub repositories always have two or more segments (official images are library/<name>); "${rule.repository}" can never match`,
      });
    }
  }
  return issues;
}

/** Duplicate rule ids and duplicate cache prefixes, checked on the raw value so they are
 * reported even when other fields are broken. */
export function documentCrossIssues(value: object): AllowlistIssue[] {
  const issues: AllowlistIssue[] = [];
  const raw = value as { rules?: unknown; pullThroughCache?: unknown };
  if (Array.isArray(raw.rules)) {
    const seen = new Map<string, number>();
    raw.rules.forEach((rule: unknown, index) => {
      const id = (rule as { id?: unknown } | null)?.id;
      if (typeof id !== 'string') return;
      const first = seen.get(id);
      if (first === undefined) seen.set(id, index);
      else {
        issues.push({
          path: `${rulePath(index, id)}.id`,
          message: `duplicate id (already used by rules[${first}])`,
        });
      }
    });
  }
  if (Array.isArray(raw.pullThroughCache)) {
    const seen = new Map<string, number>();
    raw.pullThroughCache.forEach((entry: unknown, index) => {
      const prefix = (entry as { prefix?: unknown } | null)?.prefix;
      if (typeof prefix !== 'string') return;
      const key = prefix.toLowerCase();
      const first = seen.get(key);
      if (first === undefined) seen.set(key, index);
      else {
        issues.push({
          path: `pullThroughCache[${index}].prefix`,
          message: `duplicate prefix (already used by pullThroughCache[${first}])`,
        });
      }
    });
  }
  return issues;
}

function rulePath(index: number, id: unknown): string {
  return typeof id === 'string' ? `rules[${index}] (id ${JSON.stringify(id)})` : `rules[${index}]`;
}
