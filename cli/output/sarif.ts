/**
 * SARIF 2.1.0 for `regwatch check` (GitHub code scanning, GitLab, IDE viewers): one rule per
 * violation kind with help text and a docs link, one result per violating container located
 * at its `image:` value, and `partialFingerprints` built from what identifies the container
 * (file, workload, path, image, rule) — never line numbers — so an alert survives unrelated
 * edits and reruns. Files that could not be read are tool execution notifications.
 */
import { createHash } from 'node:crypto';
import type { Severity } from '../../lambdas/core/types.ts';
import type { CheckProblem, CheckReport, CheckResult } from './check-result.ts';
import { worstViolation } from './check-result.ts';
import { REGWATCH_HOME, ruleHelp, ruleIds, ruleUri } from './rules.ts';

export const SARIF_SCHEMA =
  'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {
  critical: 'error',
  high: 'error',
  medium: 'warning',
  low: 'note',
};

/** GitHub's `security-severity` (CVSS-like 0–10) so code scanning ranks the alerts. */
const SECURITY_SEVERITY: Record<Severity, string> = {
  critical: '9.5',
  high: '8.0',
  medium: '5.5',
  low: '3.0',
};

/** A relative path as a URI reference: `/` separators, each segment percent-encoded. */
export function fileUri(file: string): string {
  return file.replace(/\\/g, '/').split('/').map(encodeURIComponent).join('/');
}

function fingerprint(r: CheckResult, rule: string): string {
  const s = r.source;
  const parts = [
    s?.file ?? '',
    s?.namespace ?? '',
    s ? `${s.kind}/${s.name}` : '',
    s?.path ?? '',
    s ? `${s.containerKind}/${s.container}` : '',
    r.image,
    rule,
  ];
  return createHash('sha256').update(parts.join('\0')).digest('hex');
}

function location(file: string, line: number | null, column: number | null) {
  if (file === '' || file === '-') return undefined;
  return {
    physicalLocation: {
      artifactLocation: { uri: fileUri(file), uriBaseId: '%SRCROOT%' },
      ...(line !== null
        ? { region: { startLine: line, ...(column !== null ? { startColumn: column } : {}) } }
        : {}),
    },
  };
}

function resultMessage(r: CheckResult): string {
  const s = r.source;
  const where = s
    ? `${s.kind}/${s.name} ${s.containerKind} ${JSON.stringify(s.container)}${s.judgedBy === 'shape' ? ' (kind judged by shape)' : ''}: `
    : '';
  return `${where}${r.violations.map((v) => `${v.rule} (${v.severity}): ${v.message}`).join('; ')}`;
}

function notification(p: CheckProblem) {
  const loc = location(p.file, p.line, p.column);
  return {
    level: 'error' as const,
    message: { text: `${p.file}: ${p.message}` },
    ...(loc ? { locations: [loc] } : {}),
  };
}

export function toSarif(report: CheckReport, toolVersion?: string) {
  const violating = report.results.filter((r) => !r.allowed);
  const ids = ruleIds(
    [...new Set(violating.flatMap((r) => r.violations.map((v) => v.rule)))].sort(),
  );
  const rules = ids.map((id) => {
    const h = ruleHelp(id);
    return {
      id,
      name: h.name,
      shortDescription: { text: h.short },
      fullDescription: { text: `${h.short} ${h.help}` },
      help: {
        text: `${h.help} ${ruleUri(id)}`,
        markdown: `${h.help}\n\n[Details](${ruleUri(id)})`,
      },
      helpUri: ruleUri(id),
      properties: { tags: ['security', 'supply-chain', 'kubernetes'] },
    };
  });
  const results = violating.map((r) => {
    const worst = worstViolation(r);
    const rule = worst?.rule ?? 'invalid-reference';
    const severity = worst?.severity ?? 'high';
    const loc = r.source ? location(r.source.file, r.source.line, r.source.column) : undefined;
    return {
      ruleId: rule,
      ruleIndex: ids.indexOf(rule),
      level: LEVEL[severity],
      message: { text: resultMessage(r) },
      ...(loc ? { locations: [loc] } : {}),
      partialFingerprints: { 'regwatchContainer/v1': fingerprint(r, rule) },
      properties: {
        image: r.image,
        reference: r.reference,
        severity,
        'security-severity': SECURITY_SEVERITY[severity],
        violations: r.violations.map((v) => v.rule),
        ...(r.source
          ? {
              workload: `${r.source.kind}/${r.source.name}`,
              namespace: r.source.namespace,
              container: r.source.container,
              containerKind: r.source.containerKind,
              judgedBy: r.source.judgedBy,
              path: r.source.path,
            }
          : {}),
      },
    };
  });
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0' as const,
    runs: [
      {
        tool: {
          driver: {
            name: 'regwatch',
            informationUri: REGWATCH_HOME,
            ...(toolVersion ? { semanticVersion: toolVersion } : {}),
            rules,
          },
        },
        invocations: [
          {
            executionSuccessful: report.problems.length === 0,
            toolExecutionNotifications: report.problems.map(notification),
          },
        ],
        columnKind: 'utf16CodeUnits' as const,
        results,
      },
    ],
  };
}
