/**
 * A small JUnit XML writer for `regwatch test -o junit` (one testsuite per test file, one
 * testcase per test). The manifests-outputs branch builds the shared JUnit/SARIF writers;
 * this one is local to `regwatch test` until the lead unifies them.
 */
import type { FileResult } from './run.ts';

/** XML 1.0 text: the five entities escaped, characters XML cannot hold dropped. */
export function xmlText(value: string): string {
  return value
    .replace(/[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Test and image names come from files: control characters are shown escaped, not sent to a terminal. */
export function printable(text: string): string {
  return text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: these are what is being escaped
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export function failureText(c: FileResult['cases'][number]): string {
  const lines: string[] = [];
  for (const i of c.images) {
    if (i.ok) continue;
    const expected = i.expected === null ? '(no expectation)' : JSON.stringify(i.expected);
    lines.push(
      `${printable(i.image)}${i.where ? ` (${i.where})` : ''}: expected ${expected}, got ${JSON.stringify(i.actual)}${i.messages.length > 0 ? ` — ${i.messages.join('; ')}` : ''}`,
    );
  }
  for (const image of c.missing)
    lines.push(`${image}: expected, but no resource of the test holds it`);
  return lines.join('\n');
}

export function toJUnit(files: readonly FileResult[]): string {
  const total = files.reduce((n, f) => n + f.cases.length, 0);
  const failed = files.reduce((n, f) => n + f.cases.filter((c) => !c.passed).length, 0);
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="regwatch test" tests="${total}" failures="${failed}">`,
  ];
  for (const f of files) {
    const failures = f.cases.filter((c) => !c.passed).length;
    out.push(
      `  <testsuite name="${xmlText(f.name)}" file="${xmlText(f.file)}" tests="${f.cases.length}" failures="${failures}">`,
    );
    for (const c of f.cases) {
      const head = `    <testcase classname="${xmlText(f.name)}" name="${xmlText(c.name)}"`;
      if (c.passed) {
        out.push(`${head}/>`);
      } else {
        out.push(`${head}>`);
        out.push(`      <failure message="unexpected result">${xmlText(failureText(c))}</failure>`);
        out.push('    </testcase>');
      }
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}
