import type { Command } from 'commander';
import { parseNormalizedNamed } from '../../lambdas/core/reference.ts';
import { visible } from '../../lambdas/core/visible.ts';
import { EXIT } from '../context.ts';
import { csvLine } from '../format.ts';
import { readLines } from '../input.ts';
import type { Register } from '../main.ts';
import {
  type OutputFormat,
  type OutputOptions,
  outputFormat,
  withOutputOption,
} from '../output/format.ts';
import { loadYaml } from '../yaml-module.ts';

const FORMATS: readonly OutputFormat[] = ['table', 'json', 'yaml', 'csv'];
const CSV_HEADER = [
  'input',
  'valid',
  'string',
  'name',
  'domain',
  'path',
  'tag',
  'digest',
  'familiarName',
  'error',
];

/** The contract's JSON shape of one reference. */
function refJson(input: string) {
  const result = parseNormalizedNamed(input);
  return result.ok
    ? {
        input,
        valid: true as const,
        string: result.ref.string,
        name: result.ref.name,
        domain: result.ref.domain,
        path: result.ref.path,
        tag: result.ref.tag,
        digest: result.ref.digest,
        familiarName: result.ref.familiarName,
      }
    : { input, valid: false as const, error: result.error };
}

/** `regwatch ref`: parse and normalise image references like Go's distribution/reference. */
export const registerRef: Register = (program: Command, io, setExit) => {
  const cmd = program
    .command('ref')
    .description('parse and normalise image references (one per argument, or per line on stdin)')
    .argument('[image...]', 'image references');
  withOutputOption(cmd, FORMATS).action(async (images: string[], opts: OutputOptions) => {
    const format = outputFormat(opts, FORMATS);
    const inputs = images.length > 0 ? images : await readLines(io.stdin);
    const results = inputs.map(refJson);
    // Decided before printing, so a closed stdout (`| head`) still ends with it.
    setExit(results.some((r) => !r.valid) ? EXIT.usage : EXIT.ok);
    const { stringify } = format === 'yaml' ? await loadYaml() : { stringify: null };
    if (format === 'csv') io.stdout.write(csvLine(CSV_HEADER));
    for (const r of results) {
      if (format === 'json') io.stdout.write(`${JSON.stringify(r)}\n`);
      else if (format === 'yaml' && stringify) io.stdout.write(`---\n${stringify(r)}`);
      else if (format === 'csv') {
        io.stdout.write(
          csvLine(
            r.valid
              ? [
                  r.input,
                  true,
                  r.string,
                  r.name,
                  r.domain,
                  r.path,
                  r.tag,
                  r.digest,
                  r.familiarName,
                  '',
                ]
              : [r.input, false, '', '', '', '', '', '', '', r.error],
          ),
        );
      } else if (r.valid) io.stdout.write(`${visible(r.input)}\t${r.string}\n`);
      else io.stdout.write(`${visible(r.input)}\tINVALID: ${visible(r.error)}\n`);
    }
  });
};
