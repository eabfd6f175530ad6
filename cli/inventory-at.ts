/**
 * `regwatch replay … --inventory-at TIME`: what the audit log says was running at TIME. The
 * same inventory fold as the live path (`planInventory`), run in memory over the log's events
 * up to TIME, in file order.
 */
import { readAuditLog } from '../lambdas/adapters/auditlog/reader.ts';
import { interpretAuditEvent } from '../lambdas/core/audit/interpret.ts';
import { auditDeletion } from '../lambdas/core/audit-delete.ts';
import type { Decider } from '../lambdas/core/evaluate.ts';
import {
  type InventoryEntry,
  type InventoryEvent,
  planInventory,
  workloadKey,
} from '../lambdas/core/inventory.ts';
import type { WorkloadRef } from '../lambdas/core/types.ts';
import { auditRole } from '../lambdas/services/ingest.ts';

export const UNKNOWN_CLUSTER_AT = 'unknown';

/** The in-memory inventory: entries by workload partition, as the table holds them. */
export class MemoryInventory {
  readonly #byWorkload = new Map<string, InventoryEntry[]>();

  apply(cluster: string, namespace: string, workload: WorkloadRef, event: InventoryEvent): void {
    const key = workloadKey(cluster, namespace, workload);
    this.#write(key, this.#byWorkload.get(key) ?? [], event);
  }

  /** A pod gone whose workload is unknown: every workload of the namespace that lists it. */
  podGone(cluster: string, namespace: string, podName: string, observedAt: string): void {
    const prefix = `${cluster}#${namespace}#`;
    for (const [key, entries] of [...this.#byWorkload]) {
      if (!key.startsWith(prefix) || !entries.some((e) => e.pods.includes(podName))) continue;
      this.#write(key, entries, { type: 'pod-gone', podName, observedAt });
    }
  }

  #write(key: string, entries: InventoryEntry[], event: InventoryEvent): void {
    const plan = planInventory(entries, event);
    const gone = new Set(
      plan.removals.map((r) => `${r.entry.container}#${r.entry.reference ?? r.entry.image}`),
    );
    const next = new Map(
      entries
        .filter((e) => !gone.has(`${e.container}#${e.reference ?? e.image}`))
        .map((e) => [`${e.container}#${e.reference ?? e.image}`, e]),
    );
    for (const e of plan.upserts) next.set(`${e.container}#${e.reference ?? e.image}`, e);
    if (next.size === 0) this.#byWorkload.delete(key);
    else this.#byWorkload.set(key, [...next.values()]);
  }

  entries(): InventoryEntry[] {
    return [...this.#byWorkload.values()].flat();
  }
}

/** Folds the logs' events up to `at` into an inventory. */
export async function inventoryAt(
  files: readonly string[],
  opts: { at: Date; cluster?: string | undefined; decider: Decider },
): Promise<{ entries: InventoryEntry[]; events: number; after: number }> {
  const memory = new MemoryInventory();
  const limit = opts.at.getTime();
  let events = 0;
  let after = 0;
  for (const file of files) {
    for await (const record of readAuditLog(file, { cluster: opts.cluster })) {
      if (record.kind !== 'event') continue;
      const cluster = record.cluster ?? opts.cluster ?? UNKNOWN_CLUSTER_AT;
      const deletion = auditDeletion(record.event);
      if (deletion) {
        if (Date.parse(deletion.observedAt) > limit) {
          after++;
          continue;
        }
        events++;
        if (deletion.kind === 'workload') {
          memory.apply(cluster, deletion.namespace, deletion.workload, {
            type: 'workload-gone',
            observedAt: deletion.observedAt,
          });
        } else if (deletion.workload) {
          memory.apply(cluster, deletion.namespace, deletion.workload, {
            type: 'pod-gone',
            podName: deletion.podName,
            observedAt: deletion.observedAt,
          });
        } else memory.podGone(cluster, deletion.namespace, deletion.podName, deletion.observedAt);
        continue;
      }
      const outcome = interpretAuditEvent(record.event, { cluster });
      if (outcome.kind !== 'observation') continue;
      const obs = outcome.observation;
      if (Date.parse(obs.observedAt) > limit) {
        after++;
        continue;
      }
      const role = auditRole(record.event, obs);
      if (role.type === 'none') continue;
      events++;
      const when = new Date(obs.observedAt);
      const decisions = obs.containers.map((c) =>
        opts.decider.decide(c.image, { cluster: obs.cluster, namespace: obs.namespace }, when),
      );
      memory.apply(
        obs.cluster,
        obs.namespace,
        obs.workload,
        role.type === 'pod'
          ? { type: 'pod', observation: obs, decisions }
          : { type: 'template', observation: obs, decisions },
      );
    }
  }
  const entries = memory
    .entries()
    .sort((a, b) =>
      `${a.cluster}#${a.namespace}#${a.workload.kind}#${a.workload.name}#${a.container}`.localeCompare(
        `${b.cluster}#${b.namespace}#${b.workload.kind}#${b.workload.name}#${b.container}`,
      ),
    );
  return { entries, events, after };
}
