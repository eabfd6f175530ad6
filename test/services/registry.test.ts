import {
  DescribeImageScanFindingsCommand,
  DescribeRepositoriesCommand,
  ECRClient,
} from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FindingsStore } from '../../lambdas/adapters/dynamodb/findings.ts';
import { ImagesStore } from '../../lambdas/adapters/dynamodb/images.ts';
import { EcrAdapter } from '../../lambdas/adapters/ecr.ts';
import { compileAllowlist, parseAllowlist } from '../../lambdas/core/allowlist/index.ts';
import {
  type EcrPushEvent,
  ecrRepositoryName,
  type ScanCheckMessage,
  type ScanCompletedEvent,
} from '../../lambdas/core/registry/index.ts';
import {
  handleEcrPush,
  handleInspectorEvent,
  handleScanCheck,
  type RegistryDeps,
} from '../../lambdas/services/registry.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';

const ACCOUNT = '111122223333';
const REGION = 'eu-west-1';
const PUSHED_AT = '2025-03-01T10:00:00.000Z';

const ALLOWLIST = compileAllowlist(
  parseAllowlist(`
version: 1
rules:
  - id: our-ecr
    registry: "${ACCOUNT}.dkr.ecr.*.amazonaws.com"
    repository: "trusted/**"
    denyTags: ["latest"]
`),
);

const ecrMock = mockClient(ECRClient);

let dynamo: LocalDynamo;
let images: ImagesStore;
let findings: FindingsStore;
let scheduled: { message: ScanCheckMessage; delaySeconds: number }[];
let now: Date;

beforeAll(async () => {
  dynamo = await startDynalite();
});

afterAll(async () => {
  ecrMock.restore();
  await dynamo.stop();
});

beforeEach(async () => {
  const names = await freshTables(dynamo);
  images = new ImagesStore(dynamo.doc, names.images);
  findings = new FindingsStore(dynamo.doc, names.findings);
  scheduled = [];
  now = new Date('2025-03-01T10:00:05.000Z');
  ecrMock.reset();
  ecrMock.on(DescribeRepositoriesCommand).resolves({
    repositories: [{ repositoryName: 'x', imageTagMutability: 'IMMUTABLE' }],
  });
});

function deps(over: Partial<RegistryDeps> = {}): RegistryDeps {
  return {
    images,
    findings,
    allowlist: { current: async () => ALLOWLIST },
    scheduler: {
      schedule: async (message, delaySeconds) => {
        scheduled.push({ message, delaySeconds });
      },
    },
    ecr: new EcrAdapter(() => new ECRClient({ region: REGION })),
    clock: () => now,
    scanTimeoutMinutes: 30,
    vulnerableThreshold: 'high',
    ...over,
  };
}

let seq = 0;
function digestOf(seed: string): string {
  return `sha256:${Buffer.from(seed).toString('hex').padEnd(64, '0').slice(0, 64)}`;
}

function push(
  repositoryName: string,
  tag: string | null,
  over: Partial<EcrPushEvent> = {},
): EcrPushEvent {
  seq += 1;
  return {
    kind: 'ecr-push',
    eventId: `push-${seq}`,
    time: PUSHED_AT,
    digest: digestOf(repositoryName),
    tag,
    account: ACCOUNT,
    region: REGION,
    repositoryName,
    repository: ecrRepositoryName(ACCOUNT, REGION, repositoryName),
    ...over,
  };
}

function scan(
  repositoryName: string,
  counts: Partial<Record<'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW', number>>,
  over: Partial<ScanCompletedEvent> = {},
): ScanCompletedEvent {
  seq += 1;
  return {
    kind: 'scan',
    scanner: 'inspector2',
    eventId: `scan-${seq}`,
    time: '2025-03-01T10:03:00.000Z',
    digest: digestOf(repositoryName),
    status: 'COMPLETE',
    counts: { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, INFORMATIONAL: 0, UNDEFINED: 0, ...counts },
    reportedTotal: null,
    tags: ['1.0'],
    rawStatus: 'INITIAL_SCAN_COMPLETE',
    account: ACCOUNT,
    region: REGION,
    repositoryName,
    repository: ecrRepositoryName(ACCOUNT, REGION, repositoryName),
    ...over,
  };
}

async function allFindings() {
  const out = [];
  for await (const f of findings.query({})) out.push(f);
  return out;
}

describe('ECR push', () => {
  it('a trusted push records the image, its tag mutability, and schedules the first check', async () => {
    const event = push('trusted/app', '1.0');
    const out = await handleEcrPush(event, deps());
    expect(out.action).toBe('push-allowed');
    expect(out.findings).toEqual([]);
    expect(await images.get(event.repository, event.digest)).toMatchObject({
      tags: ['1.0'],
      pushedAt: PUSHED_AT,
      tagMutability: 'IMMUTABLE',
      scanStatus: 'PENDING',
    });
    expect(scheduled).toEqual([
      {
        delaySeconds: 60,
        message: {
          type: 'scan-check',
          registryId: ACCOUNT,
          region: REGION,
          repositoryName: 'trusted/app',
          imageDigest: event.digest,
          pushedAt: PUSHED_AT,
          attempt: 1,
          imageTag: '1.0',
          purpose: 'push',
        },
      },
    ]);
    expect(ecrMock.commandCalls(DescribeRepositoriesCommand)[0]?.args[0].input).toEqual({
      registryId: ACCOUNT,
      repositoryNames: ['trusted/app'],
    });
  });

  it('a push into an untrusted repository is a finding; a redelivery counts nothing twice', async () => {
    const event = push('rogue/app', '1.0');
    const first = await handleEcrPush(event, deps());
    const again = await handleEcrPush(event, deps());
    expect(first.findings.map((f) => [f.finding.rule, f.outcome, f.counted])).toEqual([
      ['untrusted-source', 'new', true],
    ]);
    expect(again.findings.map((f) => [f.outcome, f.counted])).toEqual([['repeat', false]]);
    const stored = await allFindings();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      count: 1,
      cluster: `ecr:${ACCOUNT}:${REGION}`,
      namespace: 'rogue/app',
      workload: { kind: 'EcrRepository', name: 'rogue/app' },
      container: 'push',
      severity: 'high',
    });
    // One chain of scan checks, not one per delivery.
    expect(scheduled).toHaveLength(1);
  });

  it('tag rules bind pulls, not pushes: `latest` pushed with its digest is allowed', async () => {
    // The pushed reference carries the digest, which pins it; denyTags is judged where a pod
    // pulls by tag (the pod path), so the registry side stays quiet here.
    const out = await handleEcrPush(push('trusted/web', 'latest'), deps());
    expect(out.action).toBe('push-allowed');
    expect(out.findings).toEqual([]);
  });

  it('unknown tag mutability does not lose the push', async () => {
    ecrMock
      .on(DescribeRepositoriesCommand)
      .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const event = push('trusted/api', '2.0');
    await handleEcrPush(event, deps());
    expect(await images.get(event.repository, event.digest)).toMatchObject({
      tagMutability: null,
      tags: ['2.0'],
    });
  });
});

describe('scan results', () => {
  it('a scan result before the push: recorded, finding raised, and the later push starts no checks', async () => {
    const result = await handleInspectorEvent(
      scan('trusted/svc', { CRITICAL: 2, HIGH: 1, LOW: 4 }),
      deps(),
    );
    expect(result.action).toBe('scan-recorded');
    expect(
      result.findings.map((f) => [f.finding.rule, f.finding.severity, f.finding.message]),
    ).toEqual([
      ['vulnerable-image', 'critical', `digest ${digestOf('trusted/svc')} has 2 CRITICAL, 1 HIGH`],
    ]);
    expect(result.findings[0]?.finding).toMatchObject({ container: 'scan', source: 'inspector' });

    const pushed = await handleEcrPush(push('trusted/svc', '1.0'), deps());
    expect(pushed.image).toMatchObject({
      scanStatus: 'COMPLETE',
      pushedAt: PUSHED_AT,
      tags: ['1.0'],
    });
    expect(scheduled).toEqual([]);
  });

  it('counts below the threshold: recorded, no finding', async () => {
    const out = await handleInspectorEvent(scan('trusted/calm', { MEDIUM: 9, LOW: 3 }), deps());
    expect(out.findings).toEqual([]);
    expect(out.image?.severityCounts).toMatchObject({ MEDIUM: 9, LOW: 3 });
  });

  it('the threshold decides: the same counts are a finding at medium', async () => {
    const out = await handleInspectorEvent(
      scan('trusted/calm2', { MEDIUM: 9 }),
      deps({ vulnerableThreshold: 'medium' }),
    );
    expect(out.findings.map((f) => f.finding.severity)).toEqual(['medium']);
  });

  it('a redelivered scan event makes no second finding', async () => {
    const event = scan('trusted/dup', { HIGH: 1 });
    await handleInspectorEvent(event, deps());
    const again = await handleInspectorEvent(event, deps());
    expect(again.findings.map((f) => f.counted)).toEqual([false]);
    expect((await allFindings())[0]?.count).toBe(1);
  });

  it('an older scan result never replaces a newer one', async () => {
    await handleInspectorEvent(
      scan('trusted/order', { HIGH: 1 }, { time: '2025-03-01T11:00:00.000Z' }),
      deps(),
    );
    const older = await handleInspectorEvent(
      scan('trusted/order', { CRITICAL: 5 }, { time: '2025-03-01T10:30:00.000Z' }),
      deps(),
    );
    expect(older.action).toBe('scan-stale');
    expect(older.image?.severityCounts?.HIGH).toBe(1);
  });

  it('a failed scan is a scan-missing coverage gap', async () => {
    const out = await handleInspectorEvent(
      scan(
        'trusted/broken',
        {},
        { status: 'FAILED', counts: null, rawStatus: 'FAILED', scanner: 'ecr-basic' },
      ),
      deps(),
    );
    expect(out.action).toBe('scan-failed');
    expect(out.findings.map((f) => [f.finding.rule, f.finding.severity])).toEqual([
      ['scan-missing', 'low'],
    ]);
  });
});

describe('scan checks', () => {
  async function pushed(name: string) {
    await handleEcrPush(push(name, '1.0'), deps());
    const first = scheduled.shift();
    if (!first) throw new Error('no check scheduled');
    return first.message;
  }

  it('ECR has a result: recorded from the API, vulnerable-image raised', async () => {
    const message = await pushed('trusted/polled');
    ecrMock.on(DescribeImageScanFindingsCommand).resolves({
      imageScanStatus: { status: 'COMPLETE' },
      imageScanFindings: {
        findingSeverityCounts: { HIGH: 3 },
        imageScanCompletedAt: new Date('2025-03-01T10:02:00Z'),
      },
    });
    now = new Date('2025-03-01T10:01:05Z');
    const out = await handleScanCheck(message, deps());
    expect(out.action).toBe('check-complete');
    expect(out.image).toMatchObject({
      scanStatus: 'COMPLETE',
      scanSource: 'ecr-api',
      scanCompletedAt: '2025-03-01T10:02:00.000Z',
    });
    expect(out.findings.map((f) => f.finding.message)).toEqual([
      `digest ${message.imageDigest} has 3 HIGH`,
    ]);
    expect(ecrMock.commandCalls(DescribeImageScanFindingsCommand)[0]?.args[0].input).toMatchObject({
      registryId: ACCOUNT,
      repositoryName: 'trusted/polled',
      imageId: { imageDigest: message.imageDigest },
    });
  });

  it('no result yet: checks back off (1, 2, 4, 8 min, then the deadline), then scan-missing', async () => {
    let message = await pushed('trusted/silent');
    ecrMock
      .on(DescribeImageScanFindingsCommand)
      .rejects(Object.assign(new Error('no scan'), { name: 'ScanNotFoundException' }));
    const delays: number[] = [];
    let elapsed = 60;
    for (;;) {
      now = new Date(Date.parse(PUSHED_AT) + elapsed * 1000);
      const out = await handleScanCheck(message, deps());
      if (out.action !== 'check-rescheduled') {
        expect(out.action).toBe('scan-missing');
        expect(out.image?.scanStatus).toBe('MISSING');
        expect(out.findings.map((f) => [f.finding.rule, f.outcome])).toEqual([
          ['scan-missing', 'new'],
        ]);
        expect(out.findings[0]?.finding.message).toMatch(
          /no scan result for .*trusted\/silent@sha256:.* within 30 minutes of its push \(ECR has no scan of the image\)$/,
        );
        break;
      }
      const next = scheduled.shift();
      if (!next) throw new Error('rescheduled without a message');
      delays.push(next.delaySeconds);
      expect(next.message.attempt).toBe(message.attempt + 1);
      message = next.message;
      elapsed += next.delaySeconds;
    }
    expect(delays).toEqual([120, 240, 480, 900]);
    expect(elapsed).toBe(1800);

    // A redelivered final check changes nothing more.
    const again = await handleScanCheck(message, deps());
    expect(again.action).toBe('check-done');
    expect((await allFindings()).filter((f) => f.rule === 'scan-missing')[0]?.count).toBe(1);
  });

  it('before the deadline a pending scan is rescheduled, not missing', async () => {
    const message = await pushed('trusted/slow');
    ecrMock
      .on(DescribeImageScanFindingsCommand)
      .resolves({ imageScanStatus: { status: 'IN_PROGRESS' } });
    now = new Date(Date.parse(PUSHED_AT) + 29 * 60_000);
    const out = await handleScanCheck({ ...message, attempt: 4 }, deps());
    expect(out.action).toBe('check-rescheduled');
    expect(out.scheduled).toEqual({ attempt: 5, delaySeconds: 60 });
    expect(out.detail).toMatch(/ECR scan status IN_PROGRESS/);
  });

  it('enhanced scanning: ECR ACTIVE with severity counts is recorded from the summary page', async () => {
    const message = await pushed('trusted/enhanced');
    ecrMock.on(DescribeImageScanFindingsCommand).resolves({
      imageScanStatus: { status: 'ACTIVE', description: 'Continuous scan is selected' },
      imageScanFindings: {
        findingSeverityCounts: { CRITICAL: 2, LOW: 5, UNDEFINED: 1 },
        imageScanCompletedAt: new Date('2025-03-01T10:04:00Z'),
        enhancedFindings: [{ severity: 'CRITICAL', status: 'ACTIVE' }],
      },
      nextToken: 'page-2',
    });
    const out = await handleScanCheck(message, deps());
    expect(out.image).toMatchObject({
      scanStatus: 'COMPLETE',
      scanSource: 'ecr-api',
      scanCompletedAt: '2025-03-01T10:04:00.000Z',
      severityCounts: { CRITICAL: 2, HIGH: 0, MEDIUM: 0, LOW: 5, INFORMATIONAL: 0, UNDEFINED: 1 },
    });
    expect(out.findings.map((f) => f.finding.message)).toEqual([
      `digest ${message.imageDigest} has 2 CRITICAL`,
    ]);
    // The counts were given: no walk over the findings' pages.
    const calls = ecrMock.commandCalls(DescribeImageScanFindingsCommand);
    expect(calls.map((c) => c.args[0].input.maxResults)).toEqual([1]);
  });

  it('enhanced scanning without counts: active findings counted by severity over all pages', async () => {
    const message = await pushed('trusted/paged');
    ecrMock
      .on(DescribeImageScanFindingsCommand)
      .resolvesOnce({
        imageScanStatus: { status: 'ACTIVE' },
        imageScanFindings: {
          imageScanCompletedAt: new Date('2025-03-01T10:05:00Z'),
          enhancedFindings: [{ severity: 'CRITICAL', status: 'ACTIVE' }],
        },
        nextToken: 'summary-token',
      })
      .resolvesOnce({
        imageScanStatus: { status: 'ACTIVE' },
        imageScanFindings: {
          enhancedFindings: [
            { severity: 'CRITICAL', status: 'ACTIVE' },
            { severity: 'LOW', status: 'ACTIVE' },
            { severity: 'CRITICAL', status: 'SUPPRESSED' },
          ],
        },
        nextToken: 'page-2',
      })
      .resolvesOnce({
        imageScanStatus: { status: 'ACTIVE' },
        imageScanFindings: {
          enhancedFindings: [
            { severity: 'CRITICAL', status: 'ACTIVE' },
            { severity: 'UNTRIAGED', status: 'ACTIVE' },
            { severity: 'HIGH', status: 'CLOSED' },
            { title: 'no severity, no status' },
          ],
        },
      });
    const out = await handleScanCheck(message, deps());
    expect(out.image).toMatchObject({
      scanStatus: 'COMPLETE',
      scanSource: 'ecr-api',
      scanCompletedAt: '2025-03-01T10:05:00.000Z',
      severityCounts: { CRITICAL: 2, HIGH: 0, MEDIUM: 0, LOW: 1, INFORMATIONAL: 0, UNDEFINED: 2 },
    });
    expect(out.findings.map((f) => f.finding.message)).toEqual([
      `digest ${message.imageDigest} has 2 CRITICAL`,
    ]);
    // The summary page is not counted; the walk starts over with full pages and follows tokens.
    const inputs = ecrMock
      .commandCalls(DescribeImageScanFindingsCommand)
      .map((c) => c.args[0].input);
    expect(inputs.map((i) => [i.maxResults, i.nextToken])).toEqual([
      [1, undefined],
      [1000, undefined],
      [1000, 'page-2'],
    ]);
    for (const input of inputs) {
      expect(input).toMatchObject({
        registryId: ACCOUNT,
        repositoryName: 'trusted/paged',
        imageId: { imageDigest: message.imageDigest },
      });
    }
  });

  it('enhanced scanning ACTIVE with no findings at all: complete, all counts zero', async () => {
    const message = await pushed('trusted/clean');
    ecrMock.on(DescribeImageScanFindingsCommand).resolves({
      imageScanStatus: { status: 'ACTIVE' },
      imageScanFindings: { enhancedFindings: [] },
    });
    const out = await handleScanCheck(message, deps());
    expect(out.action).toBe('check-complete');
    expect(out.image).toMatchObject({
      scanStatus: 'COMPLETE',
      severityCounts: { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, INFORMATIONAL: 0, UNDEFINED: 0 },
    });
    expect(out.findings).toEqual([]);
    expect(ecrMock.commandCalls(DescribeImageScanFindingsCommand)).toHaveLength(1);
  });

  it.each([
    ['PENDING', 'check-rescheduled', 'PENDING'],
    ['IN_PROGRESS', 'check-rescheduled', 'PENDING'],
    ['FINDINGS_UNAVAILABLE', 'check-rescheduled', 'PENDING'],
    ['SOMETHING_NEW', 'check-rescheduled', 'PENDING'],
    ['FAILED', 'check-failed', 'FAILED'],
    ['LIMIT_EXCEEDED', 'check-failed', 'FAILED'],
    ['UNSUPPORTED_IMAGE', 'check-unsupported', 'UNSUPPORTED'],
    ['SCAN_ELIGIBILITY_EXPIRED', 'check-unsupported', 'UNSUPPORTED'],
    ['IMAGE_ARCHIVED', 'check-unsupported', 'UNSUPPORTED'],
  ])('ECR scan status %s → %s (stored %s)', async (status, action, stored) => {
    const message = await pushed(`trusted/status-${status.toLowerCase()}`);
    ecrMock
      .on(DescribeImageScanFindingsCommand)
      .resolves({ imageScanStatus: { status: status as never, description: 'why' } });
    const out = await handleScanCheck(message, deps());
    expect(out.action).toBe(action);
    expect(out.image?.scanStatus).toBe(stored);
    const rules = out.findings.map((f) => f.finding.rule);
    if (action === 'check-rescheduled') {
      expect(rules).toEqual([]);
      expect(out.detail).toBe(`ECR scan status ${status}: why`);
      expect(scheduled.map((s) => s.message.attempt)).toEqual([message.attempt + 1]);
    } else {
      expect(rules).toEqual(['scan-missing']);
      expect(out.findings[0]?.finding.message).toContain(`ECR scan status ${status}: why`);
      expect(scheduled).toEqual([]);
    }
  });

  it('an unsupported image is a coverage gap at once', async () => {
    const message = await pushed('trusted/scratch');
    ecrMock.on(DescribeImageScanFindingsCommand).resolves({
      imageScanStatus: { status: 'UNSUPPORTED_IMAGE', description: 'UnsupportedImageError' },
    });
    const out = await handleScanCheck(message, deps());
    expect(out.action).toBe('check-unsupported');
    expect(out.image?.scanStatus).toBe('UNSUPPORTED');
    expect(out.findings.map((f) => f.finding.rule)).toEqual(['scan-missing']);
  });

  it('an image deleted before its scan ends the chain quietly', async () => {
    const message = await pushed('trusted/deleted');
    ecrMock
      .on(DescribeImageScanFindingsCommand)
      .rejects(Object.assign(new Error('gone'), { name: 'ImageNotFoundException' }));
    const out = await handleScanCheck(message, deps());
    expect(out).toMatchObject({ action: 'check-image-gone', findings: [] });
    expect(scheduled).toEqual([]);
  });

  it('a check for an image whose scan is stored asks no API', async () => {
    const message = await pushed('trusted/done');
    await handleInspectorEvent(scan('trusted/done', {}), deps());
    const out = await handleScanCheck(message, deps());
    expect(out.action).toBe('check-done');
    expect(ecrMock.commandCalls(DescribeImageScanFindingsCommand)).toHaveLength(0);
  });

  it('an Inspector finding the stored counts miss triggers a recount', async () => {
    await handleInspectorEvent(scan('trusted/rescan', { LOW: 1 }), deps());
    const event = {
      kind: 'inspector-finding' as const,
      eventId: 'f-1',
      time: '2025-03-02T00:00:00.000Z',
      digest: digestOf('trusted/rescan'),
      findingArn: 'arn:aws:inspector2:eu-west-1:111122223333:finding/abc',
      severity: 'CRITICAL',
      status: 'ACTIVE',
      title: 'CVE-2025-0001 - openssl',
      vulnerabilityId: 'CVE-2025-0001',
      tags: ['1.0'],
      pushedAt: null,
      firstObservedAt: '2025-03-02T00:00:00.000Z',
      lastObservedAt: '2025-03-02T00:00:00.000Z',
      updatedAt: '2025-03-02T00:00:00.000Z',
      account: ACCOUNT,
      region: REGION,
      repositoryName: 'trusted/rescan',
      repository: ecrRepositoryName(ACCOUNT, REGION, 'trusted/rescan'),
    };
    const noted = await handleInspectorEvent(event, deps());
    expect(noted.action).toBe('recount-scheduled');
    const check = scheduled.shift()?.message;
    expect(check).toMatchObject({ purpose: 'recount', imageDigest: event.digest });

    ecrMock.on(DescribeImageScanFindingsCommand).resolves({
      imageScanStatus: { status: 'ACTIVE' },
      imageScanFindings: { findingSeverityCounts: { CRITICAL: 1, LOW: 1 } },
    });
    now = new Date('2025-03-02T00:00:10Z');
    const out = await handleScanCheck(check as ScanCheckMessage, deps());
    expect(out.action).toBe('check-recounted');
    expect(out.findings.map((f) => [f.finding.rule, f.finding.severity])).toEqual([
      ['vulnerable-image', 'critical'],
    ]);

    // Once counted, the same finding again asks for nothing.
    const counted = await handleInspectorEvent({ ...event, eventId: 'f-2' }, deps());
    expect(counted.action).toBe('finding-noted');
  });
});
