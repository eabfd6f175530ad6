/**
 * A full pass fanned out by cluster (issue 11, AWS): the pass lists the clusters of the
 * `byCluster` index and sends one queue message per cluster; each message re-judges that
 * cluster's entries page by page. Either side stops before its time runs out and sends a
 * message that goes on from where it stopped (a continuation key), so no invocation is cut
 * short mid-page and no pass is bounded by one function's timeout. Local mode needs none of
 * this: it runs `reconcileAll` in-process through the same `rejudgeEntry`.
 */
import type { InventoryPage } from '../adapters/dynamodb/inventory.ts';
import type { Decider } from '../core/evaluate.ts';
import type { ClusterMessage, ReconcileMessage } from '../core/reconcile-message.ts';
import type { ImageRecord } from '../core/types.ts';
import {
  emptyReconcileReport,
  type InventoryPort,
  type ReconcileDeps,
  type ReconcileReport,
  rejudgeEntry,
} from './reconcile.ts';

/** Where fan-out messages go (`SqsReconcileQueue` fits). */
export interface ReconcileQueuePort {
  send(messages: readonly ReconcileMessage[]): Promise<void>;
}

/** What a fanned-out pass reads of the inventory (`InventoryStore` fits). */
export interface ClusterInventoryPort {
  clusterPage(
    cluster: string,
    next?: Record<string, unknown>,
    limit?: number,
  ): Promise<InventoryPage>;
  clusterNamesPage(
    next?: Record<string, unknown>,
  ): Promise<{ clusters: string[]; next?: Record<string, unknown> | undefined }>;
}

export interface FanOutDeps extends ReconcileDeps {
  inventory: InventoryPort & ClusterInventoryPort;
  queue: ReconcileQueuePort;
}

/** How long an invocation may go on: it stops with `reserveMs` left, after at least one page. */
export interface RunBudget {
  remainingMs(): number;
  reserveMs: number;
}

export interface FanOutReport {
  /** Cluster messages sent. */
  clusters: number;
  pages: number;
  /** True when the listing stopped early and a `clusters` message goes on with it. */
  continued: boolean;
}

/**
 * Lists clusters from `start` and sends one `cluster` message each (ten to a batch). A
 * cluster on two pages may be sent twice: a second pass over it changes nothing.
 */
export async function fanOutByCluster(
  deps: Pick<FanOutDeps, 'inventory' | 'queue'>,
  pass: { cause: string; start?: Record<string, unknown> | undefined },
  budget: RunBudget,
): Promise<FanOutReport> {
  const report: FanOutReport = { clusters: 0, pages: 0, continued: false };
  const sent = new Set<string>();
  let next = pass.start;
  do {
    if (report.pages > 0 && budget.remainingMs() < budget.reserveMs) {
      await deps.queue.send([
        { kind: 'clusters', cause: pass.cause, start: next as Record<string, string> },
      ]);
      report.continued = true;
      break;
    }
    const page = await deps.inventory.clusterNamesPage(next);
    report.pages++;
    const fresh = page.clusters.filter((c) => !sent.has(c));
    for (const c of fresh) sent.add(c);
    if (fresh.length > 0) {
      await deps.queue.send(
        fresh.map((cluster) => ({ kind: 'cluster', cluster, cause: pass.cause })),
      );
      report.clusters += fresh.length;
    }
    next = page.next;
  } while (next);
  return report;
}

/**
 * Re-judges one cluster's entries from the message's continuation key; when the budget runs
 * low it sends the same message with the key it reached (`report.next`) and returns.
 */
export async function reconcileCluster(
  message: ClusterMessage,
  decider: Decider,
  deps: FanOutDeps,
  budget: RunBudget,
  pageSize = 500,
): Promise<ReconcileReport> {
  const report = emptyReconcileReport();
  const cache = new Map<string, ImageRecord | undefined>();
  let next: Record<string, unknown> | undefined = message.start;
  do {
    if (report.pages > 0 && budget.remainingMs() < budget.reserveMs) {
      await deps.queue.send([{ ...message, start: next as Record<string, string> }]);
      report.next = next;
      break;
    }
    const page = await deps.inventory.clusterPage(message.cluster, next, pageSize);
    report.pages++;
    for (const stored of page.items)
      await rejudgeEntry(stored, decider, deps, report, message.cause, cache);
    next = page.next;
  } while (next);
  return report;
}
