import { PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AllowlistStore,
  CachedAllowlist,
  META_ID,
  STALE_LOCK_MS,
} from '../../../lambdas/adapters/dynamodb/allowlist.ts';
import type { AllowlistDocument, AllowlistRule } from '../../../lambdas/core/allowlist/index.ts';
import { AllowlistError, ConflictError, NotFoundError } from '../../../lambdas/core/errors.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../../helpers/dynalite.ts';

let dynamo: LocalDynamo;
let table: string;
let store: AllowlistStore;

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});
beforeEach(async () => {
  table = (await freshTables(dynamo)).allowlist;
  store = new AllowlistStore(dynamo.doc, table);
});

function rule(id: string, over: Partial<AllowlistRule> = {}): AllowlistRule {
  return { id, registry: 'registry.example.com', repository: `${id}/**`, ...over };
}

function doc(rules: AllowlistRule[], over: Partial<AllowlistDocument> = {}): AllowlistDocument {
  return { version: 1, rules, ...over };
}

describe('AllowlistStore', () => {
  it('starts empty at version 0 and keeps rules in the order they were added', async () => {
    // Prepare
    const empty = await store.loadAll();
    const v0 = await store.version();

    // Act
    await store.put(rule('zeta'));
    await store.put(rule('alpha'));
    await store.put(rule('zeta', { reason: 'edited in place' }));

    // Assess
    expect(empty).toEqual({ version: 1, rules: [] });
    expect(v0).toBe(0);
    const loaded = await store.loadAll();
    expect(loaded.rules.map((r) => r.id)).toEqual(['zeta', 'alpha']);
    expect(loaded.rules[0]?.reason).toBe('edited in place');
    expect(await store.version()).toBeGreaterThan(v0);
  });

  it('refuses an invalid rule and writes nothing', async () => {
    // Prepare
    const before = await store.version();

    // Act / Assess
    await expect(store.put({ id: 'bad' } as AllowlistRule)).rejects.toBeInstanceOf(AllowlistError);
    expect(await store.version()).toBe(before);
  });

  it('removes a rule, and says so when there is none', async () => {
    // Prepare
    await store.put(rule('a'));
    await store.put(rule('b'));

    // Act
    await store.remove('a');

    // Assess
    expect((await store.loadAll()).rules.map((r) => r.id)).toEqual(['b']);
    await expect(store.remove('a')).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.remove(META_ID)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('applies an import as a diff, including settings and order', async () => {
    // Prepare
    await store.applyDiff(doc([rule('keep'), rule('edit'), rule('drop'), rule('move')]));
    const next = doc(
      [rule('move'), rule('keep'), rule('edit', { requireDigest: true }), rule('new')],
      {
        severities: { 'mutable-tag': 'high' },
        pullThroughCache: [
          { prefix: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/hub', upstream: 'docker.io' },
        ],
      },
    );

    // Act
    const preview = await store.applyDiff(next, { dryRun: true });
    const unchanged = await store.loadAll();
    const diff = await store.applyDiff(next);
    const again = await store.applyDiff(next);

    // Assess
    expect(preview).toEqual(diff);
    expect(unchanged.rules.map((r) => r.id)).toEqual(['keep', 'edit', 'drop', 'move']);
    expect(diff).toEqual({
      added: ['new'],
      changed: ['edit'],
      removed: ['drop'],
      reordered: ['move', 'keep'],
      settingsChanged: true,
    });
    expect(again).toEqual({
      added: [],
      changed: [],
      removed: [],
      reordered: [],
      settingsChanged: false,
    });
    expect(await store.loadAll()).toEqual(next);
  });

  it('refuses an invalid import without changing anything', async () => {
    // Prepare
    await store.applyDiff(doc([rule('a')]));
    const version = await store.version();

    // Act / Assess
    await expect(store.applyDiff(doc([rule('b'), rule('b')]))).rejects.toBeInstanceOf(
      AllowlistError,
    );
    expect(await store.version()).toBe(version);
    expect((await store.loadAll()).rules.map((r) => r.id)).toEqual(['a']);
  });

  it('loads rule sets larger than one 1 MB Scan page completely and in order', async () => {
    // Prepare: ~6 KB per rule, 250 rules: about 1.5 MB, so Scan needs two pages or more.
    const long = (c: string) => c.repeat(2000);
    const rules = Array.from({ length: 250 }, (_, i) =>
      rule(`rule-${String(249 - i).padStart(3, '0')}`, {
        reason: long('r'),
        owner: long('o'),
        ticket: long('t'),
      }),
    );
    await store.applyDiff(doc(rules));
    let scans = 0;
    const counting = new Proxy(dynamo.doc, {
      get(target, prop, receiver) {
        if (prop !== 'send') return Reflect.get(target, prop, receiver);
        return (command: unknown) => {
          if (command instanceof ScanCommand) scans += 1;
          return target.send(command as never);
        };
      },
    });

    // Act
    const loaded = await new AllowlistStore(counting, table).loadAll();

    // Assess
    expect(scans).toBeGreaterThanOrEqual(2);
    expect(loaded.rules.map((r) => r.id)).toEqual(rules.map((r) => r.id));
  });

  it('names every bad stored rule and loads nothing', async () => {
    // Prepare
    await store.applyDiff(doc([rule('good')]));
    for (const item of [
      { id: 'typo', registry: 'registry.example.com', repositry: 'x/**' },
      { id: 'wrong-type', registry: 42 },
    ]) {
      await dynamo.doc.send(new PutCommand({ TableName: table, Item: item }));
    }

    // Act
    const error = await store.loadAll().catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(AllowlistError);
    expect((error as AllowlistError).message).toMatch(/"typo"/);
    expect((error as AllowlistError).message).toMatch(/"wrong-type"/);
    expect((error as AllowlistError).issues.map((i) => i.path)).toEqual(
      expect.arrayContaining(['rule "typo".repositry', 'rule "wrong-type".registry']),
    );
  });

  it('repairs bad stored rules by importing a good file over them', async () => {
    // Prepare
    await store.applyDiff(doc([rule('good')]));
    await dynamo.doc.send(
      new PutCommand({ TableName: table, Item: { id: 'broken', registry: 42 } }),
    );

    // Act
    const preview = await store.applyDiff(doc([rule('good')]), { dryRun: true });
    await store.applyDiff(doc([rule('good')]));

    // Assess
    expect(preview.removed).toEqual(['broken']);
    expect((await store.loadAll()).rules.map((r) => r.id)).toEqual(['good']);
  });

  it('keeps every rule when writers race, each with its own position', async () => {
    // Act
    await Promise.all(Array.from({ length: 8 }, (_, i) => store.put(rule(`r${i}`))));

    // Assess
    const loaded = await store.loadAll();
    expect(loaded.rules.map((r) => r.id).sort()).toEqual(
      Array.from({ length: 8 }, (_, i) => `r${i}`),
    );
    expect(await store.version()).toBe(16);
  });

  it('waits for a live writer lock and takes over a stale one', async () => {
    // Prepare
    let now = Date.parse('2025-06-01T00:00:00Z');
    const clocked = new AllowlistStore(dynamo.doc, table, { now: () => new Date(now) });
    await dynamo.doc.send(
      new UpdateCommand({
        TableName: table,
        Key: { id: META_ID },
        UpdateExpression: 'SET writer = :w, lockedAt = :at',
        ExpressionAttributeValues: { ':w': 'crashed-writer', ':at': now - 1000 },
      }),
    );

    // Act / Assess
    await expect(clocked.put(rule('blocked'))).rejects.toBeInstanceOf(ConflictError);
    now += STALE_LOCK_MS;
    await clocked.put(rule('after'));
    expect((await clocked.loadAll()).rules.map((r) => r.id)).toEqual(['after']);
  });
});

describe('CachedAllowlist', () => {
  it('reuses the matcher within the TTL, recompiles only after a change, then within the TTL', async () => {
    // Prepare
    await store.applyDiff(doc([rule('a')]));
    let now = 0;
    const cache = new CachedAllowlist(store, { ttlMs: 10_000, now: () => now });
    const image = 'registry.example.com/b/app:1';

    // Act / Assess
    const first = await cache.get();
    expect(first.decide(image, {}, new Date()).allowed).toBe(false);

    now = 20_000; // TTL passed, nothing changed: same matcher, no recompilation
    expect(await cache.get()).toBe(first);
    expect(cache.compilations).toBe(1);

    await store.put(rule('b'));
    now = 25_000; // changed, but still inside the TTL of the last check
    expect(await cache.get()).toBe(first);

    now = 30_000; // TTL passed again: the change is picked up
    const second = await cache.get();
    expect(second).not.toBe(first);
    expect(second.decide(image, {}, new Date()).allowed).toBe(true);
    expect(cache.compilations).toBe(2);
  });

  it('keeps the last good matcher when a bad rule is stored, and reports it', async () => {
    // Prepare
    await store.applyDiff(doc([rule('a')]));
    let now = 0;
    const errors: unknown[] = [];
    const cache = new CachedAllowlist(store, {
      ttlMs: 1000,
      now: () => now,
      onError: (e) => errors.push(e),
    });
    const good = await cache.get();
    await dynamo.doc.send(new PutCommand({ TableName: table, Item: { id: 'broken' } }));
    await store.put(rule('c')); // moves the version

    // Act
    now = 5000;
    const kept = await cache.get();

    // Assess
    expect(kept).toBe(good);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(AllowlistError);
    await expect(new CachedAllowlist(store, { ttlMs: 1000 }).get()).rejects.toBeInstanceOf(
      AllowlistError,
    );
  });
});
