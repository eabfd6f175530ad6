/**
 * Local mode's single-writer Inventory adapter on dynalite: the HTTP ingest answers only once
 * the batch's writes are durable, unprocessed batch items are retried, a failed flush keeps its
 * writes for the next one, the index is bounded (falling back to conditional writes, told
 * once), and a new process reloads the index from the table.
 */
import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  QueryCommand,
  ScanCommand,
} from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FindingsStore } from '../../../lambdas/adapters/dynamodb/findings.ts';
import { firstRevision, InventoryStore } from '../../../lambdas/adapters/dynamodb/inventory.ts';
import { LocalInventoryStore } from '../../../lambdas/adapters/dynamodb/inventory-local.ts';
import type { TableNames } from '../../../lambdas/adapters/dynamodb/schema.ts';
import { compileAllowlist, parseAllowlist } from '../../../lambdas/core/allowlist/index.ts';
import { podEventsEdge } from '../../../lambdas/handlers/edges/pod-events.ts';
import type { LocalPipeline } from '../../../lambdas/local/routes.ts';
import { closeServer, createIngestServer, listenLoopback } from '../../../lambdas/local/server.ts';
import { ingestPodEvents } from '../../../lambdas/services/ingest.ts';
import type { IngestDeps, InventoryIngestPort } from '../../../lambdas/services/ports.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../../helpers/dynalite.ts';
import { podEvent } from '../../local/builders.ts';

const decider = compileAllowlist(
  parseAllowlist('version: 1\nrules:\n  - id: good\n    registry: good.example.com\n'),
);
const NOW = new Date('2026-01-10T12:00:00Z');

type Send = (command: unknown) => Promise<unknown>;

/** A document client whose requests pass through `hook` (`send` forwards to dynalite). */
function intercepted(
  doc: DynamoDBDocumentClient,
  hook: (command: unknown, send: () => Promise<unknown>) => Promise<unknown>,
): DynamoDBDocumentClient {
  const send = doc.send.bind(doc) as Send;
  return {
    send: (command: unknown) => hook(command, () => send(command)),
  } as unknown as DynamoDBDocumentClient;
}

function pods(names: readonly string[], image = 'evil.example.com/app:1'): unknown[] {
  return names.map((name) => podEvent({ name, containers: { app: image } }));
}

function deleted(name: string): unknown {
  return {
    ...(podEvent({ name, containers: { app: 'evil.example.com/app:1' } }) as object),
    reason: 'deleted',
  };
}

describe('LocalInventoryStore on dynalite', () => {
  let dynamo: LocalDynamo;
  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(() => dynamo.stop());

  async function items(table: string): Promise<Record<string, unknown>[]> {
    const out = await dynamo.doc.send(new ScanCommand({ TableName: table }));
    return (out.Items ?? []).sort((a, b) =>
      String(a.workloadKey).localeCompare(String(b.workloadKey)),
    );
  }

  function depsOf(names: TableNames, store: InventoryIngestPort): IngestDeps {
    const findings = new FindingsStore(dynamo.doc, names.findings);
    return {
      allowlist: { current: async () => decider },
      findings,
      clock: () => NOW,
      minAlertSeverity: 'low',
      inventory: { store, findings },
    };
  }

  it('answers a POST only after the batch write of its entries resolved', async () => {
    // Prepare: a client that holds every BatchWriteItem until the test lets it go.
    const names = await freshTables(dynamo);
    const release = Promise.withResolvers<void>();
    const batchStarted = Promise.withResolvers<void>();
    const doc = intercepted(dynamo.doc, async (command, send) => {
      if (command instanceof BatchWriteCommand) {
        batchStarted.resolve();
        await release.promise;
      }
      return send();
    });
    const store = await LocalInventoryStore.load(doc, names.inventory);
    const deps = depsOf(names, store);
    const server = createIngestServer({
      ingest: deps,
      edges: { podEvents: podEventsEdge(deps) },
    } as unknown as LocalPipeline);
    const url = `http://127.0.0.1:${await listenLoopback(server, 0)}`;
    try {
      // Act
      let answered = false;
      const response = fetch(`${url}/v1/pod-events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(pods(['held-a', 'held-b'])),
      }).then((res) => {
        answered = true;
        return res;
      });
      await batchStarted.promise;
      // The server answers other requests meanwhile; the POST is still waiting on its write.
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const whileHeld = await items(names.inventory);
      const answeredWhileHeld = answered;
      release.resolve();
      const res = await response;

      // Assess
      expect(answeredWhileHeld).toBe(false);
      expect(whileHeld).toEqual([]);
      expect(res.status).toBe(200);
      expect((await items(names.inventory)).map((i) => i.pods)).toEqual([['held-a'], ['held-b']]);
      expect(store.pendingWrites).toBe(0);
    } finally {
      release.resolve();
      await closeServer(server);
    }
  });

  it('retries the unprocessed items of a batch write until all are written', async () => {
    // Prepare: the first BatchWriteItem writes one item and hands the rest back unprocessed.
    const names = await freshTables(dynamo);
    let batches = 0;
    const doc = intercepted(dynamo.doc, async (command, send) => {
      if (!(command instanceof BatchWriteCommand)) return send();
      batches++;
      if (batches > 1) return send();
      const requests = command.input.RequestItems?.[names.inventory] ?? [];
      await dynamo.doc.send(
        new BatchWriteCommand({ RequestItems: { [names.inventory]: requests.slice(0, 1) } }),
      );
      return { UnprocessedItems: { [names.inventory]: requests.slice(1) } };
    });
    const store = await LocalInventoryStore.load(doc, names.inventory);

    // Act
    const report = await ingestPodEvents(pods(['u-a', 'u-b', 'u-c']), depsOf(names, store));

    // Assess
    expect(report.failed).toEqual([]);
    expect(batches).toBe(2);
    expect((await items(names.inventory)).map((i) => i.pods)).toEqual([['u-a'], ['u-b'], ['u-c']]);
    expect(store.pendingWrites).toBe(0);
  });

  it('keeps the writes of a failed flush queued: the batch fails, its retry writes them', async () => {
    // Prepare: the first BatchWriteItem fails as an unreachable table would.
    const names = await freshTables(dynamo);
    let failures = 1;
    const doc = intercepted(dynamo.doc, async (command, send) => {
      if (command instanceof BatchWriteCommand && failures-- > 0) throw new Error('socket hang up');
      return send();
    });
    const store = await LocalInventoryStore.load(doc, names.inventory);
    const deps = depsOf(names, store);

    // Act
    const first = ingestPodEvents(pods(['f-a', 'f-b']), deps);
    await expect(first).rejects.toThrow('socket hang up');
    const queued = store.pendingWrites;
    const empty = await items(names.inventory);
    // The sender retries the batch: the index already has the entries, the queue still holds
    // their writes.
    const retry = await ingestPodEvents(pods(['f-a', 'f-b']), deps);

    // Assess
    expect(queued).toBe(2);
    expect(empty).toEqual([]);
    expect(retry.failed).toEqual([]);
    const stored = await items(names.inventory);
    expect(stored.map((i) => i.pods)).toEqual([['f-a'], ['f-b']]);
    // Each written once: still at its first revision.
    const read = await new InventoryStore(dynamo.doc, names.inventory).scanPage();
    expect(read.items.map((e) => e.rev - firstRevision(e.entry))).toEqual([0, 0]);
    expect(store.pendingWrites).toBe(0);
  });

  it('falls back to conditional writes when the table is over the bound at load, told once', async () => {
    // Prepare: three entries written by the conditional adapter.
    const names = await freshTables(dynamo);
    await ingestPodEvents(
      pods(['b-a', 'b-b', 'b-c']),
      depsOf(names, new InventoryStore(dynamo.doc, names.inventory)),
    );
    let queries = 0;
    const doc = intercepted(dynamo.doc, async (command, send) => {
      if (command instanceof QueryCommand) queries++;
      return send();
    });
    const told: string[] = [];

    // Act
    const store = await LocalInventoryStore.load(doc, names.inventory, {
      maxEntries: 2,
      onFallback: (reason) => told.push(reason),
    });
    const report = await ingestPodEvents([deleted('b-b'), ...pods(['b-d'])], depsOf(names, store));

    // Assess
    expect(store.indexed).toBe(false);
    expect(told).toHaveLength(1);
    expect(told[0]).toMatch(/over its bound at start .*conditional writes/);
    expect(report.failed).toEqual([]);
    expect(queries).toBeGreaterThan(0); // the partitions were read: the conditional path
    expect((await items(names.inventory)).map((i) => i.pods)).toEqual([['b-a'], ['b-c'], ['b-d']]);
  });

  it('falls back once when the index grows past its bound while running, losing nothing', async () => {
    // Prepare
    const names = await freshTables(dynamo);
    const told: string[] = [];
    const store = await LocalInventoryStore.load(dynamo.doc, names.inventory, {
      maxEntries: 2,
      onFallback: (reason) => told.push(reason),
    });
    const deps = depsOf(names, store);

    // Act: the third entry crosses the bound; later events take the conditional path.
    await ingestPodEvents(pods(['g-a', 'g-b', 'g-c']), deps);
    const indexedAfterCrossing = store.indexed;
    await ingestPodEvents(pods(['g-d']), deps);
    await ingestPodEvents([deleted('g-a')], deps);

    // Assess
    expect(indexedAfterCrossing).toBe(false);
    expect(told).toHaveLength(1);
    expect(told[0]).toMatch(/over its bound while running/);
    expect((await items(names.inventory)).map((i) => i.pods)).toEqual([['g-b'], ['g-c'], ['g-d']]);
    expect(store.pendingWrites).toBe(0);
  });

  it('bounds the index by bytes too', async () => {
    const names = await freshTables(dynamo);
    const told: string[] = [];
    const store = await LocalInventoryStore.load(dynamo.doc, names.inventory, {
      maxBytes: 1000,
      onFallback: (reason) => told.push(reason),
    });
    await ingestPodEvents(pods(['m-a', 'm-b', 'm-c']), depsOf(names, store));
    expect(store.indexed).toBe(false);
    expect(told).toHaveLength(1);
    expect(await items(names.inventory)).toHaveLength(3);
  });

  it('a new process reloads the index from the table and plans from it without a read', async () => {
    // Prepare: one process writes, then is gone.
    const names = await freshTables(dynamo);
    const first = await LocalInventoryStore.load(dynamo.doc, names.inventory);
    await ingestPodEvents(pods(['r-a', 'r-b']), depsOf(names, first));
    const written = await first.workloadEntries('orion-prod-euc1', 'web', {
      kind: 'Pod',
      name: 'r-a',
    });
    let queries = 0;
    const doc = intercepted(dynamo.doc, async (command, send) => {
      if (command instanceof QueryCommand) queries++;
      return send();
    });

    // Act
    const second = await LocalInventoryStore.load(doc, names.inventory);
    const loaded = second.indexedEntries;
    const reloaded = await second.workloadEntries('orion-prod-euc1', 'web', {
      kind: 'Pod',
      name: 'r-a',
    });
    const report = await ingestPodEvents([deleted('r-a')], depsOf(names, second));

    // Assess
    expect(loaded).toBe(2);
    expect(second.indexedEntries).toBe(1);
    expect(reloaded).toEqual(written);
    expect(written).toHaveLength(1);
    expect(report.findings.resolved).toBe(1); // the pod's finding: no longer running
    expect(queries).toBe(0);
    expect((await items(names.inventory)).map((i) => i.pods)).toEqual([['r-b']]);
  });
});
