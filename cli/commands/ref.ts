import type { Command } from 'commander';
import { parseNormalizedNamed } from '../../lambdas/core/reference.ts';
import { EXIT } from '../context.ts';
import { readLines } from '../input.ts';
import type { Register } from '../main.ts';

/** `regwatch ref`: parse and normalise image references like Go's distribution/reference. */
export const registerRef: Register = (program: Command, io, setExit) => {
  program
    .command('ref')
    .description('parse and normalise image references (one per argument, or per line on stdin)')
    .argument('[image...]', 'image references')
    .option('--json', 'one JSON object per line')
    .action(async (images: string[], opts: { json?: boolean }) => {
      const inputs = images.length > 0 ? images : await readLines(io.stdin);
      let anyInvalid = false;
      for (const input of inputs) {
        const result = parseNormalizedNamed(input);
        if (!result.ok) anyInvalid = true;
        if (opts.json) {
          const obj = result.ok
            ? {
                input,
                valid: true,
                string: result.ref.string,
                name: result.ref.name,
                domain: result.ref.domain,
                path: result.ref.path,
                tag: result.ref.tag,
                digest: result.ref.digest,
                familiarName: result.ref.familiarName,
              }
            : { input, valid: false, error: result.error };
          io.stdout.write(`${JSON.stringify(obj)}\n`);
        } else if (result.ok) {
          io.stdout.write(`${input}\t${result.ref.string}\n`);
        } else {
          io.stdout.write(`${input}\tINVALID: ${result.error}\n`);
        }
      }
      setExit(anyInvalid ? EXIT.usage : EXIT.ok);
    });
};
