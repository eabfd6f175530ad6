/**
 * The CLI's allowlist reader (`cli/allowlist-parse.ts`: the plain-YAML subset first, the YAML
 * library for anything else) answers as `parseAllowlist` does: the same document, or the same
 * AllowlistError with the same issues, YAML positions included.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllowlistText } from '../../cli/allowlist-parse.ts';
import { parseAllowlist } from '../../lambdas/core/allowlist/yaml.ts';
import { AllowlistError } from '../../lambdas/core/errors.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const EXAMPLE = readFileSync(path.join(ROOT, 'examples/allowlist.yaml'), 'utf8');

async function outcome(read: () => unknown): Promise<unknown> {
  try {
    return { document: await read() };
  } catch (error) {
    expect(error).toBeInstanceOf(AllowlistError);
    const { message, issues } = error as AllowlistError;
    return { message, issues };
  }
}

describe('parseAllowlistText', () => {
  it('gives the schema’s document for a signature requirement', async () => {
    const text =
      'version: 1\nrules:\n  - id: a\n    image: ghcr.io/acme/*\n    requireSignature:\n      - keyless:\n          issuer: https://token.actions.githubusercontent.com\n          subject: https://github.com/acme/**\n';
    expect((await parseAllowlistText(text, 'a.yaml')).rules[0]?.requireSignature).toHaveLength(1);
  });

  it.each([
    ['the example allowlist (plain YAML)', EXAMPLE],
    ['the example behind a directive (the library reads it)', `%YAML 1.2\n---\n${EXAMPLE}`],
    [
      'anchors and aliases',
      'version: 1\nrules:\n  - id: a\n    image: nginx\n    tags: &t ["1"]\n  - id: b\n    image: redis\n    tags: *t\n',
    ],
    [
      'a signature requirement (quick acceptance leaves it to the schema)',
      'version: 1\nrules:\n  - id: a\n    image: ghcr.io/acme/*\n    requireSignature:\n      - keyless:\n          issuer: https://token.actions.githubusercontent.com\n          subject: https://github.com/acme/**\n',
    ],
    ['the example with a rule removed', EXAMPLE.replace(/ {2}- id: company-ecr[\s\S]*?\n\n/, '')],
    [
      'a schema error in plain YAML',
      'version: 1\nrules:\n  - id: a\n    image: nginx\n    tags: []\n    imagee: x\n',
    ],
    ['a wrong type in plain YAML', 'version: 2\nrules:\n  - id: 7\n    requireDigest: "yes"\n'],
    ['a duplicate key', 'version: 1\nrules: []\nrules: []\n'],
    ['bad indentation', 'version: 1\nrules:\n  - id: a\n     image: nginx\n'],
    ['a tab', 'version: 1\nrules:\n\t- id: a\n'],
    ['an unclosed quote', 'version: 1\nrules:\n  - id: "a\n'],
  ])('%s: as parseAllowlist', async (_what, text) => {
    // Act
    const ours = await outcome(() => parseAllowlistText(text, 'a.yaml'));
    const library = await outcome(() => parseAllowlist(text, 'a.yaml'));
    // Assess
    expect(ours).toEqual(library);
  });

  it('reports YAML errors with their line and column', async () => {
    const result = await outcome(() =>
      parseAllowlistText('version: 1\nrules: []\nrules: []\n', 'a.yaml'),
    );
    expect(result).toMatchObject({ issues: [{ path: 'line 3, column 1' }] });
  });
});
