/**
 * `regwatch check` for CI systems that read plain text or XML: GitHub Actions workflow
 * commands (`-o github`, annotations on the `image:` line) and JUnit XML (`-o junit`, one
 * testcase per container). Attacker-chosen text is made `visible` first, then encoded for the
 * format, so no name can end a command, open a new one, or break the XML.
 */

import type { Severity } from '../../lambdas/core/types.ts';
import { visible } from '../../lambdas/core/visible.ts';
import type { CheckReport, CheckResult } from './check-result.ts';
import { worstViolation } from './check-result.ts';
import { ruleUri } from './rules.ts';

/** Workflow command message data: `%`, CR and LF are percent-encoded (actions/toolkit rules). */
export function escapeGithubData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Workflow command property values: also `:` and `,`, which end a property. */
export function escapeGithubProperty(text: string): string {
  return escapeGithubData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

const GITHUB_LEVEL: Record<Severity, 'error' | 'warning' | 'notice'> = {
  critical: 'error',
  high: 'error',
  medium: 'warning',
  low: 'notice',
};

function command(
  level: string,
  props: Record<string, string | number | null | undefined>,
  message: string,
): string {
  const list = Object.entries(props)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${escapeGithubProperty(visible(String(v)))}`)
    .join(',');
  return `::${level}${list ? ` ${list}` : ''}::${escapeGithubData(visible(message))}\n`;
}

function where(r: CheckResult): string {
  const s = r.source;
  if (!s) return '';
  return `${s.kind}/${s.name} ${s.containerKind} ${s.container}${s.judgedBy === 'shape' ? ' (kind judged by shape)' : ''}: `;
}

export function toGithub(report: CheckReport): string {
  let out = '';
  for (const r of report.results) {
    if (r.allowed) continue;
    const worst = worstViolation(r);
    const file = r.source && r.source.file !== '-' ? r.source.file : undefined;
    out += command(
      GITHUB_LEVEL[worst?.severity ?? 'high'],
      {
        file,
        line: file ? r.source?.line : undefined,
        col: file ? r.source?.column : undefined,
        title: `regwatch ${worst?.rule ?? 'violation'}: ${r.image}`,
      },
      `${where(r)}${r.violations.map((v) => `${v.rule} (${v.severity}): ${v.message}`).join('; ')}`,
    );
  }
  for (const p of report.problems) {
    const file = p.file !== '-' ? p.file : undefined;
    out += command(
      'error',
      {
        file,
        line: file ? p.line : undefined,
        col: file ? p.column : undefined,
        title: 'regwatch: unreadable manifest',
      },
      `${p.file}: ${p.message}`,
    );
  }
  const bad = report.results.filter((r) => !r.allowed).length;
  out += `regwatch: ${report.results.length} image(s) checked, ${bad} with violations${report.problems.length ? `, ${report.problems.length} file problem(s)` : ''}\n`;
  return out;
}

/** XML 1.0 text and attribute content. `visible` already removed what XML cannot hold. */
export function xml(text: string): string {
  return visible(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function testcaseName(r: CheckResult): string {
  const s = r.source;
  return s ? `${s.kind}/${s.name} ${s.containerKind} ${s.container}: ${r.image}` : r.image;
}

export function toJunit(report: CheckReport): string {
  const failures = report.results.filter((r) => !r.allowed).length;
  const errors = report.problems.length;
  const tests = report.results.length + errors;
  const cases: string[] = [];
  for (const r of report.results) {
    const s = r.source;
    const attrs = [
      `name="${xml(testcaseName(r))}"`,
      `classname="${xml(s ? s.file : 'images')}"`,
      ...(s && s.file !== '-' ? [`file="${xml(s.file)}"`] : []),
      ...(s?.line ? [`line="${s.line}"`] : []),
    ].join(' ');
    if (r.allowed) {
      cases.push(`    <testcase ${attrs}/>`);
      continue;
    }
    const worst = worstViolation(r);
    const message = r.violations.map((v) => `${v.rule} (${v.severity}): ${v.message}`).join('; ');
    const lines = [
      s ? `${s.file}${s.line ? `:${s.line}${s.column ? `:${s.column}` : ''}` : ''}` : r.image,
      ...(s?.judgedBy === 'shape' ? [`kind ${s.kind} judged by shape at ${s.path}`] : []),
      ...r.violations.map((v) => `${v.rule} (${v.severity}): ${v.message} — ${ruleUri(v.rule)}`),
    ];
    const body = lines.map(xml).join('\n');
    cases.push(
      `    <testcase ${attrs}>\n      <failure type="${xml(worst?.rule ?? 'violation')}" message="${xml(message)}">${body}</failure>\n    </testcase>`,
    );
  }
  for (const p of report.problems) {
    const at = `${p.file}${p.line ? `:${p.line}${p.column ? `:${p.column}` : ''}` : ''}`;
    cases.push(
      `    <testcase name="${xml(`unreadable: ${p.file}`)}" classname="${xml(p.file)}"${p.file !== '-' ? ` file="${xml(p.file)}"` : ''}${p.line ? ` line="${p.line}"` : ''}>\n      <error type="unreadable-manifest" message="${xml(p.message)}">${xml(`${at}: ${p.message}`)}</error>\n    </testcase>`,
    );
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="regwatch" tests="${tests}" failures="${failures}" errors="${errors}">`,
    `  <testsuite name="regwatch check" tests="${tests}" failures="${failures}" errors="${errors}" skipped="0">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
