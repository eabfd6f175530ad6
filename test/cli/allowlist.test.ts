import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTables, LOCAL_TABLE_NAMES } from '../../lambdas/adapters/dynamodb/index.ts';
import { parseAllowlist } from '../../lambdas/core/allowlist/index.ts';
import { jsonLines, runCli } from '../helpers/cli.ts';
import { type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';

const EXAMPLE = path.resolve(import.meta.dirname, '../../examples/allowlist.yaml');

describe('regwatch allowlist against local DynamoDB', () => {
  let dynamo: LocalDynamo;
  let target: string[];
  let dir: string;

  beforeAll(async () => {
    dynamo = await startDynalite();
    await createTables(dynamo.client, LOCAL_TABLE_NAMES);
    target = ['--dynamodb-endpoint', dynamo.endpoint];
    dir = mkdtempSync(path.join(tmpdir(), 'regwatch-allowlist-'));
  });
  afterAll(() => dynamo.stop());

  it('shows a dry run, changes nothing, then imports the example file as a diff', async () => {
    // Act
    const dry = await runCli(['allowlist', 'import', EXAMPLE, ...target, '--dry-run']);
    const listAfterDry = await runCli(['allowlist', 'list', ...target, '--json']);
    const real = await runCli(['allowlist', 'import', EXAMPLE, ...target]);
    const again = await runCli(['allowlist', 'import', EXAMPLE, ...target]);
    // Assess
    const ruleCount = parseAllowlist(readFileSync(EXAMPLE, 'utf8')).rules.length;
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`dry run: would add ${ruleCount}, change 0, remove 0`);
    expect(jsonLines(listAfterDry.stdout)).toEqual([]);
    expect(real.stdout).toContain(`did add ${ruleCount}`);
    expect(again.stdout).toContain('no changes');
  });

  it('exports the same document it imported', async () => {
    const out = path.join(dir, 'exported.yaml');
    const run = await runCli(['allowlist', 'export', out, ...target]);
    expect(run.code).toBe(0);
    expect(parseAllowlist(readFileSync(out, 'utf8'))).toEqual(
      parseAllowlist(readFileSync(EXAMPLE, 'utf8')),
    );
  });

  it('adds, replaces and removes one rule, and the import diff names it', async () => {
    const add = await runCli([
      'allowlist',
      'add',
      ...target,
      '--id',
      'team-ghcr',
      '--registry',
      'ghcr.io',
      '--repository',
      'acme/**',
      '--namespaces',
      'team-a,team-b',
      '--deny-tags',
      'latest',
      '--reason',
      'team images',
    ]);
    expect(add.code).toBe(0);
    const rules = jsonLines((await runCli(['allowlist', 'list', ...target, '--json'])).stdout) as {
      id: string;
      namespaces?: string[];
    }[];
    expect(rules.find((r) => r.id === 'team-ghcr')).toMatchObject({
      namespaces: ['team-a', 'team-b'],
    });

    const dry = await runCli(['allowlist', 'import', EXAMPLE, ...target, '--dry-run']);
    expect(dry.stdout).toContain('- team-ghcr');

    const removed = await runCli(['allowlist', 'remove', 'team-ghcr', ...target]);
    expect(removed.code).toBe(0);
    const missing = await runCli(['allowlist', 'remove', 'team-ghcr', ...target]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('team-ghcr');
  });

  it('refuses an invalid rule or file whole, naming the field, and stores nothing', async () => {
    const before = (await runCli(['allowlist', 'list', ...target, '--json'])).stdout;
    const badRule = await runCli([
      'allowlist',
      'add',
      ...target,
      '--id',
      'x',
      '--registry',
      '*.amazon*.com',
    ]);
    expect(badRule.code).toBe(2);
    expect(badRule.stderr).toContain('registry');
    const badFile = path.join(dir, 'bad.yaml');
    writeFileSync(
      badFile,
      'version: 1\nrules:\n  - id: ok\n    registry: "quay.io"\n  - id: broken\n    registry: "quay.io"\n    expiresAt: "soon"\n',
    );
    const badImport = await runCli(['allowlist', 'import', badFile, ...target]);
    expect(badImport.code).toBe(2);
    expect(badImport.stderr).toContain('broken');
    expect((await runCli(['allowlist', 'list', ...target, '--json'])).stdout).toBe(before);
  });
});
