/**
 * Issue 11 on AWS: `scan-status` built with the inventory and allowlist tables re-judges every
 * inventory entry running a scanned digest before the record is done.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RegwatchTables, regwatchTables } from '../../lambdas/adapters/dynamodb/index.ts';
import { compileAllowlist, parseAllowlist } from '../../lambdas/core/allowlist/index.ts';
import { parseRegistryEvent } from '../../lambdas/core/registry/events.ts';
import { buildRegistryDeps } from '../../lambdas/handlers/compose/registry.ts';
import { ingestPodEvents } from '../../lambdas/services/ingest.ts';
import { handleRegistryEvent } from '../../lambdas/services/registry.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';

const ECR = '444455556666.dkr.ecr.eu-central-1.amazonaws.com';
const DIGEST = `sha256:${'c'.repeat(64)}`;

let dynamo: LocalDynamo;
let tables: RegwatchTables;
let names: Awaited<ReturnType<typeof freshTables>>;

beforeAll(async () => {
  dynamo = await startDynalite();
  names = await freshTables(dynamo);
  tables = regwatchTables(dynamo.doc, names);
  const doc = parseAllowlist(`version: 1\nrules:\n  - id: ecr\n    registry: "${ECR}"\n`);
  await tables.allowlist.applyDiff(doc);
  await ingestPodEvents(
    [
      {
        cluster: 'prod',
        observedAt: '2026-01-10T10:00:00Z',
        reason: 'running',
        pod: {
          metadata: { name: 'web', namespace: 'shop', uid: 'uid-web' },
          spec: { containers: [{ name: 'app', image: `${ECR}/shop/web:2` }] },
          status: { containerStatuses: [{ name: 'app', imageID: `${ECR}/shop/web@${DIGEST}` }] },
        },
      },
    ],
    {
      allowlist: { current: async () => compileAllowlist(doc) },
      findings: tables.findings,
      clock: () => new Date('2026-01-10T10:00:01Z'),
      minAlertSeverity: 'low',
      inventory: { store: tables.inventory, findings: tables.findings },
    },
  );
});
afterAll(() => dynamo.stop());

describe('scan-status with the inventory', () => {
  it('gives the running workload its vulnerable-image finding while handling the scan', async () => {
    // Prepare
    const deps = buildRegistryDeps(
      {
        IMAGES_TABLE: names.images,
        FINDINGS_TABLE: names.findings,
        INVENTORY_TABLE: names.inventory,
        ALLOWLIST_TABLE: names.allowlist,
        SCAN_TIMEOUT_MINUTES: 30,
        VULNERABLE_SEVERITY_THRESHOLD: 'high',
        FINDINGS_TTL_DAYS: 0,
        ALLOWLIST_CACHE_TTL_SECONDS: 60,
        SIGNATURE_GRACE_SECONDS: 300,
        SIGNATURE_NEGATIVE_TTL_SECONDS: 120,
      },
      { doc: dynamo.doc, scheduler: { schedule: async () => {} }, ecr: null, signatures: null },
    );
    const parsed = parseRegistryEvent({
      version: '0',
      id: 'scan-1',
      'detail-type': 'Inspector2 Scan',
      source: 'aws.inspector2',
      account: '444455556666',
      time: '2026-01-10T11:00:00Z',
      region: 'eu-central-1',
      resources: ['arn:aws:ecr:eu-central-1:444455556666:repository/shop/web'],
      detail: {
        'scan-status': 'INITIAL_SCAN_COMPLETE',
        'repository-name': 'arn:aws:ecr:eu-central-1:444455556666:repository/shop/web',
        'image-digest': DIGEST,
        'image-tags': ['2'],
        'finding-severity-counts': { CRITICAL: 1, TOTAL: 1 },
      },
    });
    if (parsed.status !== 'ok') throw new Error(`fixture: ${JSON.stringify(parsed)}`);

    // Act
    await handleRegistryEvent(parsed.event, deps);

    // Assess: the registry-side finding and the pod-side one, for the workload.
    const found = [];
    for await (const f of tables.findings.query({ digest: DIGEST }))
      found.push([f.cluster, f.workload.name, f.rule]);
    expect(found).toContainEqual(['prod', 'web', 'vulnerable-image']);
    const entries = [];
    for await (const s of tables.inventory.query({ digest: DIGEST }))
      entries.push(s.entry.violations);
    expect(entries).toEqual([[{ rule: 'vulnerable-image', severity: 'critical' }]]);
  });
});
