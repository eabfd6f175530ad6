import { describe, expect, it } from 'vitest';
import { compileAllowlist, parseAllowlist } from '../../lambdas/core/allowlist/index.ts';
import { auditDeletion } from '../../lambdas/core/audit-delete.ts';
import {
  entryChanged,
  type InventoryEntry,
  type InventoryEvent,
  planInventory,
} from '../../lambdas/core/inventory.ts';
import type { ContainerImage, PodObservation } from '../../lambdas/core/types.ts';

const decider = compileAllowlist(
  parseAllowlist('version: 1\nrules:\n  - id: ecr\n    registry: "ecr.example.com"\n'),
);
const NOW = new Date('2026-01-10T12:00:00Z');

function container(name: string, image: string, digest: string | null = null): ContainerImage {
  return { name, kind: 'container', image, imageID: digest, digest };
}

function obs(over: Partial<PodObservation> & { containers: ContainerImage[] }): PodObservation {
  return {
    source: 'forwarder',
    cluster: 'prod',
    namespace: 'shop',
    workload: { kind: 'Deployment', name: 'web' },
    podName: 'web-1',
    podUid: 'uid-1',
    serviceAccount: null,
    node: null,
    actor: null,
    observedAt: '2026-01-10T10:00:00.000Z',
    eventId: 'e1',
    partial: false,
    ...over,
  };
}

function podEvent(o: PodObservation, resyncId?: string): InventoryEvent {
  return {
    type: 'pod',
    observation: o,
    decisions: o.containers.map((c) => decider.decide(c.image, { cluster: o.cluster }, NOW)),
    resyncId,
  };
}
function templateEvent(o: PodObservation): InventoryEvent {
  return {
    type: 'template',
    observation: o,
    decisions: o.containers.map((c) => decider.decide(c.image, { cluster: o.cluster }, NOW)),
  };
}

/** Applies a plan to a list, as the store does. */
function apply(entries: InventoryEntry[], event: InventoryEvent): InventoryEntry[] {
  const plan = planInventory(entries, event);
  const key = (e: InventoryEntry) => `${e.container}#${e.reference ?? e.image}`;
  const gone = new Set(plan.removals.map((r) => key(r.entry)));
  const next = new Map(entries.filter((e) => !gone.has(key(e))).map((e) => [key(e), e]));
  for (const e of plan.upserts) next.set(key(e), e);
  return [...next.values()];
}

describe('planInventory', () => {
  it('keeps one entry per container and reference, with pods, digests and sources', () => {
    let entries = apply(
      [],
      podEvent(obs({ containers: [container('app', 'ecr.example.com/web:1', 'sha256:aa')] })),
    );
    entries = apply(
      entries,
      podEvent(
        obs({
          podName: 'web-2',
          containers: [container('app', 'ecr.example.com/web:1', 'sha256:bb')],
        }),
      ),
    );
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      reference: 'ecr.example.com/web:1',
      pods: ['web-1', 'web-2'],
      digests: ['sha256:aa', 'sha256:bb'],
      sources: ['forwarder'],
      template: false,
      violations: [],
    });
  });

  it('moves a pod whose container changed image in place, removing the old entry when empty', () => {
    const first = apply(
      [],
      podEvent(obs({ containers: [container('app', 'evil.example.com/web:1')] })),
    );
    const plan = planInventory(
      first,
      podEvent(obs({ eventId: 'e2', containers: [container('app', 'ecr.example.com/web:2')] })),
    );
    expect(plan.removals.map((r) => [r.entry.image, r.reason])).toEqual([
      ['evil.example.com/web:1', 'no-longer-running'],
    ]);
    expect(plan.upserts.map((e) => [e.image, e.pods])).toEqual([
      ['ecr.example.com/web:2', ['web-1']],
    ]);
  });

  it('takes a full template as desired state, and a patch only for the containers it names', () => {
    const audit = { source: 'audit' as const, podName: null, podUid: null };
    let entries = apply(
      [],
      templateEvent(
        obs({
          ...audit,
          containers: [
            container('app', 'a.example.com/x:1'),
            container('side', 'b.example.com/y:1'),
          ],
        }),
      ),
    );
    // A patch of `app` only: `side` stays in the template.
    entries = apply(
      entries,
      templateEvent(
        obs({ ...audit, partial: true, containers: [container('app', 'a.example.com/x:2')] }),
      ),
    );
    expect(entries.map((e) => e.image).sort()).toEqual(['a.example.com/x:2', 'b.example.com/y:1']);
    // A full template without `side`: its entry goes.
    const plan = planInventory(
      entries,
      templateEvent(obs({ ...audit, containers: [container('app', 'a.example.com/x:2')] })),
    );
    expect(plan.removals.map((r) => r.entry.image)).toEqual(['b.example.com/y:1']);
  });

  it('keeps an entry a pod still runs after the template moved on', () => {
    let entries = apply(
      [],
      podEvent(obs({ containers: [container('app', 'evil.example.com/web:1')] })),
    );
    entries = apply(
      entries,
      templateEvent(
        obs({
          source: 'audit',
          podName: null,
          containers: [container('app', 'ecr.example.com/web:2')],
        }),
      ),
    );
    expect(entries.map((e) => [e.image, e.template, e.pods]).sort()).toEqual([
      ['ecr.example.com/web:2', true, []],
      ['evil.example.com/web:1', false, ['web-1']],
    ]);
  });

  it('ignores positional container names from JSON patches', () => {
    const plan = planInventory(
      [],
      templateEvent(
        obs({
          source: 'audit',
          partial: true,
          containers: [container('containers[0]', 'evil.example.com/x:1')],
        }),
      ),
    );
    expect(plan).toEqual({ upserts: [], removals: [] });
  });

  it('on resync-complete drops entries the pass did not see, unless seen live since it began', () => {
    const seen = apply(
      [],
      podEvent(obs({ containers: [container('app', 'ecr.example.com/web:1')] }), 'r2'),
    );
    const missed = apply(
      [],
      podEvent(
        obs({
          workload: { kind: 'Deployment', name: 'old' },
          podName: 'old-1',
          containers: [container('app', 'ecr.example.com/old:1')],
        }),
        'r1',
      ),
    );
    const live = apply(
      [],
      podEvent(
        obs({
          workload: { kind: 'Deployment', name: 'new' },
          podName: 'new-1',
          observedAt: '2026-01-10T11:00:30.000Z',
          containers: [container('app', 'ecr.example.com/new:1')],
        }),
      ),
    );
    const plan = planInventory([...seen, ...missed, ...live], {
      type: 'resync-complete',
      resyncId: 'r2',
      startedAt: '2026-01-10T11:00:00.000Z',
      observedAt: '2026-01-10T11:01:00.000Z',
    });
    expect(plan.removals.map((r) => r.entry.workload.name)).toEqual(['old']);
  });

  it('keeps a scan verdict when a sighting does not know the digest', () => {
    const [entry] = apply(
      [],
      podEvent(obs({ containers: [container('app', 'ecr.example.com/web:1', 'sha256:aa')] })),
    );
    if (!entry) throw new Error('fixture');
    const vulnerable = {
      ...entry,
      violations: [{ rule: 'vulnerable-image' as const, severity: 'critical' as const }],
    };
    const [after] = apply(
      [vulnerable],
      templateEvent(
        obs({
          source: 'audit',
          podName: null,
          containers: [container('app', 'ecr.example.com/web:1')],
        }),
      ),
    );
    expect(after?.violations).toEqual([{ rule: 'vulnerable-image', severity: 'critical' }]);
    expect(entryChanged(after, { ...(after as InventoryEntry) })).toBe(false);
  });
});

describe('auditDeletion', () => {
  const base = {
    kind: 'Event',
    stage: 'ResponseComplete',
    verb: 'delete',
    responseStatus: { code: 200 },
    stageTimestamp: '2026-01-10T10:00:00Z',
  };
  it('reads pod and workload deletes, and refuses failures, subresources and other kinds', () => {
    expect(
      auditDeletion({ ...base, objectRef: { resource: 'pods', namespace: 'n', name: 'p' } }),
    ).toMatchObject({
      kind: 'pod',
      podName: 'p',
      workload: null,
    });
    expect(
      auditDeletion({
        ...base,
        objectRef: { resource: 'deployments', apiGroup: 'apps', namespace: 'n', name: 'd' },
      }),
    ).toMatchObject({ kind: 'workload', workload: { kind: 'Deployment', name: 'd' } });
    expect(
      auditDeletion({
        ...base,
        responseStatus: { code: 403 },
        objectRef: { resource: 'pods', namespace: 'n', name: 'p' },
      }),
    ).toBeNull();
    expect(
      auditDeletion({ ...base, objectRef: { resource: 'configmaps', namespace: 'n', name: 'c' } }),
    ).toBeNull();
    expect(
      auditDeletion({
        ...base,
        objectRef: { resource: 'deployments', apiGroup: 'evil', namespace: 'n', name: 'd' },
      }),
    ).toBeNull();
    expect(
      auditDeletion({
        ...base,
        verb: 'update',
        objectRef: { resource: 'pods', namespace: 'n', name: 'p' },
      }),
    ).toBeNull();
    expect(auditDeletion('not an event')).toBeNull();
  });
});
