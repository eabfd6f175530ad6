/** What `regwatch check` judged, in the shape every output format (table … sarif) renders. */
import type { Severity } from '../../lambdas/core/types.ts';

export interface CheckSource {
  /** Path relative to the working directory (`-` for stdin), with `/` separators. */
  file: string;
  kind: string;
  name: string;
  namespace: string | null;
  container: string;
  containerKind: string;
  /** `kind`: read where the kind keeps its pod spec; `shape`: an unknown kind, found by shape. */
  judgedBy: 'kind' | 'shape';
  /** Where the `image:` value is: document index and path (`spec.template.spec.containers[0].image`). */
  document: number;
  path: string;
  line: number | null;
  column: number | null;
}

export interface CheckViolation {
  rule: string;
  severity: Severity;
  message: string;
}

export interface CheckResult {
  image: string;
  allowed: boolean;
  reference: string | null;
  matchedRule: string | null;
  violations: CheckViolation[];
  source?: CheckSource;
}

/** A file or document that could not be read; the run goes on and exits 2 at the end. */
export interface CheckProblem {
  file: string;
  line: number | null;
  column: number | null;
  message: string;
}

export interface CheckReport {
  results: CheckResult[];
  problems: CheckProblem[];
  /** Manifest files read (0 when only images were given). */
  files: number;
}

/** The most severe violation first (ties: the order the allowlist reported them). */
export function worstViolation(r: CheckResult): CheckViolation | undefined {
  const order: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };
  let worst: CheckViolation | undefined;
  for (const v of r.violations) if (!worst || order[v.severity] > order[worst.severity]) worst = v;
  return worst;
}
