/**
 * A deployed stack must upgrade with one `cdk deploy`. CloudFormation applies at most one
 * global secondary index creation or deletion per table per update ("Cannot perform more than
 * one GSI creation or deletion in a single update", then a rollback), and changing an index's
 * keys or projection is a deletion plus a creation; a table's own key schema cannot change
 * at all without replacing the table (its items are retained, not moved).
 *
 * test/fixtures/deployed-table-indexes.json is the layout last deployed. After a change of
 * indexes has shipped, make it the synthesized layout; a change needing more steps must ship
 * as several releases, each one step.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { readConfig } from '../../lib/config.ts';
import { RegwatchStack } from '../../lib/regwatch-stack.ts';

interface IndexLayout {
  name: string;
  keys: string[];
  projection: string | undefined;
  nonKeyAttributes?: string[];
}
interface TableLayout {
  keys: string[];
  indexes: IndexLayout[];
}

const deployed = JSON.parse(
  readFileSync(
    path.resolve(import.meta.dirname, '../fixtures/deployed-table-indexes.json'),
    'utf8',
  ),
) as { tables: Record<string, TableLayout> };

interface CfnKey {
  AttributeName: string;
  KeyType: string;
}
interface CfnTable {
  Properties: {
    KeySchema: CfnKey[];
    GlobalSecondaryIndexes?: {
      IndexName: string;
      KeySchema: CfnKey[];
      Projection: { ProjectionType?: string; NonKeyAttributes?: string[] };
    }[];
  };
}

function synthesized(): Record<string, TableLayout> {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new RegwatchStack(app, 'regwatch', { config: readConfig(app) });
  const tables = Template.fromStack(stack).findResources('AWS::DynamoDB::Table') as Record<
    string,
    CfnTable
  >;
  const keys = (k: CfnKey[]) => k.map((a) => `${a.AttributeName}:${a.KeyType}`);
  return Object.fromEntries(
    Object.entries(tables).map(([id, t]) => [
      id,
      {
        keys: keys(t.Properties.KeySchema),
        indexes: (t.Properties.GlobalSecondaryIndexes ?? []).map((g) => ({
          name: g.IndexName,
          keys: keys(g.KeySchema),
          projection: g.Projection.ProjectionType,
          ...(g.Projection.NonKeyAttributes
            ? { nonKeyAttributes: g.Projection.NonKeyAttributes }
            : {}),
        })),
      },
    ]),
  );
}

/** Index creations plus deletions CloudFormation must run to go from `before` to `after`. */
function indexSteps(before: IndexLayout[], after: IndexLayout[]): number {
  const same = (a: IndexLayout, b: IndexLayout) =>
    JSON.stringify([a.keys, a.projection, a.nonKeyAttributes ?? []]) ===
    JSON.stringify([b.keys, b.projection, b.nonKeyAttributes ?? []]);
  let steps = 0;
  for (const b of before) {
    const a = after.find((x) => x.name === b.name);
    if (!a) steps++;
    else if (!same(a, b)) steps += 2;
  }
  for (const a of after) if (!before.some((b) => b.name === a.name)) steps++;
  return steps;
}

describe('table upgrades', () => {
  it('counts a changed index key as two steps, an added or dropped index as one', () => {
    const idx = (name: string, ...keys: string[]): IndexLayout => ({
      name,
      keys,
      projection: 'ALL',
    });
    const before = [idx('a', 'x:HASH'), idx('b', 'y:HASH', 'w:RANGE')];
    expect(indexSteps(before, before)).toBe(0);
    expect(indexSteps(before, [idx('a', 'x:HASH')])).toBe(1);
    expect(indexSteps(before, [...before, idx('c', 'z:HASH')])).toBe(1);
    expect(indexSteps(before, [idx('a', 'x:HASH'), idx('b', 'y:HASH', 'r:RANGE')])).toBe(2);
    expect(indexSteps(before, [{ ...idx('a', 'x:HASH'), projection: 'KEYS_ONLY' }])).toBe(3);
  });

  it('one cdk deploy upgrades the deployed tables: same keys, at most one index step each', () => {
    // Act
    const now = synthesized();

    // Assess: every deployed table is still there (same logical id) with the same keys.
    for (const [id, before] of Object.entries(deployed.tables)) {
      const after = now[id];
      expect(after, `table ${id} is gone or renamed`).toBeDefined();
      if (!after) continue;
      expect(after.keys, `${id} key schema`).toEqual(before.keys);
      expect(indexSteps(before.indexes, after.indexes), `${id} index steps`).toBeLessThanOrEqual(1);
    }
  });
});
