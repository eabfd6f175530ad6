import { createHash } from 'node:crypto';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { InvalidItemReport } from '../../../lambdas/adapters/dynamodb/common.ts';
import {
  type FindingFilter,
  FindingsStore,
  findingId,
  RECENT_EVENT_IDS,
} from '../../../lambdas/adapters/dynamodb/findings.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../../lambdas/core/errors.ts';
import type { Actor, Finding, FindingCandidate } from '../../../lambdas/core/types.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../../helpers/dynalite.ts';

let dynamo: LocalDynamo;
let table: string;
let store: FindingsStore;
let invalid: InvalidItemReport[];

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});
beforeEach(async () => {
  table = (await freshTables(dynamo)).findings;
  invalid = [];
  store = new FindingsStore(dynamo.doc, table, { onInvalid: (r) => invalid.push(r) });
});

const NOW = new Date('2025-06-01T12:00:00.000Z');

function fp(seed: string): string {
  return createHash('sha256').update(seed).digest('hex');
}

function actor(username: string): Actor {
  return {
    username,
    groups: ['system:authenticated'],
    sourceIPs: ['10.0.0.1'],
    userAgent: 'kubectl/v1.31.0',
    auditID: `audit-${username}`,
  };
}

function candidate(over: Partial<FindingCandidate> = {}): FindingCandidate {
  return {
    fingerprint: fp('default'),
    cluster: 'prod',
    namespace: 'payments',
    workload: { kind: 'Deployment', name: 'api' },
    container: 'app',
    containerKind: 'container',
    image: 'evil.example.com/app:1.0',
    reference: 'evil.example.com/app:1.0',
    repository: 'evil.example.com/app',
    digest: `sha256:${'a'.repeat(64)}`,
    rule: 'untrusted-source',
    severity: 'high',
    message: 'evil.example.com is not an allowed registry',
    matchedRule: null,
    actor: actor('alice'),
    source: 'audit',
    observedAt: '2025-06-01T10:00:00Z',
    eventId: 'event-1',
    ...over,
  };
}

async function all(filter: FindingFilter = {}): Promise<Finding[]> {
  const out: Finding[] = [];
  for await (const f of store.query(filter)) out.push(f);
  return out;
}

describe('FindingsStore.upsert', () => {
  it('creates one finding and reports it as new', async () => {
    // Act
    const result = await store.upsert(candidate(), { now: NOW });

    // Assess
    expect(result.outcome).toBe('new');
    expect(result.counted).toBe(true);
    expect(result.finding).toMatchObject({
      id: fp('default').slice(0, 16),
      status: 'OPEN',
      count: 1,
      firstSeen: '2025-06-01T10:00:00.000Z',
      lastSeen: '2025-06-01T10:00:00.000Z',
    });
    expect(await store.get(result.finding.id)).toEqual(result.finding);
  });

  it('gives exactly one `new` when 20 writers race on one fingerprint, and counts all 20', async () => {
    // Prepare
    const writes = Array.from({ length: 20 }, (_, i) =>
      candidate({
        eventId: `race-${i}`,
        observedAt: new Date(Date.parse('2025-06-01T10:00:00Z') + i * 1000).toISOString(),
      }),
    );

    // Act
    const results = await Promise.all(writes.map((c) => store.upsert(c, { now: NOW })));

    // Assess
    expect(results.filter((r) => r.outcome === 'new')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'repeat')).toHaveLength(19);
    expect(results.every((r) => r.counted)).toBe(true);
    const stored = await store.get(fp('default'));
    expect(stored.count).toBe(20);
    expect(stored.firstSeen).toBe('2025-06-01T10:00:00.000Z');
    expect(stored.lastSeen).toBe('2025-06-01T10:00:19.000Z');
    expect(stored.eventId).toBe('race-19');
  });

  it('does not count a replayed event id twice, even when the replays race', async () => {
    // Prepare
    await store.upsert(candidate({ eventId: 'e1' }), { now: NOW });

    // Act
    const replays = await Promise.all(
      Array.from({ length: 5 }, () =>
        store.upsert(candidate({ eventId: 'e2', observedAt: '2025-06-01T11:00:00Z' }), {
          now: NOW,
        }),
      ),
    );
    const again = await store.upsert(candidate({ eventId: 'e1' }), { now: NOW });

    // Assess
    expect(replays.filter((r) => r.counted)).toHaveLength(1);
    expect(replays.every((r) => r.outcome === 'repeat')).toBe(true);
    expect(again).toMatchObject({ outcome: 'repeat', counted: false });
    expect((await store.get(fp('default'))).count).toBe(2);
  });

  it('remembers only the last RECENT_EVENT_IDS event ids', async () => {
    // Prepare
    for (let i = 0; i < RECENT_EVENT_IDS + 1; i++) {
      await store.upsert(candidate({ eventId: `e${i}` }), { now: NOW });
    }

    // Act
    const raw = await dynamo.doc.send(
      new GetCommand({ TableName: table, Key: { fingerprint: fp('default') } }),
    );

    // Assess
    const recent = raw.Item?.recentEventIds as string[];
    expect(recent).toHaveLength(RECENT_EVENT_IDS);
    expect(recent[0]).toBe('e1');
    expect(recent.at(-1)).toBe(`e${RECENT_EVENT_IDS}`);
  });

  it('keeps lastSeen, actor and digest of the latest sighting when events arrive out of order', async () => {
    // Prepare
    const newer = candidate({
      eventId: 'newer',
      observedAt: '2025-06-01T11:00:00Z',
      actor: actor('bob'),
      digest: `sha256:${'b'.repeat(64)}`,
    });
    const older = candidate({
      eventId: 'older',
      observedAt: '2025-06-01T09:00:00Z',
      actor: actor('carol'),
      digest: `sha256:${'c'.repeat(64)}`,
    });
    await store.upsert(candidate(), { now: NOW });

    // Act
    await store.upsert(newer, { now: NOW });
    const result = await store.upsert(older, { now: NOW });

    // Assess
    expect(result.finding).toMatchObject({
      count: 3,
      firstSeen: '2025-06-01T09:00:00.000Z',
      lastSeen: '2025-06-01T11:00:00.000Z',
      digest: `sha256:${'b'.repeat(64)}`,
      eventId: 'newer',
    });
    expect(result.finding.actor?.username).toBe('bob');
    expect(result.finding.firstActor?.username).toBe('carol');
  });

  it('reopens a resolved finding seen again, recording the reopen', async () => {
    // Prepare
    const { finding } = await store.upsert(candidate(), { now: NOW });
    await store.setStatus(finding.id, {
      status: 'RESOLVED',
      by: 'alice',
      at: '2025-06-01T10:30:00Z',
      reason: 'image replaced',
    });

    // Act
    const late = await store.upsert(
      candidate({ eventId: 'before-resolve', observedAt: '2025-06-01T10:10:00Z' }),
      { now: NOW },
    );
    const again = await store.upsert(
      candidate({ eventId: 'after-resolve', observedAt: '2025-06-01T11:00:00Z' }),
      { now: NOW },
    );

    // Assess
    expect(late.outcome).toBe('repeat');
    expect(late.finding.status).toBe('RESOLVED');
    expect(again.outcome).toBe('reopened');
    expect(again.finding.status).toBe('OPEN');
    expect(again.finding.lastStatusChange).toMatchObject({ status: 'OPEN', by: 'regwatch' });
    expect(again.finding.statusHistory?.map((c) => c.status)).toEqual(['RESOLVED', 'OPEN']);
    expect((await store.get(finding.id)).status).toBe('OPEN');
  });

  it('stays quiet while a suppression holds and reopens once its `until` has passed', async () => {
    // Prepare
    const { finding } = await store.upsert(candidate(), { now: NOW });
    await store.setStatus(finding.id, {
      status: 'SUPPRESSED',
      by: 'alice',
      at: '2025-06-01T10:30:00Z',
      reason: 'migration window',
      until: '2025-06-02T00:00:00Z',
    });

    // Act
    const during = await store.upsert(
      candidate({ eventId: 'during', observedAt: '2025-06-01T11:00:00Z' }),
      { now: NOW },
    );
    const after = await store.upsert(
      candidate({ eventId: 'after', observedAt: '2025-06-02T01:00:00Z' }),
      { now: new Date('2025-06-02T01:00:05Z') },
    );

    // Assess
    expect(during.outcome).toBe('repeat');
    expect(during.finding.status).toBe('SUPPRESSED');
    expect(after.outcome).toBe('reopened');
    expect(after.finding.status).toBe('OPEN');
  });

  it('treats sightings of an acknowledged finding as repeats', async () => {
    // Prepare
    const { finding } = await store.upsert(candidate(), { now: NOW });
    await store.setStatus(finding.id, {
      status: 'ACKNOWLEDGED',
      by: 'alice',
      at: '2025-06-01T10:30:00Z',
      reason: 'looking',
    });

    // Act
    const result = await store.upsert(
      candidate({ eventId: 'e2', observedAt: '2025-06-01T11:00:00Z' }),
      { now: NOW },
    );

    // Assess
    expect(result.outcome).toBe('repeat');
    expect(result.finding.status).toBe('ACKNOWLEDGED');
  });

  it('sets the TTL attribute to lastSeen + ttlDays and refreshes it on each sighting', async () => {
    // Prepare
    await store.upsert(candidate(), { now: NOW, ttlDays: 30 });

    // Act
    await store.upsert(candidate({ eventId: 'e2', observedAt: '2025-06-01T11:00:00Z' }), {
      now: NOW,
      ttlDays: 30,
    });

    // Assess
    const raw = await dynamo.doc.send(
      new GetCommand({ TableName: table, Key: { fingerprint: fp('default') } }),
    );
    expect(raw.Item?.expiresAt).toBe(Date.parse('2025-07-01T11:00:00Z') / 1000);
  });

  it("keeps attributes other writers add (the alerts function's alertedKey) across updates", async () => {
    // Prepare
    const { finding } = await store.upsert(candidate(), { now: NOW, ttlDays: 7 });
    await dynamo.doc.send(
      new UpdateCommand({
        TableName: table,
        Key: { fingerprint: finding.fingerprint },
        UpdateExpression: 'SET alertedKey = :k',
        ExpressionAttributeValues: { ':k': 'stream-event-1' },
      }),
    );

    // Act
    await store.upsert(candidate({ eventId: 'e2', digest: null }), { now: NOW });
    await store.setStatus(finding.id, {
      status: 'RESOLVED',
      by: 'a',
      at: NOW.toISOString(),
      reason: 'r',
    });

    // Assess
    const raw = await dynamo.doc.send(
      new GetCommand({ TableName: table, Key: { fingerprint: finding.fingerprint } }),
    );
    expect(raw.Item?.alertedKey).toBe('stream-event-1');
    // One lifecycle with replay: a sighting that does not know the digest keeps the known one.
    expect(raw.Item?.digestKey).toBe(`sha256:${'a'.repeat(64)}`);
    expect(raw.Item?.expiresAt).toBeUndefined(); // no ttlDays on the last sighting
    expect(raw.Item?.status).toBe('RESOLVED');
  });

  it('refuses a malformed candidate with a ValidationError naming the field', async () => {
    // Act / Assess
    await expect(store.upsert(candidate({ cluster: '' }), { now: NOW })).rejects.toThrow(/cluster/);
    await expect(
      store.upsert(candidate({ observedAt: 'yesterday' }), { now: NOW }),
    ).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('FindingsStore.get and setStatus', () => {
  it('finds by fingerprint, id and unique prefix; rejects an ambiguous or short prefix', async () => {
    // Prepare: two fingerprints sharing their first 6 hex characters.
    const a = `abcdef${'1'.repeat(58)}`;
    const b = `abcdef${'2'.repeat(58)}`;
    await store.upsert(candidate({ fingerprint: a }), { now: NOW });
    await store.upsert(candidate({ fingerprint: b }), { now: NOW });

    // Act / Assess
    expect((await store.get(a)).fingerprint).toBe(a);
    expect((await store.get(findingId(b))).fingerprint).toBe(b);
    expect((await store.get('ABCDEF2')).fingerprint).toBe(b);
    await expect(store.get('abcdef')).rejects.toThrow(/ambiguous/);
    await expect(store.get('abc')).rejects.toBeInstanceOf(ValidationError);
    await expect(store.get('ffff')).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.get(fp('nothing'))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('allows only the documented transitions and records who, when, why and until', async () => {
    // Prepare
    const { finding } = await store.upsert(candidate(), { now: NOW });
    const change = (status: Finding['status']) => ({
      status,
      by: 'alice',
      at: '2025-06-01T12:00:00Z',
      reason: `to ${status}`,
    });

    // Act
    const acked = await store.setStatus(finding.id, change('ACKNOWLEDGED'));
    const suppressed = await store.setStatus(finding.id, {
      ...change('SUPPRESSED'),
      until: '2025-07-01T00:00:00Z',
    });
    const resolved = await store.setStatus(finding.id, change('RESOLVED'));

    // Assess
    expect(acked.status).toBe('ACKNOWLEDGED');
    expect(suppressed.lastStatusChange).toEqual({
      status: 'SUPPRESSED',
      by: 'alice',
      at: '2025-06-01T12:00:00.000Z',
      reason: 'to SUPPRESSED',
      until: '2025-07-01T00:00:00.000Z',
    });
    expect(resolved.status).toBe('RESOLVED');
    await expect(store.setStatus(finding.id, change('ACKNOWLEDGED'))).rejects.toBeInstanceOf(
      ConflictError,
    );
    await expect(store.setStatus(finding.id, change('RESOLVED'))).rejects.toBeInstanceOf(
      ConflictError,
    );
    await expect(store.setStatus(fp('missing'), change('RESOLVED'))).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect((await store.get(finding.id)).statusHistory?.map((c) => c.status)).toEqual([
      'ACKNOWLEDGED',
      'SUPPRESSED',
      'RESOLVED',
    ]);
  });

  it('rejects `until` on anything but a suppression', async () => {
    // Prepare
    const { finding } = await store.upsert(candidate(), { now: NOW });

    // Act / Assess
    await expect(
      store.setStatus(finding.id, {
        status: 'RESOLVED',
        by: 'alice',
        at: '2025-06-01T12:00:00Z',
        reason: 'x',
        until: '2025-07-01T00:00:00Z',
      }),
    ).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('FindingsStore.query', () => {
  // 12 findings, one per hour; alternating clusters/namespaces/actors/repositories.
  async function seed(): Promise<FindingCandidate[]> {
    const made: FindingCandidate[] = [];
    for (let i = 0; i < 12; i++) {
      const c = candidate({
        fingerprint: fp(`seed-${i}`),
        cluster: i % 2 === 0 ? 'prod' : 'staging',
        namespace: i % 3 === 0 ? 'payments' : 'web',
        repository: i % 4 === 0 ? 'evil.example.com/app' : `docker.io/library/img${i}`,
        digest: i % 5 === 0 ? null : `sha256:${String(i % 3).repeat(64)}`,
        actor: i % 6 === 0 ? null : actor(i % 2 === 0 ? 'alice' : 'bob'),
        severity: (['low', 'medium', 'high', 'critical'] as const)[i % 4],
        observedAt: new Date(Date.parse('2025-06-01T00:00:00Z') + i * 3_600_000).toISOString(),
        eventId: `seed-${i}`,
      });
      await store.upsert(c, { now: NOW });
      made.push(c);
    }
    return made;
  }

  function expected(made: FindingCandidate[], keep: (c: FindingCandidate) => boolean) {
    return made
      .filter(keep)
      .map((c) => c.fingerprint)
      .reverse();
  }

  it('answers every filter newest first, from an index, matching a brute-force filter', async () => {
    // Prepare
    const made = await seed();
    const since = new Date('2025-06-01T03:00:00Z');
    const until = new Date('2025-06-01T10:00:00Z');
    const inWindow = (c: FindingCandidate) =>
      Date.parse(c.observedAt) >= since.getTime() && Date.parse(c.observedAt) < until.getTime();
    const cases: [FindingFilter, (c: FindingCandidate) => boolean, string][] = [
      [{}, () => true, 'byStatus'],
      [{ status: 'OPEN' }, () => true, 'byStatus'],
      [{ status: 'RESOLVED' }, () => false, 'byStatus'],
      [{ cluster: 'prod' }, (c) => c.cluster === 'prod', 'byCluster'],
      [
        { cluster: 'staging', namespace: 'web' },
        (c) => c.cluster === 'staging' && c.namespace === 'web',
        'byScope',
      ],
      [{ namespace: 'payments' }, (c) => c.namespace === 'payments', 'byStatus'],
      [
        { repository: 'evil.example.com/app' },
        (c) => c.repository === 'evil.example.com/app',
        'byRepository',
      ],
      [
        { digest: `sha256:${'1'.repeat(64)}` },
        (c) => c.digest === `sha256:${'1'.repeat(64)}`,
        'byDigest',
      ],
      [{ actor: 'bob' }, (c) => c.actor?.username === 'bob', 'byActor'],
      [
        { minSeverity: 'high' },
        (c) => c.severity === 'high' || c.severity === 'critical',
        'byStatus',
      ],
      [
        { actor: 'alice', cluster: 'prod', since },
        (c) =>
          c.actor?.username === 'alice' &&
          c.cluster === 'prod' &&
          Date.parse(c.observedAt) >= since.getTime(),
        'byActor',
      ],
      [{ since, until }, inWindow, 'byStatus'],
      [{ status: 'OPEN', since }, (c) => Date.parse(c.observedAt) >= since.getTime(), 'byStatus'],
      [
        { repository: 'evil.example.com/app', since, until },
        (c) => c.repository === 'evil.example.com/app' && inWindow(c),
        'byRepository',
      ],
      [
        { cluster: 'prod', namespace: 'web', since, minSeverity: 'medium' },
        (c) =>
          c.cluster === 'prod' &&
          c.namespace === 'web' &&
          Date.parse(c.observedAt) >= since.getTime() &&
          c.severity !== 'low',
        'byScope',
      ],
      [{ cluster: 'prod', since, until }, (c) => c.cluster === 'prod' && inWindow(c), 'byCluster'],
      [
        { digest: `sha256:${'2'.repeat(64)}`, until },
        (c) =>
          c.digest === `sha256:${'2'.repeat(64)}` && Date.parse(c.observedAt) < until.getTime(),
        'byDigest',
      ],
    ];

    // Two-item DynamoDB pages make every partition stream span several requests.
    const smallPages = new FindingsStore(dynamo.doc, table, { queryPageSize: 2 });
    for (const s of [store, smallPages]) {
      for (const [filter, keep, index] of cases) {
        // Act
        const got: string[] = [];
        for await (const f of s.query(filter)) got.push(f.fingerprint);

        // Assess
        expect(s.plan(filter).index, JSON.stringify(filter)).toBe(index);
        expect(got, JSON.stringify(filter)).toEqual(expected(made, keep));
        if (filter.status !== 'RESOLVED')
          expect(got.length, JSON.stringify(filter)).toBeGreaterThan(0);
      }
    }
  });

  it('stops at `limit` and pages across several pages without gaps or repeats', async () => {
    // Prepare
    const made = await seed();
    const newestFirst = expected(made, () => true);

    // Act
    const limited = await all({ limit: 5 });
    const pages: string[][] = [];
    let token: string | undefined;
    do {
      const page = await store.queryPage({}, { limit: 5, nextToken: token });
      pages.push(page.items.map((f) => f.fingerprint));
      token = page.nextToken;
    } while (token);

    // Assess
    expect(limited.map((f) => f.fingerprint)).toEqual(newestFirst.slice(0, 5));
    expect(pages.map((p) => p.length)).toEqual([5, 5, 2]);
    expect(pages.flat()).toEqual(newestFirst);
  });

  it('pages a filtered index query with a window', async () => {
    // Prepare
    const made = await seed();
    const since = new Date('2025-06-01T02:00:00Z');
    const want = expected(
      made,
      (c) => c.cluster === 'prod' && Date.parse(c.observedAt) >= since.getTime(),
    );

    // Act
    const first = await store.queryPage({ cluster: 'prod', since }, { limit: 2 });
    const second = await store.queryPage(
      { cluster: 'prod', since },
      { limit: 2, nextToken: first.nextToken },
    );
    const third = await store.queryPage(
      { cluster: 'prod', since },
      { limit: 2, nextToken: second.nextToken },
    );

    // Assess
    expect([...first.items, ...second.items, ...third.items].map((f) => f.fingerprint)).toEqual(
      want,
    );
    expect(third.nextToken).toBeUndefined();
  });

  it('moves a finding to the top when it is seen again and to its new status index', async () => {
    // Prepare
    const made = await seed();
    const oldest = made[0] as FindingCandidate;
    await store.upsert(
      { ...oldest, eventId: 'again', observedAt: '2025-06-02T00:00:00Z' },
      { now: NOW },
    );
    await store.setStatus(fp('seed-1'), {
      status: 'RESOLVED',
      by: 'alice',
      at: '2025-06-02T00:00:00Z',
      reason: 'fixed',
    });

    // Act
    const newest = await all({ limit: 1 });
    const resolved = await all({ status: 'RESOLVED' });
    const active = await all({ status: ['OPEN', 'ACKNOWLEDGED'] });
    const resolvedInStaging = await all({ status: ['RESOLVED'], cluster: 'staging' });
    const open = await all({ status: 'OPEN' });

    // Assess
    expect(newest.map((f) => f.fingerprint)).toEqual([oldest.fingerprint]);
    expect(resolved.map((f) => f.fingerprint)).toEqual([fp('seed-1')]);
    expect(open).toHaveLength(11);
    expect(active.map((f) => f.fingerprint)).toEqual(open.map((f) => f.fingerprint));
    expect(resolvedInStaging.map((f) => f.fingerprint)).toEqual([fp('seed-1')]);
    await expect(all({ status: 'DONE' as 'OPEN' })).rejects.toBeInstanceOf(ValidationError);
  });

  it('rejects a forged next token', async () => {
    // Act / Assess
    await expect(store.queryPage({}, { nextToken: 'not-a-token' })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });

  it('skips bad stored items in a listing and reports them', async () => {
    // Prepare: two valid findings and two items written by hand with missing / mistyped fields.
    await store.upsert(candidate({ fingerprint: fp('good-1'), eventId: 'g1' }), { now: NOW });
    await store.upsert(candidate({ fingerprint: fp('good-2'), eventId: 'g2' }), { now: NOW });
    const bad = [fp('bad-1'), fp('bad-2')];
    await dynamo.doc.send(
      new PutCommand({
        TableName: table,
        Item: {
          fingerprint: bad[0],
          statusShard: 'OPEN#0',
          seenKey: `2025-06-01T11:00:00.000Z#${bad[0]}`,
          cluster: 'prod',
          count: 'many',
        },
      }),
    );
    await dynamo.doc.send(
      new PutCommand({
        TableName: table,
        Item: {
          fingerprint: bad[1],
          statusShard: 'OPEN#1',
          seenKey: `2025-06-01T11:30:00.000Z#${bad[1]}`,
          cluster: 'prod',
          status: 'OPEN',
        },
      }),
    );

    // Act
    const listed = await all();
    const byCluster = await all({ cluster: 'prod' });

    // Assess
    expect(listed.map((f) => f.fingerprint).sort()).toEqual([fp('good-1'), fp('good-2')].sort());
    expect(byCluster).toHaveLength(2);
    expect(invalid.map((r) => r.key.fingerprint).sort()).toEqual([...bad, ...bad].sort());
    expect(invalid[0]?.issues.length).toBeGreaterThan(0);
    expect(store.invalidSkipped).toBe(4);
    await expect(store.get(bad[0] as string)).rejects.toBeInstanceOf(ValidationError);
  });
});
