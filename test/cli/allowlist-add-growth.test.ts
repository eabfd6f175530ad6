/**
 * `regwatch allowlist add` takes issue 12's rule fields as flags, and `allowlist list`
 * shows them; against dynalite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTables, LOCAL_TABLE_NAMES } from '../../lambdas/adapters/dynamodb/index.ts';
import { jsonLines, runCli } from '../helpers/cli.ts';
import { type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';

describe('regwatch allowlist add with deny, tags, digests and severity', () => {
  let dynamo: LocalDynamo;
  let target: string[];

  beforeAll(async () => {
    dynamo = await startDynalite();
    await createTables(dynamo.client, LOCAL_TABLE_NAMES);
    target = ['--dynamodb-endpoint', dynamo.endpoint];
  });
  afterAll(() => dynamo.stop());

  it('stores a deny rule with tags and severity, and lists it', async () => {
    // Act
    const add = await runCli([
      'allowlist',
      'add',
      ...target,
      '--id',
      'no-latest',
      '--effect',
      'deny',
      '--registry',
      '**',
      '--tags',
      'latest,*-debug',
      '--namespaces',
      '*,!kube-system',
      '--severity',
      'high',
    ]);
    const digest = `sha256:${'e'.repeat(64)}`;
    const pinned = await runCli([
      'allowlist',
      'add',
      ...target,
      '--id',
      'redis-pinned',
      '--image',
      'redis',
      '--digests',
      digest,
    ]);
    const list = await runCli(['allowlist', 'list', ...target, '-o', 'wide']);
    const json = await runCli(['allowlist', 'list', ...target, '--json']);
    // Assess
    expect(add.code).toBe(0);
    expect(add.stdout).toContain('rule no-latest stored (deny **/**)');
    expect(pinned.code).toBe(0);
    expect(list.stdout).toContain('tags=latest,*-debug');
    expect(list.stdout).toContain('severity=high');
    expect(list.stdout).toContain('digests=1');
    expect(jsonLines(json.stdout)).toEqual([
      {
        id: 'no-latest',
        effect: 'deny',
        registry: '**',
        tags: ['latest', '*-debug'],
        namespaces: ['*', '!kube-system'],
        severity: 'high',
      },
      { id: 'redis-pinned', image: 'redis', digests: [digest] },
    ]);
  });

  it('refuses a bad effect or digest naming the field', async () => {
    const bad = await runCli([
      'allowlist',
      'add',
      ...target,
      '--id',
      'x',
      '--registry',
      'quay.io',
      '--effect',
      'block',
      '--digests',
      'sha256:abc',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('effect: "block" is not an effect (allow or deny)');
    expect(bad.stderr).toContain('digests[0]');
  });
});
