import { describe, expect, it } from 'vitest';
import { fingerprint } from '../../../lambdas/core/fingerprint.ts';
import {
  backoffSeconds,
  checkDigest,
  identityImage,
  MAX_SQS_DELAY_SECONDS,
  nextScanCheck,
  parseAwsTime,
  pushCandidates,
  type RegistrySubject,
  scanCheckSchedule,
  vulnerabilityVerdict,
} from '../../../lambdas/core/registry/index.ts';
import type { Decision, ImageRecord, SeverityCounts } from '../../../lambdas/core/types.ts';

const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

describe('checkDigest', () => {
  it('accepts a real sha256 and sha512', () => {
    expect(checkDigest(DIGEST)).toEqual({ ok: true, digest: DIGEST });
    expect(checkDigest(`sha512:${'a'.repeat(128)}`).ok).toBe(true);
  });

  it.each([
    [
      'sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234',
      /\(60 hex chars, expected 64\): sample event\?/,
    ],
    ['sha256:36c7b282abd0186e01419f2e58743e1bf635808231049bbc9d77e5EXAMPLE', /ends in "EXAMPLE"/],
    [`sha256:${'A'.repeat(64)}`, /not lower-case hex/],
    [`md5:${'a'.repeat(32)}`, /does not use sha256 or sha512/],
    ['', /is missing/],
    [undefined, /is missing/],
  ])('refuses %s with a named reason', (value, reason) => {
    const check = checkDigest(value);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.reason).toMatch(reason);
  });
});

describe('parseAwsTime', () => {
  it.each([
    ['Dec 3, 2021, 6:02:30 PM', '2021-12-03T18:02:30.000Z'],
    ['Oct 16, 2019, 12:00:00 AM', '2019-10-16T00:00:00.000Z'],
    ['Jan 1, 2024, 12:00:01 PM', '2024-01-01T12:00:01.000Z'],
    ['2021-12-03T18:02:30Z', '2021-12-03T18:02:30.000Z'],
    ['2021-12-03T19:02:30+01:00', '2021-12-03T18:02:30.000Z'],
    // The Amazon Inspector user guide's sample Finding event.
    ['Wed Sep 04 16:55:38.411 UTC 2024', '2024-09-04T16:55:38.411Z'],
    ['Fri Dec 03 18:02:30 GMT 2021', '2021-12-03T18:02:30.000Z'],
    ['Fri Dec 03 18:02:30.5 UTC 2021', '2021-12-03T18:02:30.500Z'],
  ])('%s → %s', (input, iso) => {
    expect(parseAwsTime(input)).toBe(iso);
  });

  it.each([
    'Feb 30, 2021, 1:00:00 PM',
    'Dec 3, 2021, 13:02:30 PM',
    'Foo 3, 2021, 1:00:00 PM',
    'yesterday',
    // A weekday that is not the date's, another zone, a rolled-over day, an hour past 23.
    'Thu Sep 04 16:55:38.411 UTC 2024',
    'Wed Sep 04 16:55:38.411 PDT 2024',
    'Sat Feb 30 10:00:00 UTC 2021',
    'Wed Sep 04 24:00:00 UTC 2024',
    '1638554550',
  ])('refuses %s', (input) => {
    expect(parseAwsTime(input)).toBeNull();
  });

  it.each([
    [1638554550, '2021-12-03T18:02:30.000Z'],
    [1638554550123, '2021-12-03T18:02:30.123Z'],
  ])('reads epoch %d (seconds or milliseconds)', (input, iso) => {
    expect(parseAwsTime(input)).toBe(iso);
  });

  it.each([Number.NaN, -1, Number.POSITIVE_INFINITY])('refuses epoch %d', (input) => {
    expect(parseAwsTime(input)).toBeNull();
  });
});

function image(counts: Partial<SeverityCounts> | null): ImageRecord {
  return {
    repository: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/app',
    digest: DIGEST,
    registry: '111122223333.dkr.ecr.eu-west-1.amazonaws.com',
    account: '111122223333',
    region: 'eu-west-1',
    tags: ['1.0'],
    pushedAt: '2025-01-01T00:00:00.000Z',
    tagMutability: null,
    scanStatus: counts === null ? 'PENDING' : 'COMPLETE',
    severityCounts:
      counts === null
        ? null
        : { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, INFORMATIONAL: 0, UNDEFINED: 0, ...counts },
    scanCompletedAt: null,
    scanSource: null,
  };
}

describe('vulnerabilityVerdict', () => {
  it('lists counts at or above the threshold, most severe first; severity = highest present', () => {
    const v = vulnerabilityVerdict(image({ CRITICAL: 3, HIGH: 5, MEDIUM: 9, LOW: 1 }), 'high');
    expect(v).toEqual({
      rule: 'vulnerable-image',
      severity: 'critical',
      message: `digest ${DIGEST} has 3 CRITICAL, 5 HIGH`,
    });
  });

  it('severity is the highest present at or above the threshold', () => {
    expect(vulnerabilityVerdict(image({ HIGH: 2, LOW: 7 }), 'low')?.severity).toBe('high');
    expect(vulnerabilityVerdict(image({ MEDIUM: 2 }), 'medium')?.message).toBe(
      `digest ${DIGEST} has 2 MEDIUM`,
    );
  });

  it('nothing at or above the threshold: no violation', () => {
    expect(vulnerabilityVerdict(image({ HIGH: 4, MEDIUM: 1 }), 'critical')).toBeNull();
    expect(vulnerabilityVerdict(image({ INFORMATIONAL: 9, UNDEFINED: 9 }), 'low')).toBeNull();
  });

  it('unknown counts (not scanned) are not a vulnerability verdict', () => {
    expect(vulnerabilityVerdict(image(null), 'low')).toBeNull();
  });
});

describe('scan-check backoff', () => {
  it('doubles from one minute and caps at the SQS maximum delay', () => {
    expect([1, 2, 3, 4, 5, 6, 50].map(backoffSeconds)).toEqual([60, 120, 240, 480, 900, 900, 900]);
    expect(() => backoffSeconds(0)).toThrow(RangeError);
  });

  it('never runs past the deadline, and the last check lands on it', () => {
    // 30 minutes: 1, 3, 7, 15, 30 (the fifth delay is clamped to the 15 minutes left).
    expect(scanCheckSchedule(30)).toEqual([60, 180, 420, 900, 1800]);
    // 90 minutes: … then every 15 minutes up to exactly 90.
    const long = scanCheckSchedule(90);
    expect(long.at(-1)).toBe(5400);
    for (let i = 1; i < long.length; i++) {
      const gap = (long[i] as number) - (long[i - 1] as number);
      expect(gap).toBeGreaterThan(0);
      expect(gap).toBeLessThanOrEqual(MAX_SQS_DELAY_SECONDS);
    }
    expect(scanCheckSchedule(1)).toEqual([60]);
  });

  it('returns null once the deadline has passed', () => {
    expect(nextScanCheck(3, 30, 1800)).toBeNull();
    expect(nextScanCheck(3, 30, 1799)).toEqual({ attempt: 3, delaySeconds: 1 });
    expect(() => nextScanCheck(1, 0)).toThrow(RangeError);
  });
});

describe('registry finding identity', () => {
  const subject: RegistrySubject = {
    account: '111122223333',
    region: 'eu-west-1',
    repositoryName: 'team/app',
    repository: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/app',
    digest: DIGEST,
    tag: '1.0',
  };
  const denied: Decision = {
    image: `${subject.repository}:1.0@${DIGEST}`,
    allowed: false,
    reference: null,
    judged: null,
    matchedRule: null,
    violations: [{ rule: 'untrusted-source', severity: 'high', message: 'no rule allows it' }],
  };

  it('uses the registry coordinates, so findings filters work on them', () => {
    const [c] = pushCandidates(subject, denied, {
      eventId: 'ev-1',
      observedAt: '2025-01-01T00:00:00Z',
    });
    expect(c).toMatchObject({
      cluster: 'ecr:111122223333:eu-west-1',
      namespace: 'team/app',
      workload: { kind: 'EcrRepository', name: 'team/app' },
      container: 'push',
      image: `${subject.repository}:1.0@${DIGEST}`,
      repository: subject.repository,
      digest: DIGEST,
      rule: 'untrusted-source',
      source: 'ecr',
      actor: null,
      message: 'pushed to ECR: no rule allows it',
    });
    expect(c?.fingerprint).toBe(
      fingerprint({
        cluster: 'ecr:111122223333:eu-west-1',
        namespace: 'team/app',
        workload: { kind: 'EcrRepository', name: 'team/app' },
        container: 'push',
        image: subject.repository,
        rule: 'untrusted-source',
      }),
    );
  });

  it('an untrusted repository is one finding across digests and tags', () => {
    const other = { ...subject, digest: `sha256:${'f'.repeat(64)}`, tag: '2.0' };
    const a = pushCandidates(subject, denied, { eventId: 'a', observedAt: '2025-01-01T00:00:00Z' });
    const b = pushCandidates(other, denied, { eventId: 'b', observedAt: '2025-01-02T00:00:00Z' });
    expect(a[0]?.fingerprint).toBe(b[0]?.fingerprint);
  });

  it('identity granularity per rule: repository, repository:tag, or repository@digest', () => {
    const repo = subject.repository;
    expect(identityImage('untrusted-source', repo, '1.0', DIGEST)).toBe(repo);
    expect(identityImage('expired-exception', repo, '1.0', DIGEST)).toBe(repo);
    expect(identityImage('mutable-tag', repo, 'latest', DIGEST)).toBe(`${repo}:latest`);
    expect(identityImage('vulnerable-image', repo, '1.0', DIGEST)).toBe(`${repo}@${DIGEST}`);
    expect(identityImage('scan-missing', repo, null, DIGEST)).toBe(`${repo}@${DIGEST}`);
  });

  it('an allowed push yields nothing', () => {
    expect(
      pushCandidates(
        subject,
        { ...denied, allowed: true, violations: [] },
        { eventId: 'x', observedAt: '2025-01-01T00:00:00Z' },
      ),
    ).toEqual([]);
  });
});
