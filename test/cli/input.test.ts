import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MAX_LIST_LINE_BYTES, readAll, readLines } from '../../cli/input.ts';
import { ValidationError } from '../../lambdas/core/errors.ts';
import { runCli } from '../helpers/cli.ts';

const chunks = (...parts: string[]) => Readable.from(parts.map((p) => Buffer.from(p)));

describe('standard input is bounded', () => {
  it('reads lines across chunks, skipping blanks and comments', async () => {
    expect(await readLines(chunks('nginx\r\n# c', 'omment\n\n  alpine:3 \n', 'busybox'))).toEqual([
      'nginx',
      'alpine:3',
      'busybox',
    ]);
  });

  it('refuses an input over the limit with a named error, without reading the rest', async () => {
    // Act
    const all = readAll(chunks('a'.repeat(600), 'b'.repeat(600)), 1000);
    const lines = readLines(chunks('x\n'.repeat(600)), 1000);
    // Assess
    await expect(all).rejects.toThrow(ValidationError);
    await expect(all).rejects.toThrow('standard input is larger than 1000 bytes: not read');
    await expect(lines).rejects.toThrow('standard input is larger than 1000 bytes: not read');
  });

  it('refuses an over-long line of an image list, naming it', async () => {
    // Act
    const lines = readLines(chunks('nginx\n', `${'a'.repeat(MAX_LIST_LINE_BYTES + 1)}\n`));
    // Assess
    await expect(lines).rejects.toThrow(
      `standard input line 2 is longer than ${MAX_LIST_LINE_BYTES} characters: not an image reference`,
    );
  });

  it('regwatch ref on such input exits 2 with one line, not an unexpected error', async () => {
    // Act
    const run = await runCli(['ref'], { stdin: 'b'.repeat(MAX_LIST_LINE_BYTES + 10) });
    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `regwatch: standard input line 1 is longer than ${MAX_LIST_LINE_BYTES} characters: not an image reference\n`,
    );
  });
});
