import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FindingsStore } from '../../lambdas/adapters/dynamodb/findings.ts';
import { FindingAggregator } from '../../lambdas/core/aggregate.ts';
import { fingerprint } from '../../lambdas/core/fingerprint.ts';
import {
  applyStatusChange,
  autoResolve,
  foldSighting,
  newFinding,
  preferActor,
} from '../../lambdas/core/lifecycle.ts';
import type { Actor, FindingCandidate } from '../../lambdas/core/types.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';

function actor(username: string): Actor {
  return { username, groups: [], sourceIPs: [], userAgent: null, auditID: null };
}
const RS_CONTROLLER = actor('system:serviceaccount:kube-system:replicaset-controller');

function candidate(over: Partial<FindingCandidate> & { seed?: string } = {}): FindingCandidate {
  const { seed = 'api', ...rest } = over;
  const fp = fingerprint({
    cluster: 'prod',
    namespace: 'shop',
    workload: { kind: 'Deployment', name: seed },
    container: 'app',
    image: 'evil.example.com/app:1',
    rule: 'untrusted-source',
  });
  return {
    fingerprint: fp,
    cluster: 'prod',
    namespace: 'shop',
    workload: { kind: 'Deployment', name: seed },
    container: 'app',
    containerKind: 'container',
    image: 'evil.example.com/app:1',
    reference: 'evil.example.com/app:1',
    repository: 'evil.example.com/app',
    digest: null,
    rule: 'untrusted-source',
    severity: 'high',
    message: 'untrusted',
    matchedRule: null,
    actor: null,
    source: 'audit',
    observedAt: '2025-06-01T10:00:00.000Z',
    eventId: 'e0',
    ...rest,
  };
}

describe('preferActor', () => {
  it('prefers a person over a controller whatever the order, and the latest between equals', () => {
    expect(preferActor(RS_CONTROLLER, actor('jane'), false)?.username).toBe('jane');
    expect(preferActor(actor('jane'), RS_CONTROLLER, true)?.username).toBe('jane');
    expect(preferActor(actor('jane'), actor('bob'), true)?.username).toBe('bob');
    expect(preferActor(actor('jane'), actor('bob'), false)?.username).toBe('jane');
    expect(preferActor(actor('jane'), null, true)?.username).toBe('jane');
  });
});

describe('lifecycle transitions', () => {
  const now = new Date('2025-06-02T00:00:00.000Z');

  it('reopens a resolved finding on a later sighting only', () => {
    const f = newFinding(candidate(), 'id');
    const resolved = autoResolve(f, 'no-longer-running', new Date('2025-06-01T11:00:00.000Z'));
    expect(resolved?.resolution).toEqual({
      by: 'regwatch',
      reason: 'no-longer-running',
      at: '2025-06-01T11:00:00.000Z',
    });
    if (!resolved) throw new Error('expected a resolution');
    const late = structuredClone(resolved);
    expect(
      foldSighting(late, candidate({ eventId: 'old', observedAt: '2025-06-01T10:30:00.000Z' }), now)
        .outcome,
    ).toBe('repeat');
    expect(late.status).toBe('RESOLVED');
    const again = structuredClone(resolved);
    expect(
      foldSighting(
        again,
        candidate({ eventId: 'new', observedAt: '2025-06-01T12:00:00.000Z' }),
        now,
      ).outcome,
    ).toBe('reopened');
    expect(again.status).toBe('OPEN');
    expect(again.resolution).toBeUndefined();
  });

  it('auto-resolves OPEN and ACKNOWLEDGED, keeps SUPPRESSED until its end, never RESOLVED twice', () => {
    const f = newFinding(candidate(), 'id');
    const acked = applyStatusChange(f, {
      status: 'ACKNOWLEDGED',
      by: 'jane',
      at: '2025-06-01T10:10:00.000Z',
      reason: 'looking',
    });
    expect(autoResolve(acked, 'now-allowed', now)?.status).toBe('RESOLVED');
    const suppressed = applyStatusChange(f, {
      status: 'SUPPRESSED',
      by: 'jane',
      at: '2025-06-01T10:10:00.000Z',
      reason: 'vendor',
      until: '2025-06-03T00:00:00.000Z',
    });
    expect(autoResolve(suppressed, 'now-allowed', now)).toBeNull();
    expect(
      autoResolve(suppressed, 'now-allowed', new Date('2025-06-03T00:00:00.000Z'))?.status,
    ).toBe('RESOLVED');
    const forever = applyStatusChange(f, {
      status: 'SUPPRESSED',
      by: 'j',
      at: '2025-06-01T10:10:00.000Z',
      reason: 'r',
    });
    expect(autoResolve(forever, 'workload-deleted', new Date('2030-01-01T00:00:00Z'))).toBeNull();
    const resolved = autoResolve(f, 'workload-deleted', now);
    expect(resolved && autoResolve(resolved, 'now-allowed', now)).toBeNull();
  });

  it('refuses a transition the table does not allow', () => {
    const f = newFinding(candidate(), 'id');
    const resolved = applyStatusChange(f, {
      status: 'RESOLVED',
      by: 'j',
      at: '2025-06-01T10:10:00.000Z',
      reason: 'fixed',
    });
    expect(() =>
      applyStatusChange(resolved, {
        status: 'ACKNOWLEDGED',
        by: 'j',
        at: '2025-06-01T10:20:00.000Z',
        reason: 'x',
      }),
    ).toThrow(/cannot become ACKNOWLEDGED/);
  });
});

describe('replay and the store fold alike', () => {
  let dynamo: LocalDynamo;
  let store: FindingsStore;
  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(async () => {
    await dynamo.stop();
  });
  beforeEach(async () => {
    store = new FindingsStore(dynamo.doc, (await freshTables(dynamo)).findings);
  });

  it('gives the same identity, counts, first/last seen, actor, digest and status for the same events', async () => {
    // Prepare: out of order, a redelivery, a controller after a person, a digest learnt late.
    const events: FindingCandidate[] = [
      candidate({ eventId: 'pod-1', actor: RS_CONTROLLER, observedAt: '2025-06-01T10:05:00.000Z' }),
      candidate({
        eventId: 'deploy-1',
        actor: actor('jane'),
        observedAt: '2025-06-01T10:00:00.000Z',
      }),
      candidate({ eventId: 'pod-1', actor: RS_CONTROLLER, observedAt: '2025-06-01T10:05:00.000Z' }),
      candidate({
        eventId: 'fwd-1',
        source: 'forwarder',
        digest: `sha256:${'d'.repeat(64)}`,
        observedAt: '2025-06-01T10:06:00.000Z',
      }),
      candidate({ eventId: 'pod-2', actor: RS_CONTROLLER, observedAt: '2025-06-01T10:07:00.000Z' }),
      candidate({
        seed: 'worker',
        eventId: 'w-1',
        actor: RS_CONTROLLER,
        observedAt: '2025-06-01T09:00:00.000Z',
      }),
      candidate({
        seed: 'worker',
        eventId: 'w-2',
        actor: actor('bob'),
        observedAt: '2025-06-01T08:00:00.000Z',
      }),
    ];
    const aggregator = new FindingAggregator();
    const now = new Date('2025-06-01T12:00:00.000Z');

    // Act
    for (const e of events) {
      aggregator.add(e);
      await store.upsert(e, { now });
    }

    // Assess
    const replayed = [...aggregator.findings()].sort((a, b) =>
      a.fingerprint.localeCompare(b.fingerprint),
    );
    expect(replayed).toHaveLength(2);
    for (const r of replayed) {
      const stored = await store.find(r.fingerprint);
      const pick = (f: typeof r) => ({
        id: f.id,
        status: f.status,
        count: f.count,
        firstSeen: f.firstSeen,
        lastSeen: f.lastSeen,
        actor: f.actor?.username ?? null,
        firstActor: f.firstActor?.username ?? null,
        digest: f.digest,
        eventId: f.eventId,
      });
      expect(stored && pick(stored)).toEqual(pick(r));
    }
    const api = replayed.find((f) => f.workload.name === 'api');
    expect(api).toMatchObject({
      count: 4,
      firstSeen: '2025-06-01T10:00:00.000Z',
      lastSeen: '2025-06-01T10:07:00.000Z',
    });
    expect(api?.actor?.username).toBe('jane');
    expect(api?.digest).toBe(`sha256:${'d'.repeat(64)}`);
    expect(replayed.find((f) => f.workload.name === 'worker')?.actor?.username).toBe('bob');
  });
});
