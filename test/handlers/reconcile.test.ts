import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type RegwatchTables, regwatchTables } from '../../lambdas/adapters/dynamodb/index.ts';
import { compileAllowlist, parseAllowlist } from '../../lambdas/core/allowlist/index.ts';
import { ingestPodEvents } from '../../lambdas/services/ingest.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';
import { lambdaContext, TEST_ENV } from './commons/lambda-context.ts';

let dynamo: LocalDynamo;
let tables: RegwatchTables;
let handler: (
  event: { sweep?: boolean },
  context: Context,
) => Promise<{ causes: string[]; scope: string; changed: number }>;

beforeAll(async () => {
  dynamo = await startDynalite();
  const names = await freshTables(dynamo);
  tables = regwatchTables(dynamo.doc, names);
  const doc = parseAllowlist(
    'version: 1\nrules:\n  - id: quay\n    registry: quay.io\n    repository: "vendor/**"\n',
  );
  await tables.allowlist.applyDiff(doc);
  await ingestPodEvents(
    [
      {
        cluster: 'prod',
        observedAt: '2026-01-10T10:00:00Z',
        reason: 'running',
        pod: {
          metadata: { name: 'agent', namespace: 'ops', uid: 'uid-agent' },
          spec: { containers: [{ name: 'app', image: 'quay.io/vendor/agent:3' }] },
        },
      },
    ],
    {
      allowlist: { current: async () => compileAllowlist(doc) },
      findings: tables.findings,
      clock: () => new Date(),
      minAlertSeverity: 'low',
      inventory: { store: tables.inventory, findings: tables.findings },
    },
  );
  for (const [key, value] of Object.entries(TEST_ENV)) vi.stubEnv(key, value);
  vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', dynamo.endpoint);
  vi.stubEnv('FINDINGS_TABLE', names.findings);
  vi.stubEnv('ALLOWLIST_TABLE', names.allowlist);
  vi.stubEnv('IMAGES_TABLE', names.images);
  vi.stubEnv('INVENTORY_TABLE', names.inventory);
  handler = (await import('../../lambdas/handlers/reconcile.ts')).handler as typeof handler;
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await dynamo.stop();
});

describe('reconcile handler', () => {
  it('passes fully on its first run, then applies a removed rule on the next minute', async () => {
    const first = await handler({ sweep: false }, lambdaContext('reconcile'));
    await tables.allowlist.remove('quay');
    const second = await handler({ sweep: false }, lambdaContext('reconcile'));
    const sweep = await handler({ sweep: true }, lambdaContext('reconcile'));

    expect(first).toMatchObject({ causes: ['first-run'], scope: 'full', changed: 0 });
    expect(second).toMatchObject({ causes: ['allowlist'], scope: 'registries', changed: 1 });
    // A healthy system's sweep changes nothing.
    expect(sweep).toMatchObject({ causes: ['sweep'], scope: 'full', changed: 0 });
    const open = [];
    for await (const f of tables.findings.query({ status: 'OPEN' })) open.push(f.rule);
    expect(open).toEqual(['untrusted-source']);
  });
});
