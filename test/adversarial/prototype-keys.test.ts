/**
 * Issue 8 §1: keys named `__proto__`, `constructor`, `prototype` anywhere (object keys,
 * JSON-patch paths) neither crash the evaluator nor inherit from `Object.prototype`; one such
 * record fails only itself and the rest of its batch is stored, in the services and in local
 * mode alike.
 */
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { regwatchTables } from '../../lambdas/adapters/dynamodb/index.ts';
import { compileAllowlist, parseAllowlist } from '../../lambdas/core/allowlist/index.ts';
import type { Finding } from '../../lambdas/core/types.ts';
import { type LocalInstance, startLocal } from '../../lambdas/local/app.ts';
import { ingestAuditEvents, ingestPodEvents } from '../../lambdas/services/ingest.ts';
import type { IngestDeps } from '../../lambdas/services/ports.ts';
import { PROTOTYPE_KEYS, TRUSTED_ALLOWLIST } from '../helpers/arbitraries.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';
import {
  auditEvent,
  CLUSTER,
  EVIL,
  findingsOf,
  fromJson,
  interpret,
  type Json,
  observed,
} from './builders.ts';

/** Nothing may have been written onto Object.prototype by any input. */
afterEach(() => {
  const probe = {} as Record<string, unknown>;
  for (const key of ['image', 'containers', 'polluted', 'responseStatus', 'apiGroup', 'code']) {
    expect(probe[key], key).toBeUndefined();
  }
});

/** The standard event with `inject` spliced into the JSON text at `where` (a JSON key). */
function withKey(
  where: 'event' | 'objectRef' | 'spec' | 'container' | 'metadata',
  key: string,
  value: unknown,
): Json {
  const base = auditEvent('Deployment');
  let text = JSON.stringify(base);
  const inject = `${JSON.stringify(key)}:${JSON.stringify(value)},`;
  const anchors = {
    event: '{"kind":"Event",',
    objectRef: '"objectRef":{',
    spec: '"spec":{"containers":',
    container: '{"name":"app",',
    metadata: '"metadata":{',
  } as const;
  const anchor = anchors[where];
  const at = text.indexOf(anchor);
  if (at < 0) throw new Error(`no ${where} in the event`);
  const insertAt = where === 'spec' ? at + '"spec":{'.length : at + anchor.length;
  text = text.slice(0, insertAt) + inject + text.slice(insertAt);
  return fromJson(text);
}

describe('prototype keys as object keys', () => {
  it.each(PROTOTYPE_KEYS)(
    '%s holding a fake response status or API group is not inherited',
    (key) => {
      // A 500 response hidden in a prototype key must not change the real 201; nor a fake apiGroup.
      expect(
        observed(withKey('event', key, { responseStatus: { code: 500 } })).containers,
      ).toHaveLength(1);
      const noGroup = withKey('objectRef', key, { apiGroup: 'apps' });
      delete (noGroup.objectRef as Json).apiGroup;
      expect(interpret(noGroup)).toMatchObject({ kind: 'skipped', reason: 'no-api-group' });
    },
  );

  it.each(PROTOTYPE_KEYS)(
    '%s in a pod spec or container: the real containers are judged, a fake image is not',
    (key) => {
      // Prepare: a container whose only "image" sits behind a prototype key
      const text = JSON.stringify(auditEvent('Deployment')).replaceAll(
        `{"name":"app","image":${JSON.stringify(EVIL)}}`,
        `{"name":"app",${JSON.stringify(key)}:{"image":"trusted.example.com/team/web:1.0"}}`,
      );
      // Act
      const findings = findingsOf(fromJson(text));
      // Assess: no image of its own is an invalid image, never the inherited trusted one
      expect(findings.map((f) => [f.container, f.rule])).toEqual([['app', 'invalid-reference']]);
      expect(
        findingsOf(
          withKey('spec', key, { containers: [{ name: 'x', image: 'trusted.example.com/a:1' }] }),
        ).map((f) => f.image),
      ).toEqual([EVIL]);
      expect(
        findingsOf(withKey('container', key, { image: 'trusted.example.com/a:1' })).map(
          (f) => f.image,
        ),
      ).toEqual([EVIL]);
      expect(
        findingsOf(
          withKey('metadata', key, { name: 'other', ownerReferences: [{ kind: 'X', name: 'y' }] }),
        ),
      ).toHaveLength(1);
    },
  );

  it('prototype keys in labels and ownerReferences of a pod do not crash workload resolution', () => {
    const text = JSON.stringify(auditEvent('Pod')).replaceAll(
      '"metadata":{"name":"web","namespace":"prod"}',
      '"metadata":{"name":"web-5f8c9d7b6-abcde","namespace":"prod","labels":{"__proto__":"x","pod-template-hash":"5f8c9d7b6","constructor":"y"},"ownerReferences":[{"__proto__":{"controller":true},"kind":"ReplicaSet","name":"web-5f8c9d7b6"}]}',
    );
    expect(observed(fromJson(text)).workload).toEqual({ kind: 'Deployment', name: 'web' });
  });
});

describe('prototype keys in JSON-patch paths', () => {
  const patch = (ops: unknown[]) =>
    auditEvent('Deployment', {
      verb: 'patch',
      level: 'Request',
      responseObject: undefined,
      requestObject: ops,
    });

  it.each([
    '/spec/template/spec/__proto__/0/image',
    '/spec/template/spec/constructor/0/image',
    '/spec/template/spec/prototype',
    '/spec/template/spec/toString/0',
    '/__proto__/polluted',
    '/spec/template/spec/containers/0/__proto__',
    '/spec/constructor/prototype/containers',
  ])('%s neither crashes nor names a container list', (p) => {
    // Act
    const out = interpret(patch([{ op: 'add', path: p, value: { image: EVIL, polluted: true } }]));
    // Assess: nothing is read through an inherited member; the one real image patch below is
    expect(out).toMatchObject({ kind: 'skipped', reason: 'no-containers' });
    const both = interpret(
      patch([
        { op: 'add', path: p, value: 'x' },
        { op: 'replace', path: '/spec/template/spec/containers/0/image', value: EVIL },
      ]),
    );
    expect(
      both.kind === 'observation' && both.observation.containers.map((c) => [c.name, c.kind]),
    ).toEqual([['containers[0]', 'container']]);
  });
});

const allowlist = compileAllowlist(parseAllowlist(TRUSTED_ALLOWLIST));

describe('one poisoned record fails only itself (services on dynalite)', () => {
  let dynamo: LocalDynamo;
  let deps: IngestDeps;
  let findings: ReturnType<typeof regwatchTables>['findings'];
  beforeAll(async () => {
    dynamo = await startDynalite();
    const tables = regwatchTables(dynamo.doc, await freshTables(dynamo));
    findings = tables.findings;
    deps = {
      allowlist: { current: async () => allowlist },
      findings,
      clock: () => new Date('2026-11-30T12:00:00Z'),
      minAlertSeverity: 'low',
    };
  });
  afterAll(() => dynamo.stop());

  it('audit batch: prototype-keyed events are judged or fail alone; every other event is stored', async () => {
    // Prepare
    const events = [
      fromJson(
        '{"__proto__":{"kind":"Event","auditID":"x","stage":"ResponseComplete","verb":"create","user":{"username":"a"}}}',
      ),
      withKey('event', 'constructor', { prototype: { polluted: 1 } }),
      {
        ...auditEvent('Pod', { auditID: 'ok-1' }),
        objectRef: { resource: 'pods', namespace: 'a', name: 'one' },
      },
      fromJson(
        JSON.stringify(auditEvent('Job')).replace(
          '"user":{',
          '"user":{"__proto__":{"username":"root"},',
        ),
      ),
      {
        ...auditEvent('Pod', { auditID: 'ok-2' }),
        objectRef: { resource: 'pods', namespace: 'b', name: 'two' },
      },
    ];
    // Act
    const report = await ingestAuditEvents(events, CLUSTER, deps);
    // Assess
    expect(report.failed.map((f) => f.index)).toEqual([0]);
    expect(report.findings.new).toBe(4);
    const stored: Finding[] = [];
    for await (const f of findings.query({ cluster: CLUSTER })) stored.push(f);
    expect(stored.map((f) => f.namespace).sort()).toEqual(['a', 'b', 'prod', 'prod']);
  });

  it('pod-event batch: prototype keys in labels, containers and statuses fail nothing else', async () => {
    // Prepare
    const pod = (name: string, extra: string) =>
      fromJson(
        `{"cluster":"orion-prod","observedAt":"2026-11-30T10:00:00Z","reason":"running","pod":{"metadata":{"name":"${name}","namespace":"pods","uid":"u-${name}"${extra}},"spec":{"containers":[{"name":"c","image":"${EVIL}","__proto__":{"image":"trusted.example.com/a:1"}}]},"status":{"containerStatuses":[{"name":"c","constructor":{"imageID":"x"}}]}}}`,
      );
    const events = [
      pod('p1', ',"labels":{"__proto__":"x","constructor":"y","prototype":"z"}'),
      fromJson('{"__proto__":{"cluster":"orion-prod"}}'),
      pod(
        'p2',
        ',"ownerReferences":[{"kind":"ReplicaSet","name":"rs","__proto__":{"controller":true}}]',
      ),
    ];
    // Act
    const report = await ingestPodEvents(events, deps);
    // Assess
    expect(report.failed.map((f) => f.index)).toEqual([1]);
    expect(report.findings.new).toBe(2);
  });
});

describe('local mode', () => {
  let local: LocalInstance;
  beforeAll(async () => {
    local = await startLocal({
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
  });
  afterAll(() => local?.stop());

  it.each(['/__proto__', '/constructor', '/v1/__proto__', '/toString'])(
    'POST %s is a 404, not a crash',
    async (route) => {
      const res = await fetch(`${local.url}${route}`, { method: 'POST', body: '{}' });
      expect(res.status).toBe(404);
    },
  );

  it('an audit EventList with a prototype-keyed item stores the others', async () => {
    // Prepare
    const good = (ns: string) =>
      JSON.stringify({
        ...auditEvent('Pod'),
        objectRef: { resource: 'pods', namespace: ns, name: 'p' },
      });
    const body = `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[${good('la')},{"__proto__":{"kind":"Event"},"constructor":{"auditID":"x"}},${good('lb')}]}`;
    // Act
    const res = await fetch(`${local.url}/v1/audit?cluster=local-proto`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const report = (await res.json()) as { failed: { index: number }[]; findings: { new: number } };
    // Assess
    expect(report.failed.map((f) => f.index)).toEqual([1]);
    expect(report.findings.new).toBe(2);
  });

  it('a pod-event batch with a prototype-keyed record stores the others', async () => {
    // Prepare
    const good = (name: string) => ({
      cluster: 'local-proto',
      observedAt: '2026-11-30T10:00:00Z',
      reason: 'running',
      pod: {
        metadata: { name, namespace: 'x', uid: `u-${name}` },
        spec: { containers: [{ name: 'c', image: EVIL }] },
      },
    });
    const body = `[${JSON.stringify(good('a'))},{"__proto__":{"cluster":"local-proto"}},${JSON.stringify(good('b'))}]`;
    // Act
    const res = await fetch(`${local.url}/v1/pod-events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const report = (await res.json()) as { failed: { index: number }[]; findings: { new: number } };
    // Assess
    expect(report.failed.map((f) => f.index)).toEqual([1]);
    expect(report.findings.new).toBe(2);
  });
});
