/** Output of `replay --inventory-at`: the inventory list's JSON lines or table. */

import type { Decider } from '../lambdas/core/evaluate.ts';
import { inventoryLine } from './commands/inventory.ts';
import type { CliIo } from './context.ts';
import { inventoryAt } from './inventory-at.ts';
import { formatTable } from './table.ts';

export async function printInventoryAt(
  io: CliIo,
  files: readonly string[],
  opts: { at: Date; cluster?: string | undefined; allowlist: Decider; json: boolean },
): Promise<void> {
  const { entries, events, after } = await inventoryAt(files, {
    at: opts.at,
    cluster: opts.cluster,
    decider: opts.allowlist,
  });
  const lines = entries.map((e) => {
    // Judged by the allowlist as it applied at TIME.
    const d = opts.allowlist.decide(
      e.image,
      { cluster: e.cluster, namespace: e.namespace },
      opts.at,
    );
    return inventoryLine(e, d.violations);
  });
  if (opts.json) for (const l of lines) io.stdout.write(`${JSON.stringify(l)}\n`);
  else if (lines.length === 0) io.stdout.write(`nothing running at ${opts.at.toISOString()}\n`);
  else
    io.stdout.write(
      `${formatTable(
        ['WHERE', 'WORKLOAD', 'CONTAINER', 'IMAGE', 'PODS', 'VERDICT', 'LAST SEEN'],
        lines.map((l, i) => [
          `${l.cluster}/${l.namespace}`,
          `${l.workload.kind}/${l.workload.name}`,
          l.container,
          l.image,
          String(entries[i]?.pods.length ?? 0),
          l.allowed ? 'allowed' : l.violations.map((v) => v.rule).join(','),
          l.lastSeen,
        ]),
      )}\n`,
    );
  io.stderr.write(
    `regwatch: inventory at ${opts.at.toISOString()}: ${entries.length} container entr${entries.length === 1 ? 'y' : 'ies'} from ${events} event(s); ${after} later event(s) ignored\n`,
  );
}
