import { request } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../lambdas/core/types.ts';
import { alertLine, terminalSafe } from '../../lambdas/local/alerts.ts';
import { type LocalInstance, startLocal } from '../../lambdas/local/app.ts';
import { SHARED_FIXTURES } from '../helpers/fixtures.ts';
import { auditPodCreate, ECR, ecrPush, eventList, podEvent } from './builders.ts';

const ALLOWLIST = path.resolve(import.meta.dirname, '../fixtures/local/allowlist.yaml');
const SHARED = SHARED_FIXTURES;
const TOKEN = 's3cret-token';

let local: LocalInstance;
const lines: string[] = [];
const errors: string[] = [];

beforeAll(async () => {
  local = await startLocal({
    port: 0,
    dynamodbPort: 0,
    allowlistFile: ALLOWLIST,
    token: TOKEN,
    minAlertSeverity: 'low',
    vulnerableThreshold: 'critical',
    scanTimeoutMinutes: 30,
    maxBodyBytes: 64 * 1024,
    out: (line) => lines.push(line),
    err: (line) => errors.push(line),
  });
});

afterAll(async () => {
  await local?.stop();
});

const auth = { authorization: `Bearer ${TOKEN}` };

async function post(
  route: string,
  body: unknown,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${local.url}${route}`, {
    method: 'POST',
    headers: { ...auth, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function stored(cluster: string): Promise<Finding[]> {
  const out: Finding[] = [];
  for await (const f of local.tables.findings.query({ cluster })) out.push(f);
  return out;
}

const alerts = () => lines.filter((l) => l.startsWith('ALERT '));

describe('POST /v1/pod-events', () => {
  it('stores findings for violating containers and alerts once per new finding', async () => {
    // Prepare
    const batch = [
      podEvent({ cluster: 'pods-prod-1', name: 'web', containers: { web: `${ECR}/shop/web:1.0` } }),
      podEvent({
        cluster: 'pods-prod-1',
        name: 'tools',
        containers: { sh: 'ghcr.io/evil/shell:1' },
      }),
    ];
    const before = alerts().length;

    // Act
    const first = await post('/v1/pod-events', batch);
    const again = await post('/v1/pod-events', batch);

    // Assess
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ received: 2, evaluated: 2, failed: [] });
    expect(first.body.findings).toMatchObject({ new: 1, duplicate: 0 });
    expect(again.body.findings).toMatchObject({ new: 0, duplicate: 1 });
    const findings = await stored('pods-prod-1');
    expect(findings.map((f) => [f.rule, f.image, f.count])).toEqual([
      ['untrusted-source', 'ghcr.io/evil/shell:1', 1],
    ]);
    const added = alerts().slice(before);
    expect(added).toHaveLength(1);
    expect(added[0]).toContain('untrusted-source pods-prod-1/web Pod/tools container=sh');
  });

  it('answers 400 listing the invalid records by index and keeps the valid ones', async () => {
    // Prepare
    const batch = [
      podEvent({ cluster: 'pods-prod-2', name: 'a', containers: { a: 'quay.io/x/a:1' } }),
      { cluster: 'pods-prod-2', reason: 'running' },
      podEvent({ cluster: 'pods-prod-2', name: 'b', containers: { b: 'quay.io/x/b:1' } }),
    ];

    // Act
    const res = await post('/v1/pod-events', batch);

    // Assess
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ received: 3, evaluated: 2 });
    const failed = res.body.failed as { index: number; error: string }[];
    expect(failed.map((f) => f.index)).toEqual([1]);
    expect(failed[0]?.error).toMatch(/invalid pod event/);
    expect((await stored('pods-prod-2')).map((f) => f.image).sort()).toEqual([
      'quay.io/x/a:1',
      'quay.io/x/b:1',
    ]);
  });

  it('evaluates a long body slice by slice, failures listed by body index across slices', async () => {
    // Prepare: 120 records (two slices), bad ones before, inside and after the first slice
    const batch: unknown[] = Array.from({ length: 120 }, (_, i) =>
      podEvent({ cluster: 'pods-prod-9', name: `p${i}`, containers: { a: 'ghcr.io/evil/a:1' } }),
    );
    batch[3] = 42;
    batch[50] = { cluster: 'pods-prod-9', reason: 'running' };
    batch[110] = { cluster: 'pods-prod-9', reason: 'running' };

    // Act
    const res = await post('/v1/pod-events', batch);

    // Assess
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ received: 120, evaluated: 117 });
    const failed = res.body.failed as { index: number; error: string }[];
    expect(failed.map((f) => f.index)).toEqual([3, 50, 110]);
    expect(failed[1]?.error).toMatch(/^pod event 50: invalid pod event/);
    expect(res.body.findings).toMatchObject({ new: 117 });
    expect(await stored('pods-prod-9')).toHaveLength(117);
  });

  it('reports the findings a deletion auto-resolved', async () => {
    // Prepare
    const running = podEvent({
      cluster: 'pods-prod-8',
      name: 'tools',
      containers: { sh: 'ghcr.io/evil/shell:1' },
    });
    await post('/v1/pod-events', [running]);

    // Act
    const res = await post('/v1/pod-events', [{ ...running, reason: 'deleted' }]);

    // Assess
    expect(res.status).toBe(200);
    expect(res.body.findings).toMatchObject({ new: 0, resolved: 1 });
    expect((await stored('pods-prod-8')).map((f) => [f.status, f.resolution?.reason])).toEqual([
      ['RESOLVED', 'no-longer-running'],
    ]);
  });

  it('acknowledges deleted and resync-complete events and refuses an unknown reason naming the field', async () => {
    // Prepare
    const deleted = {
      ...podEvent({ cluster: 'pods-prod-3', name: 'gone', containers: { a: 'ghcr.io/evil/a:1' } }),
      reason: 'deleted',
    };
    const complete = {
      cluster: 'pods-prod-3',
      observedAt: '2026-01-10T10:00:00Z',
      reason: 'resync-complete',
      resyncId: 'pass-1',
    };
    const unknown = {
      ...podEvent({ cluster: 'pods-prod-3', name: 'x', containers: { a: 'ghcr.io/evil/b:1' } }),
      reason: 'evicted',
    };

    // Act
    const ok = await post('/v1/pod-events', [deleted, complete]);
    const refused = await post('/v1/pod-events', [unknown]);

    // Assess
    expect(ok.status).toBe(200);
    // Both are processed (the inventory follows them), neither is a failure.
    expect(ok.body).toMatchObject({ received: 2, evaluated: 2, failed: [] });
    expect(refused.status).toBe(400);
    const failed = refused.body.failed as { index: number; error: string }[];
    expect(failed).toHaveLength(1);
    // The field is named as the Lambda edge names it: the detail of the EventBridge event.
    expect(failed[0]?.error).toMatch(
      /invalid pod event .*\(detail\.reason: unknown pod event reason; expected one of /,
    );
    // A deleted pod is not a sighting: its untrusted image makes no finding.
    expect(await stored('pods-prod-3')).toEqual([]);
  });

  it('refuses a body that is not a JSON array with the reason', async () => {
    // Act
    const notJson = await post('/v1/pod-events', '{"cluster": ');
    const notArray = await post('/v1/pod-events', { cluster: 'x' });

    // Assess
    expect(notJson.status).toBe(400);
    expect(notJson.body.message).toMatch(/not JSON/);
    expect(notArray.status).toBe(400);
    expect(notArray.body.message).toMatch(/JSON array of pod events/);
  });
});

describe('POST /v1/audit', () => {
  it('needs ?cluster=', async () => {
    // Act
    const res = await post('/v1/audit', eventList([]));

    // Assess
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/cluster=NAME/);
  });

  it('reads the webhook EventList: one finding per request, attributed to the user', async () => {
    // Prepare: the real webhook EventList (two stages of one request)
    const { readFileSync } = await import('node:fs');
    const body = readFileSync(
      path.join(SHARED, 'audit-events/webhook-eventlist-pod-create-v1.jsonl'),
      'utf8',
    );

    // Act
    const res = await post('/v1/audit?cluster=audit-dev-1', body);

    // Assess
    expect(res.status).toBe(200);
    expect(res.body.evaluated).toBe(1);
    const findings = await stored('audit-dev-1');
    expect(findings).toHaveLength(1);
    expect(findings[0]?.actor?.username).toBeTruthy();
  });

  it('reads JSON lines; a malformed line fails itself only, named by its line', async () => {
    // Prepare
    const body = [
      JSON.stringify(
        auditPodCreate({ auditID: 'a-1', namespace: 'qa', name: 'one', image: 'evil.io/one:1' }),
      ),
      '{"kind":"Event", broken',
      JSON.stringify(
        auditPodCreate({ auditID: 'a-2', namespace: 'qa', name: 'two', image: 'evil.io/two:1' }),
      ),
    ].join('\n');

    // Act
    const res = await post('/v1/audit?cluster=audit-dev-2', body, {
      'content-type': 'application/x-ndjson',
    });

    // Assess
    expect(res.status).toBe(400);
    expect((res.body.failed as { index: number }[]).map((f) => f.index)).toEqual([1]);
    expect((await stored('audit-dev-2')).map((f) => f.image).sort()).toEqual([
      'evil.io/one:1',
      'evil.io/two:1',
    ]);
  });
});

describe('POST /v1/audit behaves as the deployed functions', () => {
  it('refuses a cluster name the audit webhook refuses, storing nothing', async () => {
    // Act
    const res = await post(
      `/v1/audit?cluster=${encodeURIComponent('bad name!')}`,
      eventList([
        auditPodCreate({ auditID: 'b-1', namespace: 'qa', name: 'x', image: 'evil.io/x:1' }),
      ]),
    );

    // Assess
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/cluster name "bad name!" is invalid/);
    expect(await stored('bad name!')).toEqual([]);
  });

  it('reads a CloudWatch Logs subscription payload through the eks-audit-logs edge', async () => {
    // Prepare: the constructed subscription delivery of /aws/eks/orion-prod-euc1/cluster
    const { readFileSync } = await import('node:fs');
    const body = readFileSync(
      path.join(SHARED, 'audit-events/constructed/eks-cloudwatch-subscription-event.json'),
      'utf8',
    );

    // Act: the cluster comes from the log group, as on AWS
    const res = await post('/v1/audit', body);

    // Assess
    expect(res.status).toBe(200);
    expect(res.body.received).toBe(4);
    expect((await stored('orion-prod-euc1')).length).toBeGreaterThan(0);
  });
});

describe('POST /v1/events', () => {
  it('judges an ECR push against the allowlist', async () => {
    // Prepare: a push to another account's ECR, which no rule trusts
    const push = ecrPush({
      id: 'push-1',
      account: '111122223333',
      repository: 'team/app',
      tag: '2.0',
      time: new Date().toISOString(),
    });

    // Act
    const res = await post('/v1/events', push);

    // Assess
    expect(res.status).toBe(200);
    expect(res.body.registry).toEqual({ 'push-violation': 1 });
    expect(res.body.findings).toMatchObject({ new: 1 });
  });

  it("acknowledges AWS's documentation sample (60-hex digest) as rejected by index, as the Lambda does, and skips a DELETE", async () => {
    // Prepare
    const { readFileSync } = await import('node:fs');
    const read = (f: string) =>
      JSON.parse(readFileSync(path.join(SHARED, 'eventbridge', f), 'utf8')) as unknown;
    const body = [
      read('ecr-image-action-delete-success.awsdocs.json'),
      read('ecr-image-action-push-success.awsdocs.json'),
    ];

    // Act
    const res = await post('/v1/events', body);

    // Assess
    // Assess: the ecr-push edge acknowledges an image that cannot exist (a retry cannot help),
    // so local mode neither fails it nor stores anything for it.
    expect(res.status).toBe(200);
    expect(res.body.failed).toEqual([]);
    expect((res.body.rejected as { index: number; reason: string }[]).map((r) => r.index)).toEqual([
      1,
    ]);
    expect((res.body.rejected as { reason: string }[])[0]?.reason).toMatch(/digest/);
    expect(res.body.evaluated).toBe(0);
    expect(Object.values(res.body.skipped as Record<string, number>)).toEqual([1]);
  });
});

describe('the HTTP edge', () => {
  it('answers 413 for a body announced larger than the limit', async () => {
    // Act
    const res = await post('/v1/pod-events', `[${' '.repeat(70 * 1024)}]`);

    // Assess
    expect(res.status).toBe(413);
    expect(res.body.limitBytes).toBe(64 * 1024);
  });

  it('answers 413 for a streamed body that grows past the limit', async () => {
    // Act: chunked, no Content-Length, so the limit must be applied while reading
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${local.url}/v1/pod-events`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < 40 && req.write(chunk)) sent++;
        if (sent < 40) req.once('drain', pump);
        else req.end();
      };
      pump();
    });

    // Assess
    expect(status).toBe(413);
  });

  it('needs the bearer token, and answers 404 / 405 / 415 with the reason', async () => {
    // Act
    const noToken = await fetch(`${local.url}/v1/pod-events`, { method: 'POST', body: '[]' });
    const missing = await post('/v1/nope', []);
    const wrongMethod = await fetch(`${local.url}/v1/pod-events`, { headers: auth });
    const wrongType = await post('/v1/pod-events', '[]', { 'content-type': 'text/plain' });
    const health = await fetch(`${local.url}/healthz`);

    // Assess
    expect(noToken.status).toBe(401);
    expect(missing.status).toBe(404);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    expect(wrongType.status).toBe(415);
    expect(health.status).toBe(200);
  });
});

describe('console alerts', () => {
  it('cannot be steered by control characters in attacker-chosen names', () => {
    // Act
    const safe = terminalSafe('evil\u001b[2J\nALERT NEW fake\u202e\u200b');

    // Assess
    expect(safe).toBe('evil\\x1b[2J\\x0aALERT NEW fake\\u202e\\u200b');
  });

  it('names severity, rule, place, workload, container, image and actor on one line', () => {
    // Prepare
    const finding = {
      id: 'abcd',
      severity: 'high',
      rule: 'untrusted-source',
      cluster: 'c',
      namespace: 'n',
      workload: { kind: 'Deployment', name: 'api' },
      container: 'app',
      image: 'evil.io/x:1',
      digest: null,
      source: 'audit',
      actor: { username: 'jane', groups: [], sourceIPs: [], userAgent: null, auditID: null },
    } as unknown as Finding;

    // Act
    const line = alertLine({ outcome: 'new', counted: true, finding });

    // Assess
    expect(line).toBe(
      'ALERT NEW HIGH untrusted-source c/n Deployment/api container=app image=evil.io/x:1 actor=jane id=abcd',
    );
    // The latest sighting's notes follow, quoted, with control characters escaped.
    const noted = alertLine({
      outcome: 'new',
      counted: true,
      finding: {
        ...finding,
        sightings: [
          {
            at: 'x',
            source: 'audit',
            eventId: 'e',
            podName: 'p',
            actor: null,
            notes: ['claims\u001b[2J owner'],
          },
        ],
      } as Finding,
    });
    expect(noted).toContain(' note="claims\\u001b[2J owner"');
    expect(noted).not.toContain('\u001b[2J');
  });
});
