/**
 * The template's wiring against real shapes: each EventBridge rule's pattern against the AWS
 * sample events (it matches what its function handles, and not what it must not), the
 * subscription filter against real EKS audit lines (no line the evaluation would judge is
 * dropped), and the alerts stream's filter criteria against stream records of each transition.
 * The pattern evaluator is first checked on the examples the EventBridge documentation gives
 * for each operator ("Content filtering in Amazon EventBridge event patterns").
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { marshall } from '@aws-sdk/util-dynamodb';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { interpretAuditEvent } from '../../lambdas/core/audit/interpret.ts';
import { readConfig } from '../../lib/config.ts';
import { RegwatchStack } from '../../lib/regwatch-stack.ts';
import { SHARED_FIXTURES } from '../helpers/fixtures.ts';
import { matchesLogsFilter } from '../helpers/logs-filter.ts';
import type { CfnTemplate } from '../helpers/template.ts';
import { matchesPattern } from './harness/event-pattern.ts';
import { FULL_CONTEXT } from './harness/stack.ts';

type Json = Parameters<typeof matchesPattern>[0];

describe('the pattern evaluator, on the documented examples', () => {
  const ec2 = {
    source: 'aws.ec2',
    'detail-type': 'EC2 Instance State-change Notification',
    time: '2017-10-02T18:43:48Z',
    region: 'us-west-1',
    resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
    detail: {
      'instance-id': 'i-1234567890abcdef0',
      state: 'terminated',
      'c-count': 5,
      'd-count': 12,
    },
  };

  it.each([
    ['exact value', { source: ['aws.ec2'] }, true],
    ['exact value, other', { source: ['aws.s3'] }, false],
    ['any of a list', { detail: { state: ['stopped', 'terminated'] } }, true],
    ['prefix', { time: [{ prefix: '2017-10-02' }] }, true],
    ['prefix, other', { time: [{ prefix: '2018' }] }, false],
    ['suffix', { region: [{ suffix: '-1' }] }, true],
    ['equals-ignore-case', { detail: { state: [{ 'equals-ignore-case': 'TERMINATED' }] } }, true],
    ['wildcard', { resources: [{ wildcard: 'arn:aws:ec2:*:instance/*' }] }, true],
    ['anything-but a value', { detail: { state: [{ 'anything-but': 'initializing' }] } }, true],
    [
      'anything-but a list',
      { detail: { state: [{ 'anything-but': ['stopped', 'terminated'] }] } },
      false,
    ],
    [
      'anything-but a prefix',
      { detail: { state: [{ 'anything-but': { prefix: 'term' } }] } },
      false,
    ],
    ['numeric range', { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] } }, true],
    ['numeric range, out', { detail: { 'c-count': [{ numeric: ['>', 5] }] } }, false],
    ['exists', { detail: { state: [{ exists: true }] } }, true],
    ['exists false', { detail: { 'no-such-field': [{ exists: false }] } }, true],
    ['exists, absent', { detail: { 'no-such-field': [{ exists: true }] } }, false],
    [
      'an array element matches',
      { resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'] },
      true,
    ],
    [
      '$or',
      {
        detail: {
          $or: [{ 'c-count': [{ numeric: ['>', 10] }] }, { 'd-count': [{ numeric: ['>', 10] }] }],
        },
      },
      true,
    ],
    [
      '$or, neither',
      {
        detail: {
          $or: [{ 'c-count': [{ numeric: ['>', 10] }] }, { 'd-count': [{ numeric: ['>', 20] }] }],
        },
      },
      false,
    ],
    ['all fields must match', { source: ['aws.ec2'], detail: { state: ['running'] } }, false],
    ['an object in an array', { list: { type: ['b'] } }, false],
  ])('%s', (_, pattern, expected) => {
    expect(matchesPattern(pattern as Json, ec2 as Json)).toBe(expected);
  });

  it('matches objects inside arrays (Inspector resources)', () => {
    const event = {
      detail: { resources: [{ type: 'AWS_EC2_INSTANCE' }, { type: 'AWS_ECR_CONTAINER_IMAGE' }] },
    };
    expect(
      matchesPattern({ detail: { resources: { type: ['AWS_ECR_CONTAINER_IMAGE'] } } }, event),
    ).toBe(true);
    expect(
      matchesPattern({ detail: { resources: { type: ['AWS_LAMBDA_FUNCTION'] } } }, event),
    ).toBe(false);
  });

  it('refuses operators it does not know', () => {
    expect(() =>
      matchesPattern({ source: [{ cidr: '10.0.0.0/24' }] }, { source: '10.0.0.1' }),
    ).toThrow(/unsupported matcher/);
  });
});

const app = new App({ context: { ...FULL_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
const template = Template.fromStack(
  new RegwatchStack(app, 'regwatch', { config: readConfig(app) }),
).toJSON() as CfnTemplate;

/** Each rule's pattern, by the id of the queue it targets. */
function rules(): { id: string; target: string; pattern: Json }[] {
  return (
    Object.entries(template.Resources)
      // Schedule rules (the reconciler's) have no pattern: no event ever matches them.
      .filter(([, r]) => r.Type === 'AWS::Events::Rule' && r.Properties?.EventPattern !== undefined)
      .map(([id, r]) => {
        const targets = r.Properties?.Targets as { Arn: { 'Fn::GetAtt': [string, string] } }[];
        return {
          id,
          target: targets[0]?.Arn['Fn::GetAtt'][0] ?? '',
          pattern: r.Properties?.EventPattern as Json,
        };
      })
  );
}

const QUEUES = ['PodEventsQueue', 'EcrPushQueue', 'ScanCheckQueue'];

/** Which queues an event would land in. */
function queuesFor(event: Json): string[] {
  return rules()
    .filter((rule) => matchesPattern(rule.pattern, event))
    .map((rule) => QUEUES.find((q) => rule.target.startsWith(q)) ?? rule.target)
    .sort();
}

const EB = path.join(SHARED_FIXTURES, 'eventbridge');
const OURS = path.join(import.meta.dirname, '../fixtures/eventbridge');
const readEvent = (dir: string, file: string) =>
  JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Json;

describe('EventBridge rules against the AWS samples', () => {
  const expected: Record<string, string[]> = {
    'ecr-image-action-push-success.awsdocs.json': ['EcrPushQueue'],
    'ecr-image-action-push-success.aws-lambda-go.json': ['EcrPushQueue'],
    'ecr-image-action-delete-success.awsdocs.json': [],
    'ecr-image-scan-basic-complete.awsdocs.json': ['ScanCheckQueue'],
    'ecr-image-scan-basic-complete.aws-lambda-go.json': ['ScanCheckQueue'],
    'ecr-scan-resource-change.awsdocs.json': [],
    'ecr-scan-resource-change.enhanced-page.awsdocs.json': [],
    'inspector2-scan-initial-scan-complete.awsdocs.json': ['ScanCheckQueue'],
    'inspector2-finding-ecr-package-vulnerability.awsdocs.json': ['ScanCheckQueue'],
  };

  it('covers every vendored sample', () => {
    const files = readdirSync(EB).filter((f) => f.endsWith('.json') && f !== 'INDEX.json');
    expect(files.sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected))('%s → %j', (file, queues) => {
    expect(queuesFor(readEvent(EB, file))).toEqual(queues);
  });

  it.each([
    ['inspector2-finding-ecr-userguide-time.json', ['ScanCheckQueue']],
    ['inspector2-finding-ec2.json', []],
    ['inspector2-finding-lambda.json', []],
    ['inspector2-scan-ec2.json', []],
  ])('%s → %j', (file, queues) => {
    expect(queuesFor(readEvent(OURS, file))).toEqual(queues);
  });

  it('routes a forwarder pod event on the regwatch bus to the pod-events queue only', () => {
    const event = {
      version: '0',
      id: 'eb-1',
      source: 'regwatch.forwarder',
      'detail-type': 'Pod Event',
      account: '444455556666',
      region: 'eu-west-1',
      time: '2026-12-01T09:00:00Z',
      resources: [],
      detail: { cluster: 'c', observedAt: '2026-12-01T09:00:00Z', reason: 'added', pod: {} },
    };
    expect(queuesFor(event)).toEqual(['PodEventsQueue']);
    expect(queuesFor({ ...event, source: 'someone.else' })).toEqual([]);
  });
});

describe('the EKS audit subscription filter against real audit lines', () => {
  const filters = Object.values(template.Resources).filter(
    (r) => r.Type === 'AWS::Logs::SubscriptionFilter',
  );
  const pattern = String(filters[0]?.Properties?.FilterPattern);
  const files = [
    'audit-events/constructed/eks-audit-events.jsonl',
    'audit-events/audit2rbac-demo.log.jsonl',
  ];
  const lines = files.flatMap((file) =>
    readFileSync(path.join(SHARED_FIXTURES, file), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  );

  it('passes every line the evaluation judges, and drops some of the others', () => {
    // Act
    const judged = lines.filter(
      (event) => interpretAuditEvent(event, { cluster: 'c' }).kind === 'observation',
    );
    const passed = lines.filter((event) => matchesLogsFilter(pattern, event));

    // Assess: no line that could make a finding is filtered out
    expect(filters.length).toBeGreaterThan(0);
    expect(judged.length).toBeGreaterThan(0);
    expect(judged.filter((event) => !matchesLogsFilter(pattern, event))).toEqual([]);
    expect(passed.length).toBeLessThan(lines.length);
  });
});

describe('the alerts stream filter against stream records', () => {
  const mapping = Object.values(template.Resources).find(
    (r) =>
      r.Type === 'AWS::Lambda::EventSourceMapping' &&
      // The findings table's stream (the allowlist table's feeds the reconciler, unfiltered).
      JSON.stringify(r.Properties?.EventSourceArn).includes('StreamArn') &&
      JSON.stringify(r.Properties?.EventSourceArn).includes('TablesFindings'),
  );
  const filterCriteria = mapping?.Properties?.FilterCriteria as
    | { Filters: { Pattern: string }[] }
    | undefined;
  const criteria = (filterCriteria?.Filters ?? []).map((f) => JSON.parse(f.Pattern) as Json);
  const passes = (record: Json) => criteria.some((pattern) => matchesPattern(pattern, record));

  const finding = (status: string) => ({
    fingerprint: 'f'.repeat(64),
    id: 'abc',
    status,
    severity: 'high',
    rule: 'untrusted-source',
  });
  const record = (eventName: string, next?: object, previous?: object) =>
    ({
      eventID: '1',
      eventName,
      eventSource: 'aws:dynamodb',
      dynamodb: {
        Keys: marshall({ fingerprint: 'f'.repeat(64) }),
        ...(next ? { NewImage: marshall(next) } : {}),
        ...(previous ? { OldImage: marshall(previous) } : {}),
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    }) as unknown as Json;

  it.each([
    ['a finding inserted as OPEN (new)', record('INSERT', finding('OPEN')), true],
    ['RESOLVED → OPEN (reopened)', record('MODIFY', finding('OPEN'), finding('RESOLVED')), true],
    [
      'SUPPRESSED → OPEN (reopened)',
      record('MODIFY', finding('OPEN'), finding('SUPPRESSED')),
      true,
    ],
    ['OPEN → OPEN (a repeat sighting)', record('MODIFY', finding('OPEN'), finding('OPEN')), false],
    ['OPEN → RESOLVED', record('MODIFY', finding('RESOLVED'), finding('OPEN')), false],
    [
      'an alert mark (no status)',
      record('INSERT', { fingerprint: 'alerted#f#new#t', attempts: 1 }),
      false,
    ],
    ['a TTL removal', record('REMOVE', undefined, finding('OPEN')), false],
    [
      'an expiry warning inserted (issue 11)',
      record('INSERT', { fingerprint: 'expiry-warning#r@t', kind: 'regwatch.expiry-warning' }),
      true,
    ],
    [
      'an expiry warning rewritten',
      record(
        'MODIFY',
        { fingerprint: 'expiry-warning#r@t', kind: 'regwatch.expiry-warning' },
        { fingerprint: 'expiry-warning#r@t', kind: 'regwatch.expiry-warning' },
      ),
      false,
    ],
  ])('%s → %s', (_, event, expected) => {
    expect(criteria.length).toBe(3);
    expect(passes(event)).toBe(expected);
  });
});
