/**
 * Client-chosen strings of any length (User-Agent, Audit-ID, an image, a container name) never
 * make a batch fail in DynamoDB on every retry: they are cut or digested where they are
 * identity-free, and a finding that would still be too large fails its own record only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FindingsStore, regwatchTables } from '../../lambdas/adapters/dynamodb/index.ts';
import { ACTOR_LIMITS } from '../../lambdas/core/audit/actor.ts';
import { MAX_IMAGE_LENGTH } from '../../lambdas/core/kube/containers.ts';
import type { Finding } from '../../lambdas/core/types.ts';
import { ingestAuditEvents } from '../../lambdas/services/ingest.ts';
import type { IngestDeps } from '../../lambdas/services/ports.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';
import { allowlist, auditEvent, CLUSTER, EVIL, type Json, objectOf, podSpec } from './builders.ts';

let dynamo: LocalDynamo;
let store: FindingsStore;
let deps: IngestDeps;
beforeAll(async () => {
  dynamo = await startDynalite();
  store = regwatchTables(dynamo.doc, await freshTables(dynamo)).findings;
  deps = {
    allowlist: { current: async () => allowlist },
    findings: store,
    clock: () => new Date('2026-11-30T12:00:00Z'),
    minAlertSeverity: 'low',
  };
});
afterAll(() => dynamo.stop());

async function inNamespace(ns: string): Promise<Finding[]> {
  const out: Finding[] = [];
  for await (const f of store.query({ cluster: CLUSTER, namespace: ns })) out.push(f);
  return out;
}

const at = (ns: string, over: Json = {}) => ({
  ...auditEvent('Pod', over),
  objectRef: { resource: 'pods', namespace: ns, name: 'p' },
});

describe('hostile lengths', () => {
  it('a 300 KB User-Agent, Audit-ID and group list are cut; the finding is stored', async () => {
    // Prepare
    const huge = 'x'.repeat(300_000);
    const event = at('len-actor', {
      auditID: huge,
      userAgent: huge,
      user: { username: 'mallory', groups: Array(5000).fill('g') },
    });
    // Act
    const report = await ingestAuditEvents([event], CLUSTER, deps);
    // Assess
    expect(report.failed).toEqual([]);
    const [f] = await inNamespace('len-actor');
    expect(f?.actor?.userAgent?.length).toBe(ACTOR_LIMITS.userAgent);
    expect(f?.actor?.groups).toHaveLength(ACTOR_LIMITS.list);
    expect(f?.eventId).toMatch(/^sha256-[0-9a-f]{32}:[0-9a-f]{16}$/);
  });

  it('an image longer than any reference is an invalid-reference finding that names its length', async () => {
    const image = `evil.example.com/${'a'.repeat(200_000)}:1`;
    await ingestAuditEvents(
      [at('len-image', { responseObject: objectOf('Pod', podSpec(image)) })],
      CLUSTER,
      deps,
    );
    const [f] = await inNamespace('len-image');
    expect(f?.rule).toBe('invalid-reference');
    expect(f?.image).toMatch(/^<invalid image: string ".*…" \(200019 characters\)>$/);
    expect(f?.image.length).toBeLessThan(MAX_IMAGE_LENGTH);
  });

  it('a finding still too large (a 350 KB container name) fails its record alone', async () => {
    // Prepare
    const spec = { containers: [{ name: 'n'.repeat(350_000), image: EVIL }] };
    const events = [
      at('len-ok-1'),
      at('len-name', { responseObject: objectOf('Pod', spec) }),
      at('len-ok-2'),
    ];
    // Act
    const report = await ingestAuditEvents(events, CLUSTER, deps);
    // Assess
    expect(report.failed).toEqual([
      {
        index: 1,
        error: expect.stringMatching(/^not recorded: finding .* bytes \(limit 307200\)/),
      },
    ]);
    expect((await inNamespace('len-ok-1')).length + (await inNamespace('len-ok-2')).length).toBe(2);
  });
});
