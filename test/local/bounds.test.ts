/**
 * Local ingest under hostile bodies: bad input is a 4xx with a bounded report, gzip bodies are
 * inflated with a cap, and what is good in a body is still stored.
 */
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalInstance, startLocal } from '../../lambdas/local/app.ts';
import { DEFAULT_MAX_INFLATED_BYTES } from '../../lambdas/local/body.ts';
import { MAX_LISTED_FAILURES } from '../../lambdas/local/bounded-report.ts';
import { gzipBomb } from '../helpers/bombs.ts';
import { auditPodCreate, eventList, podEvent } from './builders.ts';

const ALLOWLIST = path.resolve(import.meta.dirname, '../fixtures/local/allowlist.yaml');
let local: LocalInstance;

beforeAll(async () => {
  local = await startLocal({
    port: 0,
    dynamodbPort: 0,
    allowlistFile: ALLOWLIST,
    minAlertSeverity: 'critical',
    vulnerableThreshold: 'critical',
    scanTimeoutMinutes: 30,
    maxBodyBytes: 6 * 1024 * 1024,
    out: () => {},
    err: () => {},
  });
});
afterAll(async () => {
  await local?.stop();
});

async function post(route: string, body: string | Buffer, headers: Record<string, string> = {}) {
  const res = await fetch(`${local.url}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
const failedIndexes = (body: Record<string, unknown>) =>
  (body.failed as { index: number }[]).map((f) => f.index);
const first = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

describe('bad records: 4xx with a bounded report', () => {
  it('5 MiB of junk lines to /v1/audit: 400 naming the body, never a 500', async () => {
    // Prepare: the body that used to overflow the stack (a 500). Local mode answers what the
    // audit webhook Lambda answers (the same edge): a body with no event at all is not JSON.
    const lines = 2_500_000;
    const body = 'x\n'.repeat(lines);
    // Act
    const res = await post('/v1/audit?cluster=bounds-1', body);
    // Assess
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('VALIDATION_FAILED');
    expect(String(res.body.message)).toMatch(/not JSON/);
    expect((res.body.issues as unknown[]).length).toBeLessThanOrEqual(MAX_LISTED_FAILURES);
  });

  it('5 MiB of junk lines around one event: 400, the first 100 listed, all counted', async () => {
    // Prepare
    const lines = 2_500_000;
    const event = auditPodCreate({
      auditID: 'b0c4d1e2-0000-4000-8000-0000000000ff',
      namespace: 'shop',
      name: 'shell',
      image: 'ghcr.io/evil/shell:1',
    });
    const body = `${JSON.stringify(event)}\n${'x\n'.repeat(lines)}`;
    // Act
    const res = await post('/v1/audit?cluster=bounds-1', body);
    // Assess
    expect(res.status).toBe(400);
    expect(failedIndexes(res.body)).toEqual(first(MAX_LISTED_FAILURES, 1));
    expect(res.body.failedTotal).toBe(lines);
    expect(res.body.received).toBe(lines + 1);
    expect(res.body.findings).toMatchObject({ new: 1 });
  });

  it('bad lines among good events: the good ones are stored, failures listed by line', async () => {
    // Prepare: 300 junk lines, then a violating pod create, then 300 more.
    const event = auditPodCreate({
      auditID: 'b0c4d1e2-0000-4000-8000-000000000001',
      namespace: 'shop',
      name: 'shell',
      image: 'ghcr.io/evil/shell:1',
    });
    const body = `${'{"broken":}\n'.repeat(300)}${JSON.stringify(event)}\n${'nope\n'.repeat(300)}`;
    // Act
    const res = await post('/v1/audit?cluster=bounds-2', body);
    // Assess
    expect(res.status).toBe(400);
    expect(failedIndexes(res.body)).toEqual(first(MAX_LISTED_FAILURES));
    expect(res.body.failedTotal).toBe(600);
    expect(res.body.findings).toMatchObject({ new: 1 });
  });

  it('a 200,000-entry pod-event array: 400 with 100 failures listed and the total', async () => {
    // Prepare
    const n = 200_000;
    const good = podEvent({
      cluster: 'bounds-3',
      name: 'tools',
      containers: { sh: 'ghcr.io/evil/shell:1' },
    });
    const body = `[${Array.from({ length: n }, () => '1').join(',')},${JSON.stringify(good)}]`;
    // Act
    const res = await post('/v1/pod-events', body);
    // Assess
    expect(res.status).toBe(400);
    expect(failedIndexes(res.body)).toEqual(first(MAX_LISTED_FAILURES));
    expect(res.body).toMatchObject({ received: n + 1, evaluated: 1, failedTotal: n });
    expect(res.body.findings).toMatchObject({ new: 1 });
  });

  it('EventBridge events that are all invalid: bounded too', async () => {
    // Act
    const res = await post('/v1/events', `[${Array.from({ length: 5000 }, () => '7').join(',')}]`);
    // Assess
    expect(res.status).toBe(400);
    expect(failedIndexes(res.body)).toEqual(first(MAX_LISTED_FAILURES));
    expect(res.body.failedTotal).toBe(5000);
  });
});

describe('gzip bodies', () => {
  const events = JSON.stringify(
    eventList([
      auditPodCreate({
        auditID: 'b0c4d1e2-0000-4000-8000-000000000002',
        namespace: 'shop',
        name: 'miner',
        image: 'docker.io/evil/miner:1',
      }),
    ]),
  );
  // A 1 MB body that inflates to 1 GiB.
  const bomb = gzipBomb(1 << 30);

  it.each([
    ['Content-Encoding: gzip', '/v1/audit?cluster=bounds-4', { 'content-encoding': 'gzip' }],
    ['gzip magic on /v1/audit', '/v1/audit?cluster=bounds-4', {}],
    ['Content-Encoding: gzip', '/v1/pod-events', { 'content-encoding': 'gzip' }],
  ])('a gzip bomb (%s → %s) is refused with 413 at the inflate cap', async (_, route, headers) => {
    // Act
    const res = await post(route, bomb, headers);
    // Assess
    expect(bomb.length).toBeLessThan(1_100_000);
    expect(res.status).toBe(413);
    expect(res.body).toEqual({
      error: 'PAYLOAD_TOO_LARGE',
      message: `compressed payload inflates past ${DEFAULT_MAX_INFLATED_BYTES} bytes`,
      limitBytes: DEFAULT_MAX_INFLATED_BYTES,
    });
  });

  it('a gzip audit body within the caps is read, by header or by magic number', async () => {
    // Act
    const byHeader = await post('/v1/audit?cluster=bounds-5', gzipSync(events), {
      'content-encoding': 'gzip',
    });
    const byMagic = await post('/v1/audit?cluster=bounds-6', gzipSync(events), {
      'content-type': 'application/gzip',
    });
    // Assess
    expect(byHeader.status).toBe(200);
    expect(byHeader.body.findings).toMatchObject({ new: 1 });
    expect(byMagic.status).toBe(200);
    expect(byMagic.body.findings).toMatchObject({ new: 1 });
  });

  it('corrupt gzip is a 400; another content coding is a 415', async () => {
    // Act
    const corrupt = await post('/v1/pod-events', gzipSync('[]').subarray(0, 12), {
      'content-encoding': 'gzip',
    });
    const brotli = await post('/v1/pod-events', '[]', { 'content-encoding': 'br' });
    // Assess
    expect(corrupt.status).toBe(400);
    expect(corrupt.body.message).toMatch(/^body is not valid gzip: /);
    expect(brotli.status).toBe(415);
    expect(brotli.body.message).toBe('unsupported content-encoding "br": send gzip or none');
  });
});
