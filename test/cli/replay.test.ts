import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, runCli } from '../helpers/cli.ts';
import { SHARED_FIXTURES } from '../helpers/fixtures.ts';

const FIXTURES = path.join(SHARED_FIXTURES, 'audit-events');
const CONSTRUCTED = path.join(FIXTURES, 'constructed');

const ALLOWLIST = `version: 1
rules:
  - id: company-ecr
    registry: "444455556666.dkr.ecr.*.amazonaws.com"
  - id: dockerhub-official
    image: "docker.io/library/*"
`;

const FINDING_KEYS = [
  'fingerprint',
  'cluster',
  'namespace',
  'workload',
  'container',
  'image',
  'reference',
  'rule',
  'severity',
  'count',
  'firstSeen',
  'lastSeen',
  'actor',
];

describe('regwatch replay', () => {
  let dir: string;
  let allowlist: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'regwatch-replay-'));
    allowlist = path.join(dir, 'allowlist.yaml');
    writeFileSync(allowlist, ALLOWLIST);
  });

  it('finds the kubectl debug container in an EKS CloudWatch payload, attributed to the engineer', async () => {
    // Act
    const run = await runCli([
      'replay',
      '--allowlist',
      allowlist,
      '--json',
      path.join(CONSTRUCTED, 'eks-cloudwatch-subscription-event.json'),
    ]);
    // Assess
    expect(run.code).toBe(1);
    const findings = jsonLines(run.stdout) as Record<string, unknown>[];
    expect(findings).toHaveLength(1);
    const [f] = findings;
    expect(Object.keys(f ?? {})).toEqual(FINDING_KEYS);
    expect(f).toMatchObject({
      cluster: 'orion-prod-euc1',
      namespace: 'billing',
      workload: { kind: 'Deployment', name: 'invoice-api' },
      container: 'debugger-k7x2m',
      image: 'nicolaka/netshoot:v0.13',
      reference: 'docker.io/nicolaka/netshoot:v0.13',
      rule: 'untrusted-source',
      count: 1,
      actor: {
        username: 'arn:aws:sts::444455556666:assumed-role/oncall-engineers/priya.raman',
        sourceIPs: ['198.51.100.203'],
      },
    });
    expect(Object.keys((f?.actor ?? {}) as object)).toEqual([
      'username',
      'groups',
      'sourceIPs',
      'userAgent',
    ]);
    // The Metadata-level pod create is counted and said, never guessed.
    expect(run.stderr).toContain('metadata-only 1');
    expect(run.stderr).toContain('images unavailable');
  });

  it('counts a redelivered event once and the two stages of one request once', async () => {
    const eventList = path.join(CONSTRUCTED, 'webhook-eventlist-pod-create-two-stages.json');
    const copy = path.join(dir, 'again.json');
    copyFileSync(eventList, copy);
    const run = await runCli([
      'replay',
      '--allowlist',
      allowlist,
      '--cluster',
      'qa-1',
      '--json',
      eventList,
      copy,
    ]);
    const findings = jsonLines(run.stdout) as Record<string, unknown>[];
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      cluster: 'qa-1',
      workload: { kind: 'Pod', name: 'curl-probe' },
      reference: 'docker.io/curlimages/curl:8.8.0',
      count: 1,
      actor: { username: 'oidc:jane.okoye@corp.example', sourceIPs: ['172.20.14.9'] },
    });
  });

  it('reads gzip files and reports malformed lines with line numbers without stopping', async () => {
    const lines = readFileSync(path.join(CONSTRUCTED, 'eks-audit-events.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean);
    const mixed = [lines[0], '{"kind": "Event", broken', ...lines.slice(1)].join('\n');
    const gz = path.join(dir, 'audit.jsonl.gz');
    writeFileSync(gz, gzipSync(mixed));
    const run = await runCli(['replay', '--allowlist', allowlist, '--cluster', 'c1', '--json', gz]);
    expect(jsonLines(run.stdout)).toHaveLength(1);
    expect(run.stderr).toMatch(/audit\.jsonl\.gz:2: /);
    expect(run.stderr).toContain('malformed: 1');
  });

  it('fails closed on a line it cannot read, even with no findings', async () => {
    // Prepare: a log whose events are all allowed (the exception holds at event time).
    const expiring = path.join(dir, 'expiring-unread.yaml');
    writeFileSync(
      expiring,
      `${ALLOWLIST}  - id: netshoot-exception\n    image: "docker.io/nicolaka/netshoot"\n    expiresAt: "2026-01-01T00:00:00Z"\n`,
    );
    const clean = readFileSync(path.join(CONSTRUCTED, 'eks-audit-events.jsonl'), 'utf8');
    const broken = path.join(dir, 'unread.jsonl');
    writeFileSync(
      broken,
      `${clean.trimEnd()}\n{"kind":"Event","verb":"create","objectRef":{"resource":"pods"\n`,
    );
    // Act
    const run = await runCli(['replay', '--allowlist', expiring, '--json', broken]);
    // Assess
    expect(jsonLines(run.stdout)).toEqual([]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('malformed: 1');
    expect(run.stderr).toContain('malformed lines fail the run (exit 1)');
  });

  it('judges history at the event time unless --at says otherwise', async () => {
    const expiring = path.join(dir, 'expiring.yaml');
    writeFileSync(
      expiring,
      `${ALLOWLIST}  - id: netshoot-exception\n    image: "docker.io/nicolaka/netshoot"\n    expiresAt: "2026-01-01T00:00:00Z"\n`,
    );
    const file = path.join(CONSTRUCTED, 'eks-audit-events.jsonl');
    const atEventTime = await runCli(['replay', '--allowlist', expiring, '--json', file]);
    const atNow = await runCli(['replay', '--allowlist', expiring, '--at', 'now', '--json', file]);
    expect(jsonLines(atEventTime.stdout)).toEqual([]);
    expect(atEventTime.code).toBe(0);
    expect(jsonLines(atNow.stdout)).toMatchObject([{ rule: 'expired-exception' }]);
  });

  it('exits 2 for a missing file', async () => {
    const run = await runCli(['replay', '--allowlist', allowlist, path.join(dir, 'nope.jsonl')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('nope.jsonl');
  });
});
