/**
 * The pod path with signature verification: forwarder pod events → verdict (cache, or the
 * loopback registry on a miss) → findings in dynalite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RegwatchTables, regwatchTables } from '../../lambdas/adapters/dynamodb/index.ts';
import { RegistryClient } from '../../lambdas/adapters/oci/client.ts';
import { compileAllowlist } from '../../lambdas/core/allowlist/index.ts';
import type { PodEvent } from '../../lambdas/core/kube/pod-event.ts';
import type { Finding } from '../../lambdas/core/types.ts';
import { ingestPodEvents } from '../../lambdas/services/ingest.ts';
import type { IngestDeps } from '../../lambdas/services/ports.ts';
import { SignatureVerifier } from '../../lambdas/services/signatures.ts';
import { cosignSign, keyPair } from '../helpers/cosign.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';
import { pushImage, TestRegistry } from '../helpers/oci-registry.ts';

const key = keyPair('p256');

function pod(name: string, workload: string, image: string, imageID: string | null): PodEvent {
  return {
    cluster: 'prod',
    observedAt: '2026-11-25T08:00:00Z',
    reason: 'running',
    pod: {
      metadata: {
        name,
        namespace: 'shop',
        uid: `uid-${name}`,
        labels: { 'pod-template-hash': '7d9f8b6c5' },
        ownerReferences: [{ kind: 'ReplicaSet', name: `${workload}-7d9f8b6c5`, controller: true }],
      },
      spec: { containers: [{ name: 'app', image }] },
      status: imageID ? { containerStatuses: [{ name: 'app', imageID }] } : {},
    },
  } as PodEvent;
}

describe('pods with requireSignature', () => {
  let dynamo: LocalDynamo;
  let tables: RegwatchTables;
  let registry: TestRegistry;
  let verifier: SignatureVerifier;
  let deps: IngestDeps;

  beforeAll(async () => {
    dynamo = await startDynalite();
    tables = regwatchTables(dynamo.doc, await freshTables(dynamo));
    registry = await new TestRegistry().start();
    const allowlist = compileAllowlist({
      version: 1,
      rules: [
        {
          id: 'signed',
          registry: registry.host,
          repository: 'apps/**',
          requireSignature: [{ cosign: { publicKeys: [key.publicPem] } }],
        },
        {
          id: 'down',
          registry: 'down.example',
          requireSignature: [{ cosign: { publicKeys: [key.publicPem] } }],
        },
      ],
    });
    verifier = new SignatureVerifier({
      registry: new RegistryClient({ endpoints: { 'down.example': 'http://127.0.0.1:1' } }),
      failClosedOnError: true,
    });
    deps = {
      allowlist: { current: async () => allowlist },
      findings: tables.findings,
      clock: () => new Date('2026-11-25T09:00:00Z'),
      minAlertSeverity: 'low',
      signatures: verifier,
    };
  });
  afterAll(async () => {
    await registry.close();
    await dynamo.stop();
  });

  async function findings(): Promise<Finding[]> {
    const out: Finding[] = [];
    for await (const f of tables.findings.query({})) out.push(f);
    return out;
  }

  it('verifies by the imageID digest, once for fifty pods, and records only what fails', async () => {
    // Prepare
    const signed = pushImage(registry, 'apps/web', '1.0', 'signed');
    cosignSign(registry, 'apps/web', signed, key.privateKey);
    const unsigned = pushImage(registry, 'apps/api', '1.0', 'unsigned');
    const events = [
      ...Array.from({ length: 50 }, (_, i) =>
        pod(
          `web-7d9f8b6c5-${i}`,
          'web',
          `${registry.host}/apps/web:1.0`,
          `${registry.host}/apps/web@${signed}`,
        ),
      ),
      pod(
        'api-7d9f8b6c5-a',
        'api',
        `${registry.host}/apps/api:1.0`,
        `${registry.host}/apps/api@${unsigned}`,
      ),
      pod('tagonly-7d9f8b6c5-a', 'tagonly', `${registry.host}/apps/web:1.0`, null),
      pod('far-7d9f8b6c5-a', 'far', `down.example/app@${signed}`, null),
    ];
    // Act
    const report = await ingestPodEvents(events, deps);
    // Assess
    expect(report.failed).toEqual([]);
    expect(verifier.verifications).toBe(3);
    const stored = (await findings()).map((f) => [f.workload.name, f.rule, f.digest, f.message]);
    expect(stored.sort()).toEqual([
      ['api', 'unsigned-image', unsigned, expect.stringContaining('no cosign signature')],
      ['far', 'unsigned-image', signed, expect.stringContaining('could not be checked')],
      ['tagonly', 'unsigned-image', null, expect.stringContaining('is not known')],
    ]);
  });
});
