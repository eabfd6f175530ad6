import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTables,
  LOCAL_TABLE_NAMES,
  regwatchTables,
} from '../../lambdas/adapters/dynamodb/index.ts';
import { fingerprint } from '../../lambdas/core/fingerprint.ts';
import type { FindingCandidate } from '../../lambdas/core/types.ts';
import { jsonLines, runCli } from '../helpers/cli.ts';
import { type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';

function candidate(over: Partial<FindingCandidate> & { image: string }): FindingCandidate {
  const base = {
    cluster: 'prod',
    namespace: 'web',
    workload: { kind: 'Deployment', name: 'shop' },
    container: 'app',
    rule: 'untrusted-source' as const,
    ...over,
  };
  return {
    fingerprint: fingerprint({ ...base, image: over.reference ?? over.image }),
    containerKind: 'container',
    reference: null,
    repository: null,
    digest: null,
    severity: 'high',
    message: `image ${over.image} is not from a trusted source`,
    matchedRule: null,
    actor: {
      username: 'alice',
      groups: ['dev'],
      sourceIPs: ['198.51.100.7'],
      userAgent: 'kubectl',
      auditID: 'a',
    },
    source: 'audit',
    observedAt: '2026-11-24T10:00:00Z',
    eventId: `e-${over.image}`,
    ...base,
  };
}

describe('regwatch findings against local DynamoDB', () => {
  let dynamo: LocalDynamo;
  let target: string[];

  beforeAll(async () => {
    dynamo = await startDynalite();
    await createTables(dynamo.client, LOCAL_TABLE_NAMES);
    target = ['--dynamodb-endpoint', dynamo.endpoint];
    const { findings } = regwatchTables(dynamo.doc, LOCAL_TABLE_NAMES);
    const now = new Date('2026-11-25T00:00:00Z');
    await findings.upsert(
      candidate({
        image: 'nginx:1',
        reference: 'docker.io/library/nginx:1',
        repository: 'docker.io/library/nginx',
        observedAt: '2026-11-24T09:00:00Z',
      }),
      { now },
    );
    await findings.upsert(
      candidate({
        image: '=HYPERLINK("http://evil")',
        rule: 'invalid-reference',
        severity: 'medium',
        namespace: 'ops',
        actor: { username: 'bob', groups: [], sourceIPs: [], userAgent: null, auditID: 'b' },
        digest: `sha256:${'d'.repeat(64)}`,
        observedAt: '2026-11-24T11:00:00Z',
      }),
      { now },
    );
  });
  afterAll(() => dynamo.stop());

  it('lists newest first as JSON lines', async () => {
    // Act
    const run = await runCli(['findings', 'list', ...target, '--json']);
    // Assess
    expect(run.code).toBe(0);
    const rows = jsonLines(run.stdout) as { image: string; status: string }[];
    expect(rows.map((r) => r.image)).toEqual(['=HYPERLINK("http://evil")', 'nginx:1']);
    expect(rows.every((r) => r.status === 'OPEN')).toBe(true);
  });

  it('filters by image in any spelling, by digest, actor, severity and namespace', async () => {
    const byRepo = await runCli(['findings', 'list', ...target, '--image', 'nginx', '--json']);
    expect((jsonLines(byRepo.stdout) as { image: string }[]).map((r) => r.image)).toEqual([
      'nginx:1',
    ]);
    const byDigest = await runCli([
      'findings',
      'list',
      ...target,
      '--image',
      `sha256:${'d'.repeat(64)}`,
      '--json',
    ]);
    expect(jsonLines(byDigest.stdout)).toHaveLength(1);
    const byActor = await runCli(['findings', 'list', ...target, '--actor', 'alice', '--json']);
    expect(jsonLines(byActor.stdout)).toHaveLength(1);
    const bySeverity = await runCli([
      'findings',
      'list',
      ...target,
      '--severity',
      'high',
      '--json',
    ]);
    expect((jsonLines(bySeverity.stdout) as { severity: string }[]).map((r) => r.severity)).toEqual(
      ['high'],
    );
    const byScope = await runCli([
      'findings',
      'list',
      ...target,
      '--cluster',
      'prod',
      '--namespace',
      'ops',
      '--json',
    ]);
    expect(jsonLines(byScope.stdout)).toHaveLength(1);
  });

  it('writes CSV that a spreadsheet cannot run as a formula', async () => {
    const run = await runCli(['findings', 'list', ...target, '--csv']);
    const lines = run.stdout.trim().split('\r\n');
    expect(lines[0]).toMatch(/^id,status,severity,rule,/);
    expect(lines).toHaveLength(3);
    expect(run.stdout).toContain(`"'=HYPERLINK(""http://evil"")"`);
    expect(run.stdout).not.toMatch(/(^|,)=HYPERLINK/m);
  });

  it('shows, acknowledges, suppresses until a date and resolves a finding', async () => {
    const [first] = jsonLines(
      (await runCli(['findings', 'list', ...target, '--image', 'nginx', '--json'])).stdout,
    ) as {
      id: string;
    }[];
    const id = first?.id ?? '';
    const show = await runCli(['findings', 'show', id, ...target]);
    expect(show.stdout).toContain('docker.io/library/nginx:1');
    expect(show.stdout).toContain('alice');

    const ack = await runCli([
      'findings',
      'ack',
      id.slice(0, 8),
      ...target,
      '--reason',
      'owned by team shop',
      '--by',
      'sec',
    ]);
    expect(ack.code).toBe(0);
    expect(ack.stdout).toContain('ACKNOWLEDGED');

    const past = await runCli([
      'findings',
      'suppress',
      id,
      ...target,
      '--reason',
      'x',
      '--until',
      '2020-01-01',
    ]);
    expect(past.code).toBe(2);

    const sup = await runCli([
      'findings',
      'suppress',
      id,
      ...target,
      '--reason',
      'accepted',
      '--until',
      '2099-01-01',
    ]);
    expect(sup.stdout).toContain('SUPPRESSED until 2099-01-01');

    const res = await runCli(['findings', 'resolve', id, ...target, '--reason', 'image replaced']);
    expect(res.code).toBe(0);
    const open = await runCli(['findings', 'list', ...target, '--status', 'open', '--json']);
    expect(jsonLines(open.stdout)).toHaveLength(1);
    const shown = jsonLines(
      (await runCli(['findings', 'show', id, ...target, '--json'])).stdout,
    )[0] as {
      status: string;
      lastStatusChange: { by: string; reason: string };
    };
    expect(shown.status).toBe('RESOLVED');
    expect(shown.lastStatusChange.reason).toBe('image replaced');
  });

  it('rejects bad filters with exit 2 and an unknown id with exit 1', async () => {
    expect((await runCli(['findings', 'list', ...target, '--status', 'closed'])).code).toBe(2);
    expect((await runCli(['findings', 'list', ...target, '--since', 'yesterday-ish'])).code).toBe(
      2,
    );
    expect((await runCli(['findings', 'list', ...target, '--limit', '0'])).code).toBe(2);
    const missing = await runCli(['findings', 'show', 'ffffffffffffffff', ...target]);
    expect(missing.code).toBe(1);
  });

  it('needs a target', async () => {
    const run = await runCli(['findings', 'list']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--dynamodb-endpoint');
  });
});
