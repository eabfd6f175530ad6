/**
 * The stored allowlist keeps issue 12's rule fields (effect, tags, digests, exclusions,
 * severity) through import, export and the compiled decision, on dynalite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllowlistStore } from '../../../lambdas/adapters/dynamodb/allowlist.ts';
import { type AllowlistDocument, compileAllowlist } from '../../../lambdas/core/allowlist/index.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../../helpers/dynalite.ts';

let dynamo: LocalDynamo;

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

describe('AllowlistStore with deny rules, tags, digests, exclusions and severity', () => {
  it('loads back exactly what was imported, and decides the same', async () => {
    // Prepare
    const store = new AllowlistStore(dynamo.doc, (await freshTables(dynamo)).allowlist);
    const doc: AllowlistDocument = {
      version: 1,
      rules: [
        { id: 'any', registry: '**', namespaces: ['*', '!kube-system'] },
        { id: 'no-latest', effect: 'deny', registry: '**', tags: ['latest'], severity: 'high' },
        {
          id: 'pinned',
          effect: 'deny',
          registry: '**.corp.example.com',
          digests: [`sha256:${'c'.repeat(64)}`],
        },
        { id: 'nginx', image: 'nginx', tags: ['1.27.*', 'v1.?'] },
      ],
    };
    // Act
    await store.applyDiff(doc, { dryRun: false });
    const loaded = await store.loadAll();
    // Assess
    expect(loaded).toEqual(doc);
    const al = compileAllowlist(loaded);
    expect(al.version).toBe(compileAllowlist(doc).version);
    const d = al.decide('quay.io/a/b', { cluster: 'c', namespace: 'web' }, new Date());
    expect(d.violations.map((v) => [v.rule, v.severity])).toEqual([['denied-source', 'high']]);
  });
});
