/**
 * The deploy harness itself: a bundle runs without HOME and cannot write its code folder, and
 * the IAM coverage check finds a call no statement allows and a grant no call uses.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RecordedCall } from './harness/fake-aws.ts';
import { invokeBundle } from './harness/invoke.ts';
import { allows, deniedCalls, type Statement, unusedGrants } from './harness/policy.ts';

describe('invokeBundle', () => {
  it('runs the named export with only the given environment, no HOME, and a read-only code folder', async () => {
    // Prepare: a "bundle" that reports its environment and tries to write next to itself
    const code = mkdtempSync(path.join(tmpdir(), 'regwatch-harness-'));
    writeFileSync(
      path.join(code, 'index.mjs'),
      `import { writeFileSync } from 'node:fs';
export const handler = async (event) => {
  let write = 'allowed';
  try { writeFileSync(new URL('./written.txt', import.meta.url), 'x'); } catch (e) { write = e.code; }
  let tmp = 'allowed';
  try { writeFileSync(process.env.TMPDIR + '/scratch.txt', 'x'); } catch (e) { tmp = e.code; }
  return { event, home: process.env.HOME ?? null, table: process.env.FINDINGS_TABLE, write, tmp };
};`,
    );

    // Act
    const out = await invokeBundle({
      functionName: 'probe',
      handler: 'index.handler',
      codeDir: code,
      environment: { FINDINGS_TABLE: 'regwatch-findings' },
      runtime: { AWS_REGION: 'eu-west-1' },
      events: [{ n: 1 }],
    });

    // Assess
    expect(out.handlerType).toBe('function');
    expect(out.results).toEqual([
      {
        ok: true,
        value: {
          event: { n: 1 },
          home: null,
          table: 'regwatch-findings',
          write: 'ERR_ACCESS_DENIED',
          tmp: 'allowed',
        },
      },
    ]);
  });

  it('reports a missing export instead of invoking it', async () => {
    // Prepare
    const code = mkdtempSync(path.join(tmpdir(), 'regwatch-harness-'));
    writeFileSync(path.join(code, 'index.mjs'), 'export const other = () => 1;');

    // Act
    const out = await invokeBundle({
      functionName: 'probe',
      handler: 'index.handler',
      codeDir: code,
      environment: {},
      runtime: {},
      events: [{}],
    });

    // Assess
    expect(out.handlerType).toBe('undefined');
    expect(out.results[0]).toMatchObject({ ok: false });
  });
});

describe('IAM coverage', () => {
  const statements: Statement[] = [
    {
      sid: 'FindingsUpsert',
      policy: 'P1',
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
      resources: ['arn:aws:dynamodb:eu-west-1:1:table/findings'],
    },
    {
      sid: 'Secret',
      policy: 'P2',
      actions: ['secretsmanager:GetSecretValue'],
      resources: ['arn:aws:secretsmanager:eu-west-1:1:secret:slack-??????'],
    },
  ];
  const call = (action: string, resource: string): RecordedCall => ({
    action,
    resources: [resource],
    caller: 'f',
    params: {},
  });

  it('matches actions exactly and resources with * and ? globs', () => {
    expect(
      allows(
        statements[1] as Statement,
        'secretsmanager:GetSecretValue',
        'arn:aws:secretsmanager:eu-west-1:1:secret:slack-AbCdEf',
      ),
    ).toBe(true);
    expect(
      allows(
        statements[1] as Statement,
        'secretsmanager:GetSecretValue',
        'arn:aws:secretsmanager:eu-west-1:1:secret:slack',
      ),
    ).toBe(false);
  });

  it('names a call on another table as denied and an unused grant as unused', () => {
    // Act
    const calls = [
      call('dynamodb:GetItem', 'arn:aws:dynamodb:eu-west-1:1:table/findings'),
      call('dynamodb:GetItem', 'arn:aws:dynamodb:eu-west-1:1:table/images'),
    ];

    // Assess
    expect(deniedCalls(statements, calls)).toEqual([
      'dynamodb:GetItem on arn:aws:dynamodb:eu-west-1:1:table/images',
    ]);
    expect(unusedGrants(statements, calls)).toEqual([
      'dynamodb:PutItem on arn:aws:dynamodb:eu-west-1:1:table/findings',
      'secretsmanager:GetSecretValue on arn:aws:secretsmanager:eu-west-1:1:secret:slack-??????',
    ]);
  });
});
