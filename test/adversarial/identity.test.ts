/**
 * Issue 8 §5: identity and redelivery.
 * - A client chooses its audit ID (`Audit-ID` header): an old ID must not hide a new event.
 * - A forwarder resync of a still-running pod whose finding was resolved by hand reopens it,
 *   at most once per resync pass.
 * - Index keys joining fields (`cluster#namespace`) cannot collide: cluster names are checked
 *   at every edge.
 * - A bare pod claiming an ownerReference joins that workload's finding, but its sighting
 *   records pod and actor, so `findings show` reveals the claim.
 */

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../forwarder/src/config.ts';
import { type FindingsStore, regwatchTables } from '../../lambdas/adapters/dynamodb/index.ts';
import { createTables, LOCAL_TABLE_NAMES } from '../../lambdas/adapters/dynamodb/schema.ts';
import { clusterFromLogGroup } from '../../lambdas/core/audit/cloudwatch.ts';
import { ValidationError } from '../../lambdas/core/errors.ts';
import { podEventSchema } from '../../lambdas/core/kube/pod-event.ts';
import { startLocal } from '../../lambdas/local/app.ts';
import { ingestAuditEvents, ingestPodEvents } from '../../lambdas/services/ingest.ts';
import type { IngestDeps } from '../../lambdas/services/ports.ts';
import { runCli } from '../helpers/cli.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';
import { allowlist, auditEvent, CLUSTER, EVIL, type Json, objectOf, podSpec } from './builders.ts';

let dynamo: LocalDynamo;
let store: FindingsStore;
const now = new Date('2026-11-30T12:00:00Z');
let deps: IngestDeps;

beforeAll(async () => {
  dynamo = await startDynalite();
  store = regwatchTables(dynamo.doc, await freshTables(dynamo)).findings;
  deps = {
    allowlist: { current: async () => allowlist },
    findings: store,
    clock: () => now,
    minAlertSeverity: 'low',
  };
});
afterAll(() => dynamo.stop());

async function only(cluster: string) {
  const out = [];
  for await (const f of store.query({ cluster })) out.push(f);
  expect(out).toHaveLength(1);
  return out[0] as NonNullable<(typeof out)[number]>;
}

describe('a reused audit ID does not hide a new event', () => {
  it('same auditID, same workload and image, later stage time: counted, and it reopens a resolved finding', async () => {
    // Prepare
    const cluster = 'audit-id-reuse';
    const first = auditEvent('Pod', {
      auditID: 'chosen-by-client',
      stageTimestamp: '2026-11-30T10:00:00Z',
    });
    await ingestAuditEvents([first], cluster, deps);
    const finding = await only(cluster);
    await store.setStatus(finding.id, {
      status: 'RESOLVED',
      by: 'alice',
      at: '2026-11-30T11:00:00Z',
      reason: 'removed',
    });
    // Act: the attacker re-creates the pod sending the same Audit-ID header
    const again = auditEvent('Pod', {
      auditID: 'chosen-by-client',
      stageTimestamp: '2026-11-30T11:30:00Z',
    });
    const report = await ingestAuditEvents([again], cluster, deps);
    // Assess
    expect(report.findings).toMatchObject({ reopened: 1, duplicate: 0 });
    expect((await only(cluster)).status).toBe('OPEN');
  });

  it('same auditID, other image in the same container slot: a new finding, not a redelivery', async () => {
    const cluster = 'audit-id-image';
    await ingestAuditEvents([auditEvent('Pod', { auditID: 'same' })], cluster, deps);
    const swapped = auditEvent('Pod', {
      auditID: 'same',
      responseObject: objectOf('Pod', podSpec('evil.example.com/other:2')),
    });
    const report = await ingestAuditEvents([swapped], cluster, deps);
    expect(report.findings.new).toBe(1);
  });

  it('a true redelivery (the identical event) changes nothing', async () => {
    const cluster = 'audit-redelivery';
    const event = auditEvent('Deployment');
    await ingestAuditEvents([event], cluster, deps);
    const report = await ingestAuditEvents([structuredClone(event)], cluster, deps);
    expect(report.findings).toMatchObject({ new: 0, repeat: 0, reopened: 0, duplicate: 1 });
    expect((await only(cluster)).count).toBe(1);
  });
});

describe('a forwarder resync reopens a finding resolved while the pod still runs', () => {
  const resync = (cluster: string, observedAt: string) => ({
    cluster,
    observedAt,
    reason: 'resync',
    pod: {
      metadata: { name: 'miner', namespace: 'prod', uid: 'uid-miner' },
      spec: { containers: [{ name: 'm', image: EVIL }] },
    },
  });

  it('reopens once per pass; a redelivered or later pass of the open finding is not counted again', async () => {
    // Prepare
    const cluster = 'resync-reopen';
    await ingestPodEvents([resync(cluster, '2026-11-30T10:00:00Z')], deps);
    const { id } = await only(cluster);
    await store.setStatus(id, {
      status: 'RESOLVED',
      by: 'bob',
      at: '2026-11-30T10:05:00Z',
      reason: 'looked fine',
    });
    // Act
    const pass = await ingestPodEvents([resync(cluster, '2026-11-30T10:10:00Z')], deps);
    const redelivered = await ingestPodEvents([resync(cluster, '2026-11-30T10:10:00Z')], deps);
    const nextPass = await ingestPodEvents([resync(cluster, '2026-11-30T10:20:00Z')], deps);
    // Assess
    expect(pass.findings.reopened).toBe(1);
    expect(redelivered.findings.duplicate).toBe(1);
    expect(nextPass.findings.duplicate).toBe(1);
    const f = await only(cluster);
    expect(f.status).toBe('OPEN');
    expect(f.lastStatusChange).toMatchObject({
      by: 'regwatch',
      reason: expect.stringContaining('after it was resolved'),
    });
  });

  it('a late delivery of a pass from before the resolution does not reopen', async () => {
    const cluster = 'resync-late';
    await ingestPodEvents([resync(cluster, '2026-11-30T10:00:00Z')], deps);
    const { id } = await only(cluster);
    await store.setStatus(id, {
      status: 'RESOLVED',
      by: 'bob',
      at: '2026-11-30T10:05:00Z',
      reason: 'fixed',
    });
    const late = await ingestPodEvents([resync(cluster, '2026-11-30T10:00:00Z')], deps);
    expect(late.findings.duplicate).toBe(1);
    expect((await only(cluster)).status).toBe('RESOLVED');
  });
});

describe('cluster names cannot forge index keys', () => {
  const BAD = [
    'a#b',
    'prod#web',
    '#',
    '',
    '-lead',
    'x'.repeat(101),
    'sp ace',
    'ünï',
    '__proto__#x',
  ];

  it.each(BAD)('pod event cluster %j is refused by the schema', (cluster) => {
    const e = {
      cluster,
      observedAt: '2026-11-30T10:00:00Z',
      reason: 'running',
      pod: { metadata: { name: 'p', namespace: 'n', uid: 'u' }, spec: { containers: [] } },
    };
    expect(podEventSchema.safeParse(e).success).toBe(false);
  });

  it('the findings store refuses a cluster holding the separator, for writes and for scope queries', async () => {
    const [candidate] = (await import('../../lambdas/core/evaluate.ts')).evaluateObservation(
      { ...(await import('./builders.ts')).observed(auditEvent('Pod')), cluster: 'a#b' },
      allowlist,
      now,
    );
    await expect(
      store.upsert(candidate as NonNullable<typeof candidate>, { now }),
    ).rejects.toBeInstanceOf(ValidationError);
    expect(() => store.plan({ cluster: 'a#b', namespace: 'c' })).toThrow(ValidationError);
  });

  it('CloudWatch log groups name a cluster only with a valid name', () => {
    expect(clusterFromLogGroup('/aws/eks/orion-prod/cluster')).toBe('orion-prod');
    expect(clusterFromLogGroup('/aws/eks/a#b/cluster')).toBeNull();
  });

  it.each([
    ['check', ['check', 'nginx', '--allowlist', 'examples/allowlist.yaml', '--cluster', 'a#b']],
    [
      'replay',
      ['replay', 'x.jsonl', '--allowlist', 'examples/allowlist.yaml', '--cluster', 'prod#web'],
    ],
    [
      'findings list',
      ['findings', 'list', '--dynamodb-endpoint', 'http://127.0.0.1:9', '--cluster', 'a#'],
    ],
  ])('regwatch %s --cluster with a separator is a usage error (exit 2)', async (_, argv) => {
    const run = await runCli(argv, { cwd: path.resolve(import.meta.dirname, '../..') });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('not a valid cluster name');
  });

  it('the forwarder refuses such a cluster name at start', () => {
    expect(() =>
      loadConfig({ REGWATCH_CLUSTER: 'a#b', REGWATCH_SINK: 'http://127.0.0.1:9/v1/pod-events' }),
    ).toThrow(/cluster/);
  });

  it('local mode refuses ?cluster=a%23b with a 400', async () => {
    const local = await startLocal({
      port: 0,
      dynamodbPort: 0,
      allowlistFile: path.resolve(import.meta.dirname, '../fixtures/local/allowlist.yaml'),
      minAlertSeverity: 'low',
      vulnerableThreshold: 'critical',
      scanTimeoutMinutes: 30,
      maxBodyBytes: 64 * 1024,
      out: () => {},
      err: () => {},
    });
    try {
      const res = await fetch(`${local.url}/v1/audit?cluster=a%23b`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(auditEvent('Pod')),
      });
      expect(res.status).toBe(400);
    } finally {
      await local.stop();
    }
  });
});

describe('a bare pod claiming an owner', () => {
  it('no claim note for owners only an operator creates pods for (a CRD, a Node for static pods)', async () => {
    const { observed } = await import('./builders.ts');
    for (const [kind, user] of [
      ['TaskRun', 'system:serviceaccount:tekton-pipelines:tekton-pipelines-controller'],
      ['Node', 'system:node:ip-10-0-0-1'],
    ]) {
      const object = {
        kind: 'Pod',
        metadata: {
          name: 'p',
          namespace: 'prod',
          ownerReferences: [{ kind, name: 'o', controller: true }],
        },
        spec: podSpec(),
      };
      const o = observed(
        auditEvent('Pod', {
          user: { username: user },
          requestObject: object,
          responseObject: object,
        }),
      );
      expect(o.notes).toBeUndefined();
    }
  });

  const RS = 'web-5f8c9d7b6';
  const pod = (name: string, user: string, auditID: string, at: string): Json => {
    const object = {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: {
        name,
        namespace: 'prod',
        labels: { 'pod-template-hash': '5f8c9d7b6' },
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: RS, controller: true, uid: 'rs-uid' },
        ],
      },
      spec: podSpec(),
    };
    return auditEvent('Pod', {
      auditID,
      user: { username: user, groups: [] },
      objectRef: { resource: 'pods', namespace: 'prod', name },
      requestObject: object,
      responseObject: object,
      stageTimestamp: at,
    });
  };

  it('joins the Deployment finding; every sighting keeps pod and actor; findings show reveals the claim', async () => {
    // Prepare: a tables set under the local names, so the CLI finds it by endpoint
    const own = await startDynalite();
    try {
      await createTables(own.client, LOCAL_TABLE_NAMES);
      const tables = regwatchTables(own.doc, LOCAL_TABLE_NAMES);
      const d: IngestDeps = { ...deps, findings: tables.findings };
      // Act
      await ingestAuditEvents(
        [
          pod(
            `${RS}-abcde`,
            'system:serviceaccount:kube-system:replicaset-controller',
            'real-1',
            '2026-11-30T10:00:00Z',
          ),
          pod('totally-legit', 'mallory', 'fake-1', '2026-11-30T10:05:00Z'),
        ],
        CLUSTER,
        d,
      );
      const all = [];
      for await (const f of tables.findings.query({ cluster: CLUSTER, namespace: 'prod' }))
        all.push(f);
      // Assess
      expect(all).toHaveLength(1);
      const f = all[0] as NonNullable<(typeof all)[number]>;
      expect(f.workload).toEqual({ kind: 'Deployment', name: 'web' });
      expect(f.sightings?.map((s) => [s.podName, s.actor])).toEqual([
        [`${RS}-abcde`, 'system:serviceaccount:kube-system:replicaset-controller'],
        ['totally-legit', 'mallory'],
      ]);
      expect(f.sightings?.[1]?.notes?.[0]).toMatch(
        /claims owner ReplicaSet\/web-5f8c9d7b6 but was created by mallory/,
      );
      const show = await runCli(['findings', 'show', f.id, '--dynamodb-endpoint', own.endpoint], {
        env: { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_REGION: 'local' },
      });
      expect(show.code).toBe(0);
      expect(show.stdout).toContain(
        'pod totally-legit  by mallory (pod name is not web-…: claimed owner Deployment/web)',
      );
      expect(show.stdout).toMatch(
        /note: +pod totally-legit claims owner ReplicaSet\/web-5f8c9d7b6/,
      );
    } finally {
      await own.stop();
    }
  });
});
