/**
 * No call spreads (`push(...xs)`, `Math.max(...xs)`) in shipped code: each element becomes a
 * stack argument, so an input-sized array overflows the stack (5 MiB of junk lines once got a
 * 500 this way). Rest parameters (`(...args: T[])`) are fine.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const SHIPPED = ['lambdas', 'cli', 'forwarder/src', 'lib', 'bin'];

function* tsFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') yield* tsFiles(full);
    } else if (entry.name.endsWith('.ts')) yield full;
  }
}

/** `f(...xs` or `f(a, ...xs` where `...xs` is not a typed rest parameter. */
const CALL_SPREAD = /[\w\])]\s*\((?:[^()[\]{}]*,\s*)?\.\.\.[\w.[\]()]+(?!\s*:)/g;

describe('shipped code', () => {
  it('has no call spread of an array', () => {
    // Act
    const hits: string[] = [];
    for (const dir of SHIPPED) {
      for (const file of tsFiles(path.join(root, dir))) {
        const lines = readFileSync(file, 'utf8').split('\n');
        lines.forEach((line, i) => {
          if (line.trimStart().startsWith('//') || line.trimStart().startsWith('*')) return;
          for (const m of line.matchAll(CALL_SPREAD)) {
            // `(...fields: T[]) =>` and `function f(...args: T[])` are parameters.
            if (/^\s*:/.test(line.slice((m.index ?? 0) + m[0].length))) continue;
            hits.push(`${path.relative(root, file)}:${i + 1}: ${line.trim()}`);
          }
        });
      }
    }
    // Assess
    expect(hits).toEqual([]);
  });

  it('the pattern finds what it should', () => {
    expect('a.push(...xs);'.match(CALL_SPREAD)).not.toBeNull();
    expect('Math.max(1, ...xs)'.match(CALL_SPREAD)).not.toBeNull();
    expect('const f = (...fields: string[]) => 1'.match(CALL_SPREAD)).toBeNull();
    expect('[...xs, y]'.match(CALL_SPREAD)).toBeNull();
  });
});
