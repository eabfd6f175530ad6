/**
 * An entry is filed under the registry host it is judged as (the `byRegistry` index), and a
 * `pullThroughCache` change moves that host: the full pass the change triggers must move the
 * entry, or a later one-rule change for the new host would not find it and its findings would
 * no longer match the allowlist in force. Both Inventory adapters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileAllowlist, parseAllowlist } from '../../lambdas/core/allowlist/index.ts';
import type { AllowlistRule } from '../../lambdas/core/allowlist/schema.ts';
import type { Finding } from '../../lambdas/core/types.ts';
import { ingestPodEvents } from '../../lambdas/services/ingest.ts';
import { reconcileAll, reconcileChange } from '../../lambdas/services/reconcile.ts';
import { freshStores, type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';
import { runningPod } from '../helpers/pod-events.ts';

const ECR = '444455556666.dkr.ecr.eu-central-1.amazonaws.com';
const CACHE = `${ECR}/docker-hub`;
const IMAGE = `${CACHE}/library/nginx:1.27`;
const BEFORE = `version: 1
rules:
  - id: company-ecr
    registry: "${ECR}"
`;
// The cache is now judged as what it mirrors: Docker Hub's library, trusted by its own rule.
const AFTER = `version: 1
pullThroughCache:
  - prefix: "${CACHE}"
    upstream: docker.io
rules:
  - id: company-ecr
    registry: "${ECR}"
  - id: hub-library
    registry: docker.io
    repository: "library/*"
`;

describe.each(['conditional', 'local'] as const)(
  'a pullThroughCache change (%s adapter)',
  (adapter) => {
    let dynamo: LocalDynamo;

    beforeAll(async () => {
      dynamo = await startDynalite();
    });
    afterAll(() => dynamo.stop());

    it('moves entries to the host they are now judged as, so a one-rule change there finds them', async () => {
      // Prepare: the pod is seen while the cache's host is what it is judged as.
      const { tables, inventory } = await freshStores(dynamo, adapter);
      const now = new Date('2026-01-10T12:00:00Z');
      let allowlist = parseAllowlist(BEFORE);
      const ingest = await ingestPodEvents([runningPod({ name: 'web', image: IMAGE })], {
        allowlist: { current: async () => compileAllowlist(allowlist) },
        findings: tables.findings,
        clock: () => now,
        minAlertSeverity: 'low',
        inventory: { store: inventory, findings: tables.findings },
      });
      expect(ingest.failed).toEqual([]);
      const deps = {
        inventory,
        findings: tables.findings,
        minAlertSeverity: 'low' as const,
        clock: () => now,
      };
      const hosts = async (host: string) => {
        const out: string[] = [];
        for await (const { entry } of inventory.byRegistry(host)) out.push(entry.workload.name);
        return out;
      };
      expect(await hosts(ECR)).toEqual(['web']);

      // Act 1: the cache is mapped to its upstream (a settings change: the full pass).
      allowlist = parseAllowlist(AFTER);
      const full = await reconcileAll(compileAllowlist(allowlist), deps);

      // Assess 1: still allowed, now filed under docker.io; a second pass changes nothing.
      expect(full.changed).toBe(1);
      expect(await hosts('docker.io')).toEqual(['web']);
      expect(await hosts(ECR)).toEqual([]);
      expect((await reconcileAll(compileAllowlist(allowlist), deps)).changed).toBe(0);

      // Act 2: the Docker Hub rule goes: a one-rule change, narrowed to docker.io's entries.
      const removed = allowlist.rules.find((r) => r.id === 'hub-library') as AllowlistRule;
      allowlist = { ...allowlist, rules: allowlist.rules.filter((r) => r !== removed) };
      const one = await reconcileChange(
        [removed],
        false,
        compileAllowlist(allowlist),
        deps,
        'allowlist:3',
      );

      // Assess 2: the entry was found there and its finding opened.
      expect(one.scope).toBe('registries');
      expect(one.judged).toBe(1);
      const found: Finding[] = [];
      for await (const f of tables.findings.query({})) found.push(f);
      expect(found.map((f) => [f.workload.name, f.rule, f.status])).toEqual([
        ['web', 'untrusted-source', 'OPEN'],
      ]);
    });

    it('moves an entry on its next sighting too, before any reconciliation', async () => {
      // Prepare
      const { tables, inventory } = await freshStores(dynamo, adapter);
      let allowlist = parseAllowlist(BEFORE);
      let now = new Date('2026-01-10T12:00:00Z');
      const deps = {
        allowlist: { current: async () => compileAllowlist(allowlist) },
        findings: tables.findings,
        clock: () => now,
        minAlertSeverity: 'low' as const,
        inventory: { store: inventory, findings: tables.findings },
      };
      await ingestPodEvents([runningPod({ name: 'web', image: IMAGE })], deps);

      // Act: the mapping changes, then the pod is seen again (two minutes on).
      allowlist = parseAllowlist(AFTER);
      now = new Date('2026-01-10T12:02:00Z');
      const again = await ingestPodEvents(
        [runningPod({ name: 'web', image: IMAGE, observedAt: now.toISOString() })],
        deps,
      );

      // Assess
      expect(again.failed).toEqual([]);
      const entries = [];
      for await (const { entry } of inventory.query({})) entries.push(entry);
      expect(entries.map((e) => [e.workload.name, e.registry])).toEqual([['web', 'docker.io']]);
    });
  },
);
