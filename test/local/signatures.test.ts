/**
 * Local mode with `requireSignature`: the same verifier against whatever registry is
 * configured (here a loopback registry, named through REGWATCH_REGISTRY_ENDPOINTS the way
 * `regwatch local` reads it).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliVerifier } from '../../cli/signatures.ts';
import type { Finding } from '../../lambdas/core/types.ts';
import { type LocalInstance, startLocal } from '../../lambdas/local/app.ts';
import { cosignSign, keyPair } from '../helpers/cosign.ts';
import { pushImage, TestRegistry } from '../helpers/oci-registry.ts';

const key = keyPair('ed25519');
const HOST = 'registry.corp.example:5000';
let registry: TestRegistry;
let local: LocalInstance;

beforeAll(async () => {
  registry = await new TestRegistry().start();
  const dir = mkdtempSync(path.join(tmpdir(), 'regwatch-local-sig-'));
  const allowlistFile = path.join(dir, 'allowlist.yaml');
  const pem = key.publicPem
    .trim()
    .split('\n')
    .map((l) => `              ${l}`)
    .join('\n');
  writeFileSync(
    allowlistFile,
    `version: 1\nrules:\n  - id: corp\n    registry: "${HOST}"\n    requireSignature:\n      - cosign:\n          publicKeys:\n            - |\n${pem}\n`,
  );
  const io = {
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    env: { HOME: dir, REGWATCH_REGISTRY_ENDPOINTS: `${HOST}=http://${registry.host}` },
    cwd: dir,
  };
  local = await startLocal({
    port: 0,
    dynamodbPort: 0,
    allowlistFile,
    minAlertSeverity: 'low',
    vulnerableThreshold: 'critical',
    scanTimeoutMinutes: 30,
    out: null,
    err: () => {},
    signatures: await cliVerifier(io, { failClosed: true }),
  });
});
afterAll(async () => {
  await local?.stop();
  await registry.close();
});

function podEvent(name: string, digest: string) {
  return {
    cluster: 'dev',
    observedAt: '2026-11-25T08:00:00Z',
    reason: 'running',
    pod: {
      metadata: { name, namespace: 'apps', uid: `uid-${name}` },
      spec: { containers: [{ name: 'app', image: `${HOST}/team/${name}:1` }] },
      status: { containerStatuses: [{ name: 'app', imageID: `${HOST}/team/${name}@${digest}` }] },
    },
  };
}

describe('regwatch local verifies signatures', () => {
  it('a signed pod makes no finding; an unsigned one makes unsigned-image', async () => {
    // Prepare
    const signed = pushImage(registry, 'team/good', '1', 'good');
    cosignSign(registry, 'team/good', signed, key.privateKey);
    const unsigned = pushImage(registry, 'team/bad', '1', 'bad');
    // Act
    const res = await fetch(`${local.url}/v1/pod-events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([podEvent('good', signed), podEvent('bad', unsigned)]),
    });
    // Assess
    expect(res.status).toBe(200);
    const found: Finding[] = [];
    for await (const f of local.tables.findings.query({ cluster: 'dev' })) found.push(f);
    expect(found.map((f) => [f.workload.name, f.rule, f.digest])).toEqual([
      ['bad', 'unsigned-image', unsigned],
    ]);
  });
});
