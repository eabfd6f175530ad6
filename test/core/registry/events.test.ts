import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ecrRepository } from '../../../lambdas/adapters/dynamodb/images.ts';
import {
  ecrRepositoryName,
  type ParseOutcome,
  parseRegistryEvent,
} from '../../../lambdas/core/registry/index.ts';
import { SHARED_FIXTURES } from '../../helpers/fixtures.ts';

const FIXTURES = path.join(SHARED_FIXTURES, 'eventbridge');
const REAL_DIGEST = `sha256:${'ab'.repeat(32)}`;

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8'));
}

/** A fixture with every sample digest (60 hex, or ending in EXAMPLE) replaced by a real one. */
function repaired(name: string): unknown {
  const text = readFileSync(path.join(FIXTURES, name), 'utf8').replace(
    /sha256:[0-9a-fA-Z]{50,70}/g,
    REAL_DIGEST,
  );
  return JSON.parse(text);
}

function ok(outcome: ParseOutcome) {
  if (outcome.status !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(outcome)}`);
  return outcome.event;
}

describe('AWS sample events, as published', () => {
  // Prepare: what each published sample yields, including the traps.
  const expected: Record<string, { status: ParseOutcome['status']; reason?: RegExp }> = {
    'ecr-image-action-push-success.awsdocs.json': {
      status: 'rejected',
      reason: /image-digest is not a valid sha256 \(60 hex chars, expected 64\): sample event\?/,
    },
    'ecr-image-action-push-success.aws-lambda-go.json': {
      status: 'rejected',
      reason: /not a valid sha256 \(60 hex chars/,
    },
    'ecr-image-action-delete-success.awsdocs.json': {
      status: 'ignored',
      reason: /DELETE\/SUCCESS: only successful pushes are judged/,
    },
    'ecr-image-scan-basic-complete.awsdocs.json': {
      status: 'rejected',
      reason: /not a valid sha256 \(60 hex chars/,
    },
    'ecr-image-scan-basic-complete.aws-lambda-go.json': { status: 'ok' },
    'ecr-scan-resource-change.awsdocs.json': {
      status: 'ignored',
      reason: /ECR Scan Resource Change: not an event of the registry path/,
    },
    'ecr-scan-resource-change.enhanced-page.awsdocs.json': {
      status: 'ignored',
      reason: /not an event of the registry path/,
    },
    'inspector2-scan-initial-scan-complete.awsdocs.json': {
      status: 'rejected',
      reason: /image-digest sha256:36c7.*EXAMPLE ends in "EXAMPLE": an AWS documentation sample/,
    },
    'inspector2-finding-ecr-package-vulnerability.awsdocs.json': {
      status: 'rejected',
      reason: /imageHash .* ends in "EXAMPLE"/,
    },
  };

  it('covers every fixture in the folder', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json') && f !== 'INDEX.json');
    expect(files.sort()).toEqual(Object.keys(expected).sort());
  });

  for (const [file, want] of Object.entries(expected)) {
    it(`${file} → ${want.status}`, () => {
      // Act
      const outcome = parseRegistryEvent(fixture(file));
      // Assess
      expect(outcome.status).toBe(want.status);
      if (outcome.status !== 'ok' && want.reason) expect(outcome.reason).toMatch(want.reason);
      if (outcome.status !== 'ok') expect(outcome.eventId).toBe(fixture(file).id);
    });
  }

  it('reads the aws-lambda-go basic scan: all six severities, tags, region', () => {
    const event = ok(
      parseRegistryEvent(fixture('ecr-image-scan-basic-complete.aws-lambda-go.json')),
    );
    expect(event).toMatchObject({
      kind: 'scan',
      scanner: 'ecr-basic',
      status: 'COMPLETE',
      account: '123456789012',
      region: 'eu-north-1',
      repositoryName: 'tribble-image-scan-test',
      repository: '123456789012.dkr.ecr.eu-north-1.amazonaws.com/tribble-image-scan-test',
      digest: 'sha256:d4a96ee9443e641fc100e763a0c10928720b50c6e3ea3342d05d7c3435fc5355',
      tags: ['1572471135'],
      counts: { CRITICAL: 10, HIGH: 2, MEDIUM: 9, LOW: 3, INFORMATIONAL: 0, UNDEFINED: 0 },
      reportedTotal: null,
      time: '2019-10-30T21:32:27.000Z',
    });
  });
});

describe('AWS samples with a real digest put in', () => {
  it('ECR push: repository, tag, time', () => {
    const event = ok(parseRegistryEvent(repaired('ecr-image-action-push-success.awsdocs.json')));
    expect(event).toEqual({
      kind: 'ecr-push',
      eventId: '13cde686-328b-6117-af20-0e5566167482',
      time: '2019-11-16T01:54:34.000Z',
      digest: REAL_DIGEST,
      tag: 'latest',
      account: '123456789012',
      region: 'us-west-2',
      repositoryName: 'my-repository-name',
      repository: '123456789012.dkr.ecr.us-west-2.amazonaws.com/my-repository-name',
    });
  });

  it('ECR basic scan: absent severities count 0, empty tag list kept', () => {
    const event = ok(parseRegistryEvent(repaired('ecr-image-scan-basic-complete.awsdocs.json')));
    expect(event).toMatchObject({
      kind: 'scan',
      tags: [],
      counts: { CRITICAL: 10, HIGH: 0, MEDIUM: 9, LOW: 0, INFORMATIONAL: 0, UNDEFINED: 0 },
    });
  });

  it('Inspector2 Scan: repository ARN split into account/region/name; TOTAL kept apart', () => {
    const event = ok(
      parseRegistryEvent(repaired('inspector2-scan-initial-scan-complete.awsdocs.json')),
    );
    expect(event).toMatchObject({
      kind: 'scan',
      scanner: 'inspector2',
      rawStatus: 'INITIAL_SCAN_COMPLETE',
      status: 'COMPLETE',
      account: '123456789012',
      region: 'us-east-2',
      repositoryName: 'amazon/amazon-ecs-sample',
      repository: '123456789012.dkr.ecr.us-east-2.amazonaws.com/amazon/amazon-ecs-sample',
      tags: ['latest'],
      counts: { CRITICAL: 7, HIGH: 61, MEDIUM: 62, LOW: 0, INFORMATIONAL: 0, UNDEFINED: 0 },
      // 158, not 7 + 61 + 62: TOTAL counts severities the event does not list.
      reportedTotal: 158,
    });
  });

  it('Inspector2 Finding: human timestamps to UTC ISO, repository with a slash, registry = account', () => {
    const event = ok(
      parseRegistryEvent(repaired('inspector2-finding-ecr-package-vulnerability.awsdocs.json')),
    );
    expect(event).toMatchObject({
      kind: 'inspector-finding',
      severity: 'MEDIUM',
      status: 'ACTIVE',
      vulnerabilityId: 'CVE-2019-17498',
      title: 'CVE-2019-17498 - libssh2',
      repositoryName: 'amazon/amazon-ecs-sample',
      account: '123456789012',
      region: 'us-east-2',
      tags: ['latest'],
      firstObservedAt: '2021-12-03T18:02:30.000Z',
      lastObservedAt: '2021-12-03T18:02:30.000Z',
      updatedAt: '2021-12-03T18:02:30.000Z',
      pushedAt: '2021-12-03T18:02:13.000Z',
    });
    // The envelope's own time agrees with reading the detail times as UTC.
    expect(event.time).toBe('2021-12-03T18:02:30.000Z');
  });
});

describe('shape problems are invalid (kept for a retry after a fix), never thrown', () => {
  it.each([
    ['not an object', 'hello'],
    ['null', null],
    ['no detail', { ...fixture('ecr-image-action-push-success.awsdocs.json'), detail: undefined }],
    ['bad account', { ...fixture('ecr-image-action-push-success.awsdocs.json'), account: 'x' }],
  ])('%s', (_name, input) => {
    const outcome = parseRegistryEvent(input);
    expect(outcome.status).toBe('invalid');
  });

  it('names the missing field of a push', () => {
    const event = repaired('ecr-image-action-push-success.awsdocs.json') as {
      detail: Record<string, unknown>;
    };
    delete event.detail['repository-name'];
    const outcome = parseRegistryEvent(event);
    expect(outcome).toMatchObject({ status: 'invalid' });
    expect(outcome.status !== 'ok' && outcome.reason).toMatch(/repository-name/);
  });

  it('an unknown time format in an Inspector finding is invalid, with the value', () => {
    const event = repaired('inspector2-finding-ecr-package-vulnerability.awsdocs.json') as {
      detail: Record<string, unknown>;
    };
    event.detail.updatedAt = '3rd of December';
    const outcome = parseRegistryEvent(event);
    expect(outcome.status).toBe('invalid');
    expect(outcome.status !== 'ok' && outcome.reason).toMatch(/updatedAt "3rd of December"/);
  });

  it('an unknown severity key is invalid rather than silently dropped', () => {
    const event = repaired('ecr-image-scan-basic-complete.awsdocs.json') as {
      detail: Record<string, unknown>;
    };
    event.detail['finding-severity-counts'] = { CRITICAL: 1, SEVERE: 2 };
    const outcome = parseRegistryEvent(event);
    expect(outcome.status !== 'ok' && outcome.reason).toMatch(/unknown severity "SEVERE"/);
  });

  it('a push by digest only has no tag', () => {
    const event = repaired('ecr-image-action-push-success.awsdocs.json') as {
      detail: Record<string, unknown>;
    };
    delete event.detail['image-tag'];
    expect(ok(parseRegistryEvent(event))).toMatchObject({ kind: 'ecr-push', tag: null });
  });

  it('a failed basic scan has no counts', () => {
    const event = repaired('ecr-image-scan-basic-complete.awsdocs.json') as {
      detail: Record<string, unknown>;
    };
    event.detail['scan-status'] = 'FAILED';
    expect(ok(parseRegistryEvent(event))).toMatchObject({ status: 'FAILED', counts: null });
  });
});

describe('repository names', () => {
  it('agree with the Images table adapter, including China regions', () => {
    for (const region of ['eu-west-1', 'cn-north-1']) {
      expect(ecrRepositoryName('123456789012', region, 'team/app')).toBe(
        ecrRepository('123456789012', region, 'team/app'),
      );
    }
  });
});

describe('Inspector2 events beside the ECR ones (constructed after the user guide)', () => {
  const local = (name: string) =>
    JSON.parse(
      readFileSync(path.join(import.meta.dirname, '../../fixtures/eventbridge', name), 'utf8'),
    ) as unknown;

  it('reads a finding whose times are in the user guide format', () => {
    // Act
    const event = ok(parseRegistryEvent(local('inspector2-finding-ecr-userguide-time.json')));

    // Assess
    expect(event).toMatchObject({
      kind: 'inspector-finding',
      firstObservedAt: '2024-09-04T16:55:38.411Z',
      updatedAt: '2024-09-04T16:55:38.411Z',
      pushedAt: '2024-09-04T16:50:02.000Z',
      repositoryName: 'team/api',
    });
  });

  it('names the field, the value and the accepted formats for a time in no documented format', () => {
    // Prepare
    const event = local('inspector2-finding-ecr-userguide-time.json') as {
      detail: Record<string, unknown>;
    };
    event.detail.updatedAt = '04/09/2024 16:55';

    // Act
    const outcome = parseRegistryEvent(event);

    // Assess
    expect(outcome.status).toBe('invalid');
    expect(outcome.status !== 'ok' && outcome.reason).toMatch(
      /updatedAt "04\/09\/2024 16:55" is not a time \(expected ISO-8601, .*Wed Sep 04 16:55:38\.411 UTC 2024.*epoch/,
    );
  });

  it.each([
    ['inspector2-finding-ec2.json', /not about an ECR container image \(AWS_EC2_INSTANCE\)/],
    ['inspector2-finding-lambda.json', /not about an ECR container image \(AWS_LAMBDA_FUNCTION\)/],
    [
      'inspector2-scan-ec2.json',
      /Inspector2 Scan: not about an ECR container image \(instance-id\)/,
    ],
  ])('acknowledges %s as ignored, not invalid', (file, reason) => {
    // Act
    const outcome = parseRegistryEvent(local(file));

    // Assess
    expect(outcome.status).toBe('ignored');
    expect(outcome.status !== 'ok' && outcome.reason).toMatch(reason);
  });
});
