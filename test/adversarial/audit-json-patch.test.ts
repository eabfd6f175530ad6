/**
 * Issue 8 §1: request-level patches. JSON patches (RFC 6902) that add or replace a whole
 * subtree are read from their `value`; operations whose image cannot be known from the event
 * (`copy`, `move`, `test`) are reported by auditID as `image-unknown`, never dropped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { regwatchTables } from '../../lambdas/adapters/dynamodb/index.ts';
import { compileAllowlist, parseAllowlist } from '../../lambdas/core/allowlist/index.ts';
import { ingestAuditEvents } from '../../lambdas/services/ingest.ts';
import type { IngestDeps } from '../../lambdas/services/ports.ts';
import { TRUSTED_ALLOWLIST } from '../helpers/arbitraries.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';
import {
  auditEvent,
  CLUSTER,
  EVIL,
  findingsOf,
  interpret,
  type Json,
  type Kind,
  objectOf,
  podSpec,
} from './builders.ts';

function patchEvent(kind: Kind, ops: unknown, over: Json = {}): Json {
  return auditEvent(kind, {
    verb: 'patch',
    level: 'Request',
    responseStatus: { code: 200 },
    responseObject: undefined,
    requestObject: ops,
    ...over,
  });
}

const get = (v: unknown, path: string): unknown =>
  path
    .split('/')
    .slice(1)
    .reduce<unknown>((o, t) => (o as Json)[t], v);

/** Every ancestor of the pod spec of each kind, and the container-level paths. */
const SUBTREES: [Kind, string][] = [
  ['Pod', '/spec'],
  ['PodTemplate', '/template'],
  ['PodTemplate', '/template/spec'],
  ['Deployment', '/spec'],
  ['Deployment', '/spec/template'],
  ['Deployment', '/spec/template/spec'],
  ['StatefulSet', '/spec/template/spec'],
  ['Job', '/spec/template'],
  ['CronJob', '/spec'],
  ['CronJob', '/spec/jobTemplate'],
  ['CronJob', '/spec/jobTemplate/spec'],
  ['CronJob', '/spec/jobTemplate/spec/template'],
  ['CronJob', '/spec/jobTemplate/spec/template/spec'],
];

describe('JSON patches are read from their value', () => {
  it.each(SUBTREES)('%s: replace %s with a subtree that carries the image', (kind, path) => {
    for (const op of ['replace', 'add']) {
      // Prepare
      const value = get(objectOf(kind), path);
      // Act
      const findings = findingsOf(patchEvent(kind, [{ op, path, value }]));
      // Assess
      expect(findings.map((f) => [f.container, f.image, f.rule])).toEqual([
        ['app', EVIL, 'untrusted-source'],
      ]);
    }
  });

  it('the whole document (path "") is a subtree too', () => {
    expect(
      findingsOf(
        patchEvent('Deployment', [{ op: 'replace', path: '', value: objectOf('Deployment') }]),
      ),
    ).toHaveLength(1);
  });

  it.each([
    ['a container list', '/spec/template/spec/initContainers', [{ name: 'i', image: EVIL }], 'i'],
    [
      'one container',
      '/spec/template/spec/ephemeralContainers/0',
      { name: 'dbg', image: EVIL },
      'dbg',
    ],
    [
      'one container appended',
      '/spec/template/spec/containers/-',
      { image: EVIL },
      'containers[-]',
    ],
    ['one image', '/spec/template/spec/containers/3/image', EVIL, 'containers[3]'],
  ])('DaemonSet: add %s', (_, path, value, name) => {
    const findings = findingsOf(patchEvent('DaemonSet', [{ op: 'add', path, value }]));
    expect(findings.map((f) => [f.container, f.image])).toEqual([[name, EVIL]]);
  });

  it('JSON-pointer escapes are decoded (~1 is /, ~0 is ~) and lead nowhere else', () => {
    const findings = findingsOf(
      patchEvent('Pod', [
        { op: 'add', path: '/metadata/annotations/a~1b', value: EVIL },
        { op: 'replace', path: '/spec/containers/0/image', value: EVIL },
      ]),
    );
    expect(findings.map((f) => f.container)).toEqual(['containers[0]']);
  });

  it('a patch that changes no image is no-containers; a remove is not an image', () => {
    for (const ops of [
      [{ op: 'replace', path: '/spec/replicas', value: 3 }],
      [{ op: 'remove', path: '/spec/template/spec/containers/1' }],
      [{ op: 'replace', path: '/spec/template/spec/containers/0/env', value: [] }],
    ]) {
      expect(interpret(patchEvent('Deployment', ops))).toMatchObject({
        kind: 'skipped',
        reason: 'no-containers',
      });
    }
  });
});

describe('operations that set an image the event does not show are reported', () => {
  const UNKNOWN: [string, Kind, unknown[]][] = [
    [
      'copy onto a container image',
      'Deployment',
      [
        {
          op: 'copy',
          from: '/metadata/annotations/img',
          path: '/spec/template/spec/containers/0/image',
        },
      ],
    ],
    [
      'move onto a container list',
      'CronJob',
      [
        {
          op: 'move',
          from: '/metadata/annotations/x',
          path: '/spec/jobTemplate/spec/template/spec/initContainers',
        },
      ],
    ],
    [
      'copy a whole template',
      'Job',
      [{ op: 'copy', from: '/metadata/annotations/t', path: '/spec/template' }],
    ],
    [
      'a test chain on the image, then a copy',
      'Pod',
      [
        { op: 'test', path: '/spec/containers/0/image', value: 'trusted.example.com/team/web:1.0' },
        { op: 'copy', from: '/spec/initContainers/0', path: '/spec/containers/-' },
      ],
    ],
    ['a test on a container', 'Pod', [{ op: 'test', path: '/spec/containers/0', value: {} }]],
    ['an operation without a path', 'StatefulSet', [{ op: 'replace', value: EVIL }]],
    [
      'an operation that is not an object',
      'StatefulSet',
      ['replace /spec/template/spec/containers/0/image'],
    ],
    [
      'an unknown operation name',
      'Deployment',
      [{ op: 'merge', path: '/spec/template/spec', value: podSpec() }],
    ],
  ];

  it.each(UNKNOWN)('%s: image-unknown, with the auditID', (_, kind, ops) => {
    const out = interpret(patchEvent(kind, ops));
    expect(out).toMatchObject({ kind: 'skipped', reason: 'image-unknown' });
    if (out.kind === 'skipped')
      expect(out.detail).toContain('b5f1c0de-0000-4000-8000-000000000001');
  });

  it('a patch body that is neither an array nor an object is image-unknown', () => {
    expect(interpret(patchEvent('Pod', 'spec: {containers: [{image: evil}]}'))).toMatchObject({
      reason: 'image-unknown',
    });
  });

  describe('through the ingest service', () => {
    let dynamo: LocalDynamo;
    let deps: IngestDeps;
    beforeAll(async () => {
      dynamo = await startDynalite();
      const tables = regwatchTables(dynamo.doc, await freshTables(dynamo));
      deps = {
        allowlist: { current: async () => compileAllowlist(parseAllowlist(TRUSTED_ALLOWLIST)) },
        findings: tables.findings,
        clock: () => new Date('2026-11-30T12:00:00Z'),
        minAlertSeverity: 'low',
      };
    });
    afterAll(() => dynamo.stop());

    it('an image-unknown event is a failed record naming its auditID; the rest of the batch is stored', async () => {
      // Prepare
      const copy = patchEvent(
        'Deployment',
        [{ op: 'copy', from: '/x', path: '/spec/template/spec/containers/0' }],
        { auditID: 'copy-1' },
      );
      const plain = auditEvent('Pod', { auditID: 'plain-1' });
      // Act
      const report = await ingestAuditEvents([copy, plain], CLUSTER, deps);
      // Assess
      expect(report.failed).toEqual([
        { index: 0, error: expect.stringMatching(/^image-unknown: audit event copy-1/) },
      ]);
      expect(report.findings.new).toBe(1);
      expect(report.skipped['image-unknown']).toBeUndefined();
    });
  });
});
