/**
 * Defects found by reviewing the synthesized template (issue 9 §1), one test each: alarms that
 * could never publish, acknowledgements that broke with a pinned environment, fixed physical
 * names of retained resources, unbounded concurrency.
 */
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { readConfig } from '../../lib/config.ts';
import { attachNagPacks } from '../../lib/nag.ts';
import { RegwatchStack } from '../../lib/regwatch-stack.ts';

type Resources = Record<
  string,
  { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string }
>;

const FULL_CONTEXT = {
  'regwatch:clusters': ['orion-prod-euc1'],
  'regwatch:auditWebhook': true,
  'regwatch:slackWebhookSecretName': 'regwatch/slack-webhook',
  'regwatch:alertEmails': ['sec@example.com'],
};

function synth(context: Record<string, unknown>, stackNames = ['regwatch']) {
  // No bundling: these tests read the template only (test/deploy runs the bundles).
  const app = new App({ context: { ...context, 'aws:cdk:bundling-stacks': [] } });
  const config = readConfig(app);
  const env =
    config.account || config.region ? { account: config.account, region: config.region } : {};
  const stacks = stackNames.map((name) => new RegwatchStack(app, name, { config, env }));
  attachNagPacks(app);
  // Synthesis runs cdk-nag: it throws on any unacknowledged finding.
  return stacks.map((stack) => Template.fromStack(stack));
}

describe('the alerts topic', () => {
  it('lets CloudWatch alarms of this account publish, and still refuses plain HTTP', () => {
    // Act
    const [template] = synth({});

    // Assess: one topic policy holding both statements
    const policies = Object.values(
      template?.findResources('AWS::SNS::TopicPolicy') as Resources,
    ).flatMap(
      (p) => (p.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement,
    );
    expect(policies).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Condition: expect.objectContaining({
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        }),
      }),
    );
    expect(policies).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
    // The key still lets CloudWatch encrypt what it publishes.
    template?.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'CloudWatchAlarmsPublish',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
          }),
        ]),
      },
    });
  });
});

describe('a pinned environment', () => {
  it('synthesizes with every option and cdk-nag passes, as without one', () => {
    // Act / Assess: neither throws (an acknowledgement written with tokens would not match)
    expect(() =>
      synth({
        ...FULL_CONTEXT,
        'regwatch:region': 'eu-west-1',
        'regwatch:account': '123456789012',
      }),
    ).not.toThrow();
    expect(() => synth(FULL_CONTEXT)).not.toThrow();
  });
});

/** Properties that are a resource's physical name, unique per account and region. */
const PHYSICAL_NAMES = [
  'FunctionName',
  'TopicName',
  'QueueName',
  'Name',
  'TableName',
  'LogGroupName',
  'AlarmName',
  'RoleName',
  'SecretName',
];

const SCOPED_NAMES = ['AWS::Logs::SubscriptionFilter', 'AWS::ApiGatewayV2::Authorizer'];

describe('redeploying after a destroy', () => {
  /** Properties that fix a resource's physical name. */
  const NAME_PROPERTIES = ['TableName', 'LogGroupName', 'Name', 'AliasName', 'KeyAlias'];

  it('leaves every retained resource and the webhook secret without a fixed name', () => {
    // Prepare
    const [template] = synth(FULL_CONTEXT);
    const resources = template?.toJSON().Resources as Resources;

    // Act
    const named = Object.entries(resources)
      .filter(([, r]) => r.DeletionPolicy === 'Retain' || r.Type === 'AWS::SecretsManager::Secret')
      .flatMap(([id, r]) =>
        NAME_PROPERTIES.filter((p) => r.Properties?.[p] !== undefined).map((p) => `${id}.${p}`),
      );

    // Assess
    expect(named).toEqual([]);
    // The log groups the functions write to are the stack's own.
    template?.allResourcesProperties('AWS::Lambda::Function', {
      LoggingConfig: Match.objectLike({ LogGroup: { Ref: Match.stringLikeRegexp('Logs') } }),
    });
  });

  it('lets two stacks live in one account and region', () => {
    // Act: two stacks from one app, each with every option
    const templates = synth(FULL_CONTEXT, ['regwatch', 'regwatch-second']);

    // Assess: no literal physical name is shared between them
    const names = templates.map((t) => {
      const out = new Set<string>();
      for (const r of Object.values(t.toJSON().Resources as Resources)) {
        // Names scoped to their parent (a log group's filter, an API's authorizer) may repeat.
        if (SCOPED_NAMES.includes(r.Type)) continue;
        for (const [key, value] of Object.entries(r.Properties ?? {})) {
          if (PHYSICAL_NAMES.includes(key) && typeof value === 'string') {
            out.add(`${r.Type}.${key}=${value}`);
          }
        }
      }
      return out;
    });
    const shared = [...(names[0] ?? [])].filter((n) => names[1]?.has(n));
    expect(shared).toEqual([]);
  });
});

describe('concurrency bounds', () => {
  it('bounds every SQS event source at 5 by default, and as configured', () => {
    // Act
    const [defaults] = synth(FULL_CONTEXT);
    const [configured] = synth({
      ...FULL_CONTEXT,
      'regwatch:queueConcurrency': 12,
      'regwatch:reservedConcurrency': { 'eks-audit-logs': 10, 'audit-webhook': 20 },
    });

    // Assess
    const sqsMappings = (t: Template) =>
      Object.values(t.findResources('AWS::Lambda::EventSourceMapping') as Resources).filter(
        (m) => !JSON.stringify(m.Properties.EventSourceArn).includes('StreamArn'),
      );
    expect(sqsMappings(defaults as Template)).toHaveLength(4);
    for (const m of sqsMappings(defaults as Template)) {
      expect(m.Properties.ScalingConfig).toEqual({ MaximumConcurrency: 5 });
    }
    for (const m of sqsMappings(configured as Template)) {
      expect(m.Properties.ScalingConfig).toEqual({ MaximumConcurrency: 12 });
    }
    const reserved = (t: Template) =>
      Object.fromEntries(
        Object.values(t.findResources('AWS::Lambda::Function') as Resources)
          .filter((f) => f.Properties.ReservedConcurrentExecutions !== undefined)
          .map((f) => [f.Properties.FunctionName, f.Properties.ReservedConcurrentExecutions]),
      );
    expect(reserved(defaults as Template)).toEqual({});
    expect(reserved(configured as Template)).toEqual({
      'regwatch-eks-audit-logs': 10,
      'regwatch-audit-webhook': 20,
    });
  });
});

describe('the reconciler (issue 11)', () => {
  const env = (t: Template) => {
    const fns = Object.values(t.findResources('AWS::Lambda::Function') as Resources);
    const fn = fns.find((f) => f.Properties.FunctionName === 'regwatch-reconcile');
    if (!fn) throw new Error('no reconcile function');
    return (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
  };

  it('reads the allowlist stream with bisection, retries and the DLQ as on-failure destination', () => {
    const [template] = synth(FULL_CONTEXT) as [Template];
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^TablesAllowlist'), 'StreamArn'] },
      FunctionName: { Ref: Match.stringLikeRegexp('^Reconcile') },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 3,
      ParallelizationFactor: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: {
        OnFailure: {
          Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ReconcileDlq'), 'Arn'] },
        },
      },
    });
  });

  it('fans out through its own queue: one message per invocation, bounded, KMS, DLQ and alarms', () => {
    const [template] = synth(FULL_CONTEXT) as [Template];
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ReconcileQueue(?!Dlq)'), 'Arn'] },
      FunctionName: { Ref: Match.stringLikeRegexp('^Reconcile') },
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^TablesKey'), 'Arn'] },
      RedrivePolicy: Match.objectLike({
        deadLetterTargetArn: {
          'Fn::GetAtt': [Match.stringLikeRegexp('^ReconcileQueueDlq'), 'Arn'],
        },
      }),
    });
    // TLS only, on the queue and its DLQ.
    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy') as Resources);
    const tlsOnly = policies.filter(
      (p) =>
        JSON.stringify(p.Properties.Queues).includes('ReconcileQueue') &&
        JSON.stringify(p.Properties.PolicyDocument).includes('aws:SecureTransport'),
    );
    expect(tlsOnly).toHaveLength(2);
    const alarmNames = Object.values(
      template.findResources('AWS::CloudWatch::Alarm') as Resources,
    ).map((a) => a.Properties.AlarmName);
    expect(alarmNames).toEqual(
      expect.arrayContaining([
        'regwatch-reconcile-dlq-depth',
        'regwatch-reconcile-queue-dlq-depth',
        'regwatch-reconcile-errors',
      ]),
    );
    expect(env(template).RECONCILE_QUEUE_URL).toEqual({
      Ref: expect.stringMatching(/^ReconcileQueue(?!Dlq)/),
    });
  });

  it('gives the function regwatch:exceptionWarningDays (default 7)', () => {
    const [defaults] = synth(FULL_CONTEXT) as [Template];
    const [configured] = synth({ ...FULL_CONTEXT, 'regwatch:exceptionWarningDays': '3' }) as [
      Template,
    ];
    expect(env(defaults)).toMatchObject({ EXCEPTION_WARNING_DAYS: '7' });
    expect(env(configured).EXCEPTION_WARNING_DAYS).toBe('3');
  });
});
