/**
 * `regwatch verify` with Notation entries, through the real CLI against the loopback registry:
 * the allowlist YAML names a trust store (PEM) and an x509.subject identity; the output says
 * which kind of entry verified and who signed.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, runCli } from '../helpers/cli.ts';
import { certPem, pushNotationSignature } from '../helpers/notation.ts';
import { pushImage, TestRegistry } from '../helpers/oci-registry.ts';

let registry: TestRegistry;
let allowlist: string;
let dir: string;
let signed: string;
let forged: string;

const indent = (text: string, by: string) =>
  text
    .trim()
    .split('\n')
    .map((line) => `${by}${line}`)
    .join('\n');

beforeAll(async () => {
  registry = await new TestRegistry().start();
  signed = pushImage(registry, 'apps/api', '1.0', 'notation-cli-signed');
  pushNotationSignature(registry, 'apps/api', signed);
  forged = pushImage(registry, 'apps/api', '2.0', 'notation-cli-forged');
  pushNotationSignature(registry, 'apps/api', forged, { chain: ['other-leaf', 'other-root'] });
  dir = mkdtempSync(path.join(tmpdir(), 'regwatch-verify-notation-'));
  allowlist = path.join(dir, 'allowlist.yaml');
  writeFileSync(
    allowlist,
    [
      'version: 1',
      'rules:',
      '  - id: notation-signed',
      `    registry: "${registry.host}"`,
      '    repository: "apps/**"',
      '    requireSignature:',
      '      - notation:',
      '          trustedCertificates:',
      '            - |',
      indent(certPem('root'), '              '),
      '          trustedIdentities:',
      '            - "x509.subject: C=US, ST=WA, O=regwatch-test, OU=release, CN=builder"',
      '',
    ].join('\n'),
  );
});
afterAll(async () => {
  await registry.close();
});

describe('regwatch verify with a notation entry', () => {
  it('verifies a Notation-signed image and names the entry kind and the signer', async () => {
    const run = await runCli(
      ['verify', '--allowlist', allowlist, '--json', `${registry.host}/apps/api:1.0`],
      { env: { HOME: dir } },
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(jsonLines(run.stdout)[0]).toMatchObject({
      status: 'verified',
      digest: signed,
      signature: {
        status: 'verified',
        kind: 'notation',
        signer: expect.stringContaining('notation x509.subject: C=US, ST=WA, L=Seattle'),
      },
    });
    const table = await runCli(
      ['verify', '--allowlist', allowlist, '-o', 'wide', `${registry.host}/apps/api:1.0`],
      { env: { HOME: dir } },
    );
    expect(table.stdout).toContain('signed (notation): notation x509.subject:');
  });

  it('a signature chaining to another root is signature-invalid, exit 1', async () => {
    const run = await runCli(
      ['verify', '--allowlist', allowlist, '--json', `${registry.host}/apps/api:2.0`],
      { env: { HOME: dir } },
    );
    expect(run.code).toBe(1);
    expect(jsonLines(run.stdout)[0]).toMatchObject({
      status: 'violation',
      digest: forged,
      violations: [
        expect.objectContaining({
          rule: 'signature-invalid',
          message: expect.stringContaining('does not lead to a certificate the entry trusts'),
        }),
      ],
    });
  });
});
