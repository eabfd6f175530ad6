import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, runCli } from '../helpers/cli.ts';
import { cosignSign, keyPair } from '../helpers/cosign.ts';
import { pushImage, TestRegistry } from '../helpers/oci-registry.ts';

const key = keyPair('p256');
let registry: TestRegistry;
let locked: TestRegistry;
let dir: string;
let allowlist: string;
let signed: string;
let unsigned: string;

beforeAll(async () => {
  registry = await new TestRegistry().start();
  locked = await new TestRegistry({ auth: { username: 'ci', password: 'pw' } }).start();
  signed = pushImage(registry, 'apps/api', '1.0', 'signed');
  cosignSign(registry, 'apps/api', signed, key.privateKey);
  unsigned = pushImage(registry, 'apps/api', '2.0', 'unsigned');
  const lockedDigest = pushImage(locked, 'apps/api', '1.0', 'locked');
  cosignSign(locked, 'apps/api', lockedDigest, key.privateKey);
  dir = mkdtempSync(path.join(tmpdir(), 'regwatch-verify-'));
  allowlist = path.join(dir, 'allowlist.yaml');
  const rule = (id: string, host: string) =>
    `  - id: ${id}\n    registry: "${host}"\n    repository: "apps/**"\n    requireSignature:\n      - cosign:\n          publicKeys:\n            - |\n${key.publicPem
      .trim()
      .split('\n')
      .map((l) => `              ${l}`)
      .join('\n')}\n`;
  writeFileSync(
    allowlist,
    `version: 1\nrules:\n${rule('signed', registry.host)}${rule('locked', locked.host)}${rule('down', 'down.example')}  - id: plain\n    registry: docker.io\n    repository: "library/*"\n`,
  );
});
afterAll(async () => {
  await registry.close();
  await locked.close();
});

const env = (extra: NodeJS.ProcessEnv = {}) => ({
  HOME: dir,
  REGWATCH_REGISTRY_ENDPOINTS: 'down.example=http://127.0.0.1:1',
  ...extra,
});

describe('regwatch verify', () => {
  it('verifies a signed image by tag (resolved to its digest) and by digest', async () => {
    // Act
    const run = await runCli(
      [
        'verify',
        '--allowlist',
        allowlist,
        '-o',
        'json',
        `${registry.host}/apps/api:1.0`,
        `${registry.host}/apps/api@${signed}`,
      ],
      { env: env() },
    );
    // Assess
    expect(run.code).toBe(0);
    const lines = jsonLines(run.stdout) as Record<string, unknown>[];
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).toMatchObject({
        status: 'verified',
        allowed: true,
        digest: signed,
        matchedRule: 'signed',
        signature: { status: 'verified', signer: expect.stringContaining('cosign key sha256:') },
        violations: [],
      });
    }
  });

  it('fits the default table in 100 columns', async () => {
    const run = await runCli(
      ['verify', '--allowlist', allowlist, `${registry.host}/apps/api:2.0`],
      { env: env() },
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('VIOLATION');
    for (const line of run.stdout.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
  });

  it('exits 1 with unsigned-image for an unsigned image, in a table (-o wide: whole cells)', async () => {
    const run = await runCli(
      ['verify', '--allowlist', allowlist, '-o', 'wide', `${registry.host}/apps/api:2.0`],
      { env: env() },
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('VIOLATION');
    expect(run.stdout).toContain(unsigned);
    expect(run.stdout).toContain('unsigned-image (high)');
    expect(run.stdout).toContain('1 image(s) verified, 1 with violations');
  });

  it('says clearly when a registry cannot be reached, and does not pass', async () => {
    const run = await runCli(
      [
        'verify',
        '--allowlist',
        allowlist,
        '--json',
        `down.example/apps/api@sha256:${'0'.repeat(64)}`,
        `${registry.host}/apps/api:1.0`,
      ],
      { env: env() },
    );
    expect(run.code).toBe(1);
    const [down, ok] = jsonLines(run.stdout) as Record<string, unknown>[];
    expect(down).toMatchObject({
      status: 'error',
      allowed: false,
      error: expect.stringContaining('registry down.example cannot be reached'),
    });
    expect(ok).toMatchObject({ status: 'verified' });
    expect(run.stderr).toContain('down.example/apps/api');
  });

  it('uses the docker config.json credentials for a registry that requires them', async () => {
    // Prepare
    const image = `${locked.host}/apps/api:1.0`;
    const anonymous = await runCli(['verify', '--allowlist', allowlist, '--json', image], {
      env: env(),
    });
    const config = path.join(dir, 'docker');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(config, { recursive: true });
    writeFileSync(
      path.join(config, 'config.json'),
      JSON.stringify({
        auths: { [`http://${locked.host}`]: { auth: Buffer.from('ci:pw').toString('base64') } },
      }),
    );
    // Act
    const withCreds = await runCli(['verify', '--allowlist', allowlist, '--json', image], {
      env: env({ DOCKER_CONFIG: config }),
    });
    // Assess
    expect(jsonLines(anonymous.stdout)[0]).toMatchObject({
      status: 'error',
      error: expect.stringContaining('401'),
    });
    expect(withCreds.code).toBe(0);
    expect(jsonLines(withCreds.stdout)[0]).toMatchObject({ status: 'verified' });
  });

  it('reports images no rule asks a signature of as allowed without one', async () => {
    const run = await runCli(
      ['verify', '--allowlist', allowlist, '--json', `nginx@sha256:${'1'.repeat(64)}`],
      { env: env() },
    );
    expect(run.code).toBe(0);
    expect(jsonLines(run.stdout)[0]).toMatchObject({
      status: 'allowed',
      signature: null,
      matchedRule: 'plain',
    });
  });

  it('refuses an unknown output format', async () => {
    const run = await runCli(['verify', '--allowlist', allowlist, '-o', 'xml', 'nginx'], {
      env: env(),
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('-o xml');
  });
});

describe('regwatch check --verify-signatures', () => {
  it('fails closed without the flag and verifies with it', async () => {
    // Act
    const without = await runCli(
      ['check', '--allowlist', allowlist, '--json', `${registry.host}/apps/api:1.0`],
      { env: env() },
    );
    const withFlag = await runCli(
      [
        'check',
        '--allowlist',
        allowlist,
        '--json',
        '--verify-signatures',
        `${registry.host}/apps/api:1.0`,
        `${registry.host}/apps/api:2.0`,
      ],
      { env: env() },
    );
    // Assess
    expect(without.code).toBe(1);
    expect(jsonLines(without.stdout)[0]).toMatchObject({
      allowed: false,
      violations: [
        expect.objectContaining({
          rule: 'unsigned-image',
          message: expect.stringContaining('not verified'),
        }),
      ],
    });
    expect(withFlag.code).toBe(1);
    const [a, b] = jsonLines(withFlag.stdout) as Record<string, unknown>[];
    expect(a).toMatchObject({ allowed: true, matchedRule: 'signed' });
    expect(b).toMatchObject({
      allowed: false,
      violations: [expect.objectContaining({ rule: 'unsigned-image' })],
    });
  });
});
