import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstRevision, InventoryStore } from '../../../lambdas/adapters/dynamodb/inventory.ts';
import { compileAllowlist, parseAllowlist } from '../../../lambdas/core/allowlist/index.ts';
import type { InventoryEvent } from '../../../lambdas/core/inventory.ts';
import type { PodObservation } from '../../../lambdas/core/types.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../../helpers/dynalite.ts';

const decider = compileAllowlist(parseAllowlist('version: 1\nrules: []\n'));

function sighting(observedAt: string): InventoryEvent {
  const observation: PodObservation = {
    source: 'forwarder',
    cluster: 'prod',
    namespace: 'shop',
    workload: { kind: 'Deployment', name: 'web' },
    podName: 'web-1',
    podUid: 'uid-1',
    serviceAccount: null,
    node: null,
    containers: [
      {
        name: 'app',
        kind: 'container',
        image: 'evil.example.com/web:1',
        imageID: null,
        digest: null,
      },
    ],
    actor: null,
    observedAt,
    eventId: observedAt,
    partial: false,
  };
  return {
    type: 'pod',
    observation,
    decisions: [
      decider.decide('evil.example.com/web:1', { cluster: 'prod' }, new Date(observedAt)),
    ],
  };
}

describe('InventoryStore', () => {
  let dynamo: LocalDynamo;
  let store: InventoryStore;
  let requests: number;
  beforeAll(async () => {
    dynamo = await startDynalite();
    const names = await freshTables(dynamo);
    requests = 0;
    const counting = {
      send: (command: Parameters<typeof dynamo.doc.send>[0]) => {
        requests++;
        return dynamo.doc.send(command);
      },
    } as unknown as typeof dynamo.doc;
    store = new InventoryStore(counting, names.inventory);
  });
  afterAll(() => dynamo.stop());

  it('writes a repeat sighting only once its seen-time moved by a minute, and reads nothing for it', async () => {
    // Prepare
    await store.applyToWorkload(
      'prod',
      'shop',
      { kind: 'Deployment', name: 'web' },
      sighting('2026-01-10T10:00:00.000Z'),
    );
    const afterFirst = requests;
    const [created] = await store.workloadEntries('prod', 'shop', {
      kind: 'Deployment',
      name: 'web',
    });
    requests = afterFirst;

    // Act
    await store.applyToWorkload(
      'prod',
      'shop',
      { kind: 'Deployment', name: 'web' },
      sighting('2026-01-10T10:00:20.000Z'),
    );
    const afterRepeat = requests;
    await store.applyToWorkload(
      'prod',
      'shop',
      { kind: 'Deployment', name: 'web' },
      sighting('2026-01-10T10:02:00.000Z'),
    );

    // Assess
    expect(afterRepeat).toBe(afterFirst); // no request for a repeat
    const [stored] = await store.workloadEntries('prod', 'shop', {
      kind: 'Deployment',
      name: 'web',
    });
    expect(created?.rev).toBe(created ? firstRevision(created.entry) : 'no entry');
    expect(stored?.rev).toBe((created?.rev ?? Number.NaN) + 1);
    expect(stored?.entry.lastSeen).toBe('2026-01-10T10:02:00.000Z');
    expect(stored?.entry.pods).toEqual(['web-1']);
  });
});
