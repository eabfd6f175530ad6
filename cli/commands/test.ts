/**
 * `regwatch test [DIR|FILE…] [-o table|json|junit]`: runs allowlist test files
 * (`*.regwatch-test.yaml`, see cli/testing/file.ts). Exit 0 when every test passes, 1 when
 * any fails, 2 for a bad test file.
 */
import type { Command } from 'commander';
import { UsageError } from '../../lambdas/core/errors.ts';
import { EXIT } from '../context.ts';
import type { Register } from '../main.ts';

const FORMATS = ['table', 'json', 'junit'] as const;

export const registerTest: Register = (program: Command, io, setExit) => {
  program
    .command('test')
    .description('run allowlist tests (*.regwatch-test.yaml): expected result per image')
    .argument('[paths...]', 'test files or directories (default: .)')
    .option('-o, --output <format>', 'table, json or junit', 'table')
    .action(async (paths: string[], opts: { output: string }) => {
      const format = FORMATS.find((f) => f === opts.output);
      if (!format) throw new UsageError(`-o must be one of ${FORMATS.join(', ')}`);
      const { findTestFiles, runTestFile } = await import('../testing/run.ts');
      const files = findTestFiles(paths, io);
      const now = new Date();
      const results = [];
      for (const file of files) results.push(await runTestFile(file, io, now));
      const cases = results.flatMap((r) => r.cases);
      const failed = cases.filter((c) => !c.passed);
      if (format === 'json') {
        io.stdout.write(
          `${JSON.stringify({ files: results, summary: { tests: cases.length, passed: cases.length - failed.length, failed: failed.length } })}\n`,
        );
      } else if (format === 'junit') {
        const { toJUnit } = await import('../testing/junit.ts');
        io.stdout.write(toJUnit(results));
      } else {
        const { failureText, printable } = await import('../testing/junit.ts');
        const { formatTable } = await import('../table.ts');
        const rows = results.flatMap((r) =>
          r.cases.map((c) => [
            c.passed ? 'PASS' : 'FAIL',
            printable(r.name),
            printable(c.name),
            String(c.images.length),
          ]),
        );
        io.stdout.write(`${formatTable(['RESULT', 'FILE', 'TEST', 'IMAGES'], rows)}\n`);
        for (const c of failed) io.stdout.write(`\nFAIL ${printable(c.name)}\n${failureText(c)}\n`);
        io.stdout.write(
          `\n${cases.length} test(s) in ${results.length} file(s): ${cases.length - failed.length} passed, ${failed.length} failed\n`,
        );
      }
      setExit(failed.length > 0 ? EXIT.violations : EXIT.ok);
    });
};
