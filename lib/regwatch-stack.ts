import { CfnOutput, Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as logsDestinations from 'aws-cdk-lib/aws-logs-destinations';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { FINDINGS_INDEX, INVENTORY_INDEX } from '../lambdas/adapters/dynamodb/schema.ts';
import { EXPIRY_WARNING_KIND } from '../lambdas/core/alerts/expiry-warning.ts';
import type { FunctionEnvironment } from '../lambdas/handlers/compose/config.ts';
import type { RegwatchConfig } from './config.ts';
import { RegwatchAlarms } from './constructs/alarms.ts';
import { AlertsTopic } from './constructs/alerts-topic.ts';
import { AuditWebhookApi } from './constructs/audit-webhook-api.ts';
import {
  FORWARDER_SOURCE,
  POD_EVENT_DETAIL_TYPE,
  RegwatchEventBus,
} from './constructs/event-bus.ts';
import {
  type AnyRegwatchFunctionProps,
  type HandlerName,
  RegwatchFunction,
} from './constructs/handler-function.ts';
import { deadLetterQueue, WorkQueue } from './constructs/queues.ts';
import { type RegwatchTable, RegwatchTables } from './constructs/tables.ts';
import { buildAuditFilterPattern, eksClusterLogGroupName } from './eks-audit-filter.ts';
import { nagResourceFinding } from './nag.ts';

/** The stack outputs the CLI's `--stack` reads. */
import { OUTPUT_KEYS } from './outputs.ts';

export { OUTPUT_KEYS };

/** How long a compiled allowlist is reused before the table is read again. */
export const ALLOWLIST_CACHE_TTL_SECONDS = 60;

/** Event patterns, exported so tests assert exactly what is deployed. */
export const EVENT_PATTERNS = {
  podEvents: { source: [FORWARDER_SOURCE], detailType: [POD_EVENT_DETAIL_TYPE] },
  ecrPush: {
    source: ['aws.ecr'],
    detailType: ['ECR Image Action'],
    detail: { 'action-type': ['PUSH'], result: ['SUCCESS'] },
  },
  /**
   * Inspector2 also scans EC2 instances and Lambda functions: only ECR images pass. A scan
   * names its repository (`repository-name`, an ECR repository ARN); a finding lists its
   * resources, of which one must be an ECR image.
   */
  inspectorScan: {
    source: ['aws.inspector2'],
    detailType: ['Inspector2 Scan'],
    detail: { 'repository-name': [{ prefix: 'arn:' }] },
  },
  inspectorFinding: {
    source: ['aws.inspector2'],
    detailType: ['Inspector2 Finding'],
    detail: { resources: { type: ['AWS_ECR_CONTAINER_IMAGE'] } },
  },
  /** ECR basic scanning results (enhanced scanning reports through Inspector2). */
  ecrScan: { source: ['aws.ecr'], detailType: ['ECR Image Scan'] },
} as const satisfies Record<string, events.EventPattern>;

/**
 * The findings-stream filters that decide what alerts: a finding inserted as OPEN (new), a
 * finding going from RESOLVED / SUPPRESSED back to OPEN (reopened), and an expiry warning
 * inserted by the reconciler. Repeats, acknowledgements and the alerts function's own
 * bookkeeping writes change no status, carry no `kind`, and never match.
 */
export const ALERT_STREAM_FILTERS = [
  lambda.FilterCriteria.filter({
    eventName: lambda.FilterRule.isEqual('INSERT'),
    dynamodb: { NewImage: { status: { S: lambda.FilterRule.isEqual('OPEN') } } },
  }),
  lambda.FilterCriteria.filter({
    eventName: lambda.FilterRule.isEqual('MODIFY'),
    dynamodb: {
      OldImage: { status: { S: lambda.FilterRule.or('RESOLVED', 'SUPPRESSED') } },
      NewImage: { status: { S: lambda.FilterRule.isEqual('OPEN') } },
    },
  }),
  // An expiry warning the reconciler wrote (issue 11): one INSERT per rule and expiry instant.
  lambda.FilterCriteria.filter({
    eventName: lambda.FilterRule.isEqual('INSERT'),
    dynamodb: { NewImage: { kind: { S: lambda.FilterRule.isEqual(EXPIRY_WARNING_KIND) } } },
  }),
];

export interface RegwatchStackProps extends StackProps {
  config: RegwatchConfig;
}

const SQS_NO_DLQ_REASON =
  "Invoked by an SQS event source mapping, never asynchronously: failed messages return to the queue and its redrive policy moves them to the queue's dead-letter queue.";
const SQS_ESM_DESTINATION_REASON =
  "SQS event source mappings do not support on-failure destinations; the source queue's redrive policy dead-letters failed messages.";

export class RegwatchStack extends Stack {
  readonly tables: RegwatchTables;
  readonly functions: Partial<Record<HandlerName, RegwatchFunction>> = {};

  constructor(scope: Construct, id: string, props: RegwatchStackProps) {
    super(scope, id, props);
    const { config } = props;

    /* ------------------------------------------------------------ storage, bus, alerts */
    this.tables = new RegwatchTables(this, 'Tables');
    const { allowlist, findings, images, inventory } = this.tables;
    const bus = new RegwatchEventBus(this, 'Events', {
      busName: this.stackName,
      organizationId: config.organizationId,
    }).bus;
    const alertDeliveryDlq = deadLetterQueue(this, 'AlertDeliveryDlq');
    const alertsTopic = new AlertsTopic(this, 'AlertsTopic', {
      topicName: `${this.stackName}-alerts`,
      emails: config.alertEmails,
      deliveryDlq: alertDeliveryDlq,
    });
    const topic = alertsTopic.topic;
    const alarms = new RegwatchAlarms(this, 'Alarms', { topic, stackName: this.stackName });
    alarms.deadLetterQueue(
      'alert-delivery',
      alertDeliveryDlq,
      'SNS deliveries and Slack notifications',
    );

    const sqsConsumer = (fn: RegwatchFunction, work: WorkQueue, batchSize: number) => {
      fn.fn.addEventSource(
        new SqsEventSource(work.queue, {
          batchSize,
          maxBatchingWindow: Duration.seconds(5),
          reportBatchItemFailures: true,
          // A flood of messages cannot take more than this many concurrent executions.
          maxConcurrency: config.queueConcurrency,
        }),
      );
      Validations.of(fn).acknowledge({
        id: 'Serverless-LambdaEventSourceMappingDestination',
        reason: SQS_ESM_DESTINATION_REASON,
      });
    };
    const fn = <N extends HandlerName>(
      name: N,
      description: string,
      options: {
        environment: FunctionEnvironment<N>;
        deadLetterQueue?: sqs.IQueue;
        noDeadLetterQueueReason?: string;
        defaultPolicyWildcards?: string[];
        timeout?: Duration;
      },
    ) => {
      const created = new RegwatchFunction(this, pascal(name), {
        handler: name,
        description,
        reservedConcurrency: config.reservedConcurrency[name],
        ...options,
      } as AnyRegwatchFunctionProps);
      this.functions[name] = created;
      alarms.functionErrors(name, created.fn);
      return created;
    };

    /* ------------------------------------------------------------ shared grants */
    const keyArn = this.tables.key.keyArn;
    const tableAccess = (
      target: RegwatchFunction,
      table: RegwatchTable,
      sid: string,
      actions: string[],
      indexes: string[] = [],
    ) => {
      target.allow(sid, actions, [table.table.tableArn]);
      // Only Query and Scan can name an index: indexes get Query here (the one index Scan,
      // the reconciler's cluster listing, is its own statement); item actions act on the table.
      const indexActions = actions.filter((a) => a === 'dynamodb:Query');
      if (indexes.length > 0 && indexActions.length > 0) {
        target.allow(
          `${sid}Index`,
          indexActions,
          indexes.map((i) => table.indexArn(i)),
        );
      }
    };
    const tablesKey = (target: RegwatchFunction, write: boolean) =>
      target.allow(
        'TablesKey',
        write
          ? ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey']
          : ['kms:Decrypt', 'kms:DescribeKey'],
        [keyArn],
      );

    const timeout = Duration.seconds(30);
    const ecrRepositories = `arn:${this.partition}:ecr:${this.region}:${this.account}:repository/*`;
    /* ------------------------------------------------------------ signatures (issue 13) */
    // Secrets created outside the stack, by name (docs/signatures.md). The functions get the
    // partial ARN; IAM matches the full one through the six-character suffix.
    const externalSecret = (id: string, name: string | undefined) =>
      name ? secretsmanager.Secret.fromSecretNameV2(this, id, name) : undefined;
    const registryCredentials = externalSecret(
      'RegistryCredentials',
      config.registryCredentialsSecretName,
    );
    const sigstoreRoot = externalSecret(
      'SigstoreTrustedRoot',
      config.sigstoreTrustedRootSecretName,
    );
    const signatureEnv = {
      ...(registryCredentials
        ? { REGISTRY_CREDENTIALS_SECRET: registryCredentials.secretArn }
        : {}),
      ...(sigstoreRoot ? { SIGSTORE_TRUSTED_ROOT_SECRET: sigstoreRoot.secretArn } : {}),
    };
    const signatureRepositories =
      config.signatureRepositoryArns.length > 0
        ? config.signatureRepositoryArns
        : [`arn:${this.partition}:ecr:*:${this.account}:repository/*`];
    /**
     * Functions that verify `requireSignature`: an ECR registry token for the OCI API, the
     * signature artifacts (manifests and referrers are `BatchGetImage`, blobs
     * `GetDownloadUrlForLayer`), ECR managed signing's status, and the two optional secrets.
     */
    const signatureVerifier = (target: RegwatchFunction, { ecrOnly = false } = {}) => {
      target.allow('EcrRegistryToken', ['ecr:GetAuthorizationToken'], ['*'], {
        reason:
          'ecr:GetAuthorizationToken has no resource-level permissions; the token it returns only reaches what the role may read (the repositories granted in SignatureArtifactsRead).',
        findings: ['AwsSolutions-IAM5[Resource::*]'],
      });
      target.allow(
        'SignatureArtifactsRead',
        ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:DescribeImageSigningStatus'],
        signatureRepositories,
        {
          reason:
            "Signatures are read from the repository of any image a requireSignature rule covers, known only from the observation: this account's repositories in any region unless regwatch:signatureRepositoryArns names them. Read-only.",
          findings: signatureRepositories
            .filter((arn) => arn.includes('*'))
            .map((arn) => nagResourceFinding(this, 'AwsSolutions-IAM5', arn)),
        },
      );
      for (const [sid, secret] of [
        // Credentials for registries other than ECR: never needed where only ECR is judged.
        ['RegistryCredentialsRead', ecrOnly ? undefined : registryCredentials],
        ['SigstoreTrustedRootRead', sigstoreRoot],
      ] as const) {
        if (!secret) continue;
        const arn = `${secret.secretArn}-??????`;
        target.allow(sid, ['secretsmanager:GetSecretValue'], [arn], {
          reason:
            'The secret is created outside the stack by name; Secrets Manager appends six random characters to its ARN, matched by "-??????".',
          findings: [nagResourceFinding(this, 'AwsSolutions-IAM5', arn)],
        });
      }
    };

    const evaluationEnv = {
      ...signatureEnv,
      FINDINGS_TABLE: findings.table.tableName,
      ALLOWLIST_TABLE: allowlist.table.tableName,
      IMAGES_TABLE: images.table.tableName,
      INVENTORY_TABLE: inventory.table.tableName,
      FINDINGS_TTL_DAYS: String(config.findingsTtlDays),
      ALLOWLIST_CACHE_TTL_SECONDS: String(ALLOWLIST_CACHE_TTL_SECONDS),
      VULNERABLE_SEVERITY_THRESHOLD: config.vulnerableSeverityThreshold,
    } satisfies FunctionEnvironment<'pod-events'>;
    /**
     * Functions that evaluate observations: read the allowlist (a Scan of the rules, a Get of
     * its version item), upsert findings (Get, then a conditional Put or Update), and look up a
     * running digest's scan counts in the Images table (a Query on its partition key).
     */
    const evaluator = (target: RegwatchFunction, { forwarder = false } = {}) => {
      tableAccess(target, allowlist, 'AllowlistRead', ['dynamodb:Scan', 'dynamodb:GetItem']);
      tableAccess(target, findings, 'FindingsUpsert', [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
      ]);
      tableAccess(target, images, 'ImagesByDigest', ['dynamodb:Query']);
      // The inventory: a workload's partition is read (Query) and its items written
      // conditionally; a resync pass or a pod gone without its workload reads byCluster;
      // findings the change ended are auto-resolved (FindingsUpsert above). Only forwarder
      // resync passes keep a marker item (UpdateItem when one starts, GetItem when it ends).
      tableAccess(
        target,
        inventory,
        'InventoryKeep',
        [
          'dynamodb:Query',
          ...(forwarder ? ['dynamodb:GetItem', 'dynamodb:UpdateItem'] : []),
          'dynamodb:PutItem',
          'dynamodb:DeleteItem',
        ],
        [INVENTORY_INDEX.byCluster],
      );
      // The end of a complete forwarder resync pass resolves the cluster's findings no entry
      // holds: a Query of the findings' byCluster index (granted on the table too, as every
      // index Query here is).
      if (forwarder)
        tableAccess(
          target,
          findings,
          'FindingsByCluster',
          ['dynamodb:Query'],
          [FINDINGS_INDEX.byCluster],
        );
      tablesKey(target, true);
      signatureVerifier(target);
    };

    /* ------------------------------------------------------------ EKS audit logs */
    const eksAuditDlq = deadLetterQueue(this, 'EksAuditLogsDlq');
    alarms.deadLetterQueue('eks-audit-logs', eksAuditDlq, 'EKS audit log batches');
    const eksAudit = fn('eks-audit-logs', 'regwatch: EKS audit events from CloudWatch Logs', {
      environment: evaluationEnv,
      deadLetterQueue: eksAuditDlq,
      timeout: Duration.seconds(60),
    });
    evaluator(eksAudit);
    const filterPattern = logs.FilterPattern.literal(buildAuditFilterPattern());
    for (const cluster of config.clusters) {
      const logGroup = logs.LogGroup.fromLogGroupName(
        this,
        `EksLogGroup-${cluster}`,
        eksClusterLogGroupName(cluster),
      );
      new logs.SubscriptionFilter(this, `EksAudit-${cluster}`, {
        logGroup,
        destination: new logsDestinations.LambdaDestination(eksAudit.fn),
        filterPattern,
        filterName: `${this.stackName}-audit`,
      });
    }

    /* ------------------------------------------------------------ audit webhook */
    let webhookUrl: string | undefined;
    let webhookTokenArn: string | undefined;
    if (config.auditWebhook) {
      // No fixed name: a deleted secret keeps its name for the recovery window (7-30 days), so
      // a fixed one would make a redeploy after `cdk destroy` fail. The ARN is an output.
      const token = new secretsmanager.Secret(this, 'WebhookToken', {
        description: 'regwatch: bearer token kube-apiserver audit webhooks must present',
        generateSecretString: { excludePunctuation: true, passwordLength: 64 },
      });
      Validations.of(token).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          "The token is configured in every apiserver's audit webhook kubeconfig; automatic rotation would cut audit delivery until each apiserver is reconfigured. Rotate by hand (see docs/deploy.md).",
      });
      const authorizerFn = fn('audit-webhook-authorizer', 'regwatch: audit webhook bearer token', {
        environment: { WEBHOOK_TOKEN_SECRET_ARN: token.secretArn },
        noDeadLetterQueueReason: 'API Gateway invokes the authorizer synchronously.',
        timeout: Duration.seconds(5),
      });
      authorizerFn.allow('WebhookTokenRead', ['secretsmanager:GetSecretValue'], [token.secretArn]);
      const webhook = fn('audit-webhook', 'regwatch: audit EventLists from self-managed clusters', {
        environment: evaluationEnv,
        noDeadLetterQueueReason:
          "API Gateway invokes the function synchronously; a failure returns 5xx and the apiserver's webhook backend retries the batch.",
      });
      evaluator(webhook);
      const api = new AuditWebhookApi(this, 'AuditWebhookApi', {
        handler: webhook.fn,
        authorizer: authorizerFn.fn,
      });
      webhookUrl = api.url;
      webhookTokenArn = token.secretArn;
    }

    /* ------------------------------------------------------------ forwarder pod events */
    const podQueue = new WorkQueue(this, 'PodEventsQueue', { consumerTimeout: timeout });
    alarms.deadLetterQueue('pod-events', podQueue.dlq, 'forwarder pod events');
    new events.Rule(this, 'PodEventsRule', {
      eventBus: bus,
      description: 'regwatch: forwarder pod events to the pod-events queue',
      eventPattern: EVENT_PATTERNS.podEvents,
      targets: [eventTarget(podQueue)],
    });
    const podEvents = fn('pod-events', 'regwatch: forwarder pod events', {
      environment: evaluationEnv,
      noDeadLetterQueueReason: SQS_NO_DLQ_REASON,
      timeout,
    });
    evaluator(podEvents, { forwarder: true });
    sqsConsumer(podEvents, podQueue, 10);

    /* ------------------------------------------------------------ ECR pushes and scans */
    const scanCheck = new WorkQueue(this, 'ScanCheckQueue', { consumerTimeout: timeout });
    alarms.deadLetterQueue('scan-check', scanCheck.dlq, 'Inspector events and scan checks');
    const ecrQueue = new WorkQueue(this, 'EcrPushQueue', { consumerTimeout: timeout });
    alarms.deadLetterQueue('ecr-push', ecrQueue.dlq, 'ECR push events');
    new events.Rule(this, 'EcrPushRule', {
      description: 'regwatch: successful ECR pushes to the ecr-push queue',
      eventPattern: EVENT_PATTERNS.ecrPush,
      targets: [eventTarget(ecrQueue)],
    });
    new events.Rule(this, 'InspectorScanRule', {
      description: 'regwatch: Inspector2 scans of ECR images to the scan-check queue',
      eventPattern: EVENT_PATTERNS.inspectorScan,
      targets: [eventTarget(scanCheck)],
    });
    new events.Rule(this, 'InspectorFindingRule', {
      description: 'regwatch: Inspector2 findings on ECR images to the scan-check queue',
      eventPattern: EVENT_PATTERNS.inspectorFinding,
      targets: [eventTarget(scanCheck)],
    });
    new events.Rule(this, 'EcrScanRule', {
      description: 'regwatch: ECR basic scan results to the scan-check queue',
      eventPattern: EVENT_PATTERNS.ecrScan,
      targets: [eventTarget(scanCheck)],
    });
    const ecrPush = fn('ecr-push', 'regwatch: ECR image pushes', {
      environment: {
        IMAGES_TABLE: images.table.tableName,
        SCAN_CHECK_QUEUE_URL: scanCheck.queue.queueUrl,
        SCAN_TIMEOUT_MINUTES: String(config.scanTimeoutMinutes),
        VULNERABLE_SEVERITY_THRESHOLD: config.vulnerableSeverityThreshold,
        // ecr-push judges the pushed reference: it reads the allowlist and writes findings.
        FINDINGS_TABLE: findings.table.tableName,
        ALLOWLIST_TABLE: allowlist.table.tableName,
        ALLOWLIST_CACHE_TTL_SECONDS: String(ALLOWLIST_CACHE_TTL_SECONDS),
        FINDINGS_TTL_DAYS: String(config.findingsTtlDays),
      },
      noDeadLetterQueueReason: SQS_NO_DLQ_REASON,
      timeout,
    });
    // The images store reads an image and writes it back with a conditional Put.
    tableAccess(ecrPush, images, 'ImagesWrite', ['dynamodb:GetItem', 'dynamodb:PutItem']);
    tablesKey(ecrPush, true);
    ecrPush.allow('ScanCheckSend', ['sqs:SendMessage'], [scanCheck.queue.queueArn]);
    tableAccess(ecrPush, allowlist, 'AllowlistRead', ['dynamodb:Scan', 'dynamodb:GetItem']);
    tableAccess(ecrPush, findings, 'FindingsUpsert', [
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    ecrPush.allow('EcrTagMutability', ['ecr:DescribeRepositories'], [ecrRepositories], {
      reason:
        'Any repository of this account can receive a push; the repository is known only from the event. Scoped to this account and region.',
      findings: [nagResourceFinding(this, 'AwsSolutions-IAM5', ecrRepositories)],
    });
    sqsConsumer(ecrPush, ecrQueue, 10);

    const scanStatus = fn('scan-status', 'regwatch: Inspector2 scan results and scan checks', {
      environment: {
        IMAGES_TABLE: images.table.tableName,
        FINDINGS_TABLE: findings.table.tableName,
        SCAN_CHECK_QUEUE_URL: scanCheck.queue.queueUrl,
        SCAN_TIMEOUT_MINUTES: String(config.scanTimeoutMinutes),
        VULNERABLE_SEVERITY_THRESHOLD: config.vulnerableSeverityThreshold,
        FINDINGS_TTL_DAYS: String(config.findingsTtlDays),
        // Issue 11: a stored scan state re-judges the inventory entries running the digest.
        INVENTORY_TABLE: inventory.table.tableName,
        // Signature checks of pushes (issue 13) arrive on the scan-check queue: the allowlist
        // names what a digest must be signed by.
        ALLOWLIST_TABLE: allowlist.table.tableName,
        ALLOWLIST_CACHE_TTL_SECONDS: String(ALLOWLIST_CACHE_TTL_SECONDS),
        // Pushes are ECR images: registry credentials for other registries are never read.
        ...(sigstoreRoot ? { SIGSTORE_TRUSTED_ROOT_SECRET: sigstoreRoot.secretArn } : {}),
      },
      noDeadLetterQueueReason: SQS_NO_DLQ_REASON,
      timeout,
    });
    tableAccess(scanStatus, images, 'ImagesWrite', ['dynamodb:GetItem', 'dynamodb:PutItem']);
    tableAccess(scanStatus, images, 'ImagesByDigest', ['dynamodb:Query']);
    tableAccess(scanStatus, allowlist, 'AllowlistRead', ['dynamodb:Scan', 'dynamodb:GetItem']);
    tableAccess(
      scanStatus,
      inventory,
      'InventoryByDigest',
      ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
      [INVENTORY_INDEX.byDigest],
    );
    tableAccess(scanStatus, findings, 'FindingsUpsert', [
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    tablesKey(scanStatus, true);
    scanStatus.allow('ScanCheckRequeue', ['sqs:SendMessage'], [scanCheck.queue.queueArn]);
    scanStatus.allow('EcrScanResults', ['ecr:DescribeImageScanFindings'], [ecrRepositories], {
      reason:
        'Any repository of this account can receive a push; the repository is known only from the event. Scoped to this account and region.',
      findings: [nagResourceFinding(this, 'AwsSolutions-IAM5', ecrRepositories)],
    });
    // Under Inspector enhanced scanning, ECR answers DescribeImageScanFindings by calling
    // Inspector2 with the caller's permissions. Neither action supports resource-level
    // permissions or condition keys, so "*" is as tight as IAM allows.
    scanStatus.allow(
      'InspectorFindingsViaEcr',
      ['inspector2:ListFindings', 'inspector2:ListCoverage'],
      ['*'],
      {
        reason:
          'inspector2:ListFindings and inspector2:ListCoverage have no resource-level permissions; ECR needs them to return enhanced-scanning findings through DescribeImageScanFindings. Both are read-only.',
        findings: ['AwsSolutions-IAM5[Resource::*]'],
      },
    );
    signatureVerifier(scanStatus, { ecrOnly: true });
    sqsConsumer(scanStatus, scanCheck, 10);

    /* ------------------------------------------------------------ alerting */
    const alertsDlq = deadLetterQueue(this, 'AlertsDlq');
    alarms.deadLetterQueue(
      'alerts',
      alertsDlq,
      'findings-stream records the alerts function could not handle',
    );
    const alertsFn = fn('alerts', 'regwatch: new and reopened findings to SNS and EventBridge', {
      environment: {
        FINDINGS_TABLE: findings.table.tableName,
        ALERTS_TOPIC_ARN: topic.topicArn,
        EVENT_BUS_NAME: bus.eventBusName,
        MIN_ALERT_SEVERITY: config.minAlertSeverity,
      },
      noDeadLetterQueueReason:
        "Invoked by a DynamoDB stream event source mapping, never asynchronously; the mapping's on-failure destination is the alerts dead-letter queue.",
      defaultPolicyWildcards: [
        'DynamoDB streams: dynamodb:ListStreams has no resource-level permissions (added by the stream event source).',
      ],
      timeout,
    });
    alertsFn.fn.addEventSource(
      new DynamoEventSource(findings.table, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 25,
        maxBatchingWindow: Duration.seconds(2),
        bisectBatchOnError: true,
        retryAttempts: 5,
        maxRecordAge: Duration.hours(24),
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(alertsDlq),
        filters: ALERT_STREAM_FILTERS,
      }),
    );
    tableAccess(alertsFn, findings, 'FindingsAlertMark', ['dynamodb:UpdateItem']);
    tablesKey(alertsFn, true);
    alertsFn.allow('AlertsPublish', ['sns:Publish'], [topic.topicArn]);
    alertsFn.allow('AlertsKey', ['kms:Decrypt', 'kms:GenerateDataKey'], [alertsTopic.key.keyArn]);
    alertsFn.allow('FindingEvents', ['events:PutEvents'], [bus.eventBusArn]);

    if (config.slackWebhookSecretName) {
      const secret = secretsmanager.Secret.fromSecretNameV2(
        this,
        'SlackWebhook',
        config.slackWebhookSecretName,
      );
      const slack = fn('slack-notifier', 'regwatch: alerts to a Slack incoming webhook', {
        environment: { SLACK_WEBHOOK_SECRET_ARN: secret.secretArn },
        deadLetterQueue: alertDeliveryDlq,
        timeout,
      });
      const slackSecretArn = `${secret.secretArn}-??????`;
      slack.allow('SlackWebhookRead', ['secretsmanager:GetSecretValue'], [slackSecretArn], {
        reason:
          'The secret is created outside the stack by name; Secrets Manager appends six random characters to its ARN, matched by "-??????".',
        findings: [nagResourceFinding(this, 'AwsSolutions-IAM5', slackSecretArn)],
      });
      topic.addSubscription(
        new subscriptions.LambdaSubscription(slack.fn, { deadLetterQueue: alertDeliveryDlq }),
      );
    }

    /* ------------------------------------------------------------ reconcile (issue 11) */
    // One function, three triggers: the allowlist table's stream (a change is re-judged in
    // seconds), its own queue (a full pass fanned out by cluster, one message per cluster,
    // continuations before the time runs out) and two schedules — every minute (expiries, the
    // expiry warnings, a safety net for allowlist changes) and the sweep. EventBridge invokes
    // asynchronously (two retries, then the DLQ); the stream mapping bisects and retries a
    // failing batch, then sends its metadata to the same DLQ.
    const reconcileDlq = deadLetterQueue(this, 'ReconcileDlq');
    alarms.deadLetterQueue(
      'reconcile',
      reconcileDlq,
      'reconcile invocations and allowlist-stream batches',
    );
    const reconcileTimeout = Duration.minutes(15);
    const reconcileQueue = new WorkQueue(this, 'ReconcileQueue', {
      consumerTimeout: reconcileTimeout,
      // The messages name clusters and workloads: the tables' key encrypts them too.
      encryptionKey: this.tables.key,
    });
    alarms.deadLetterQueue('reconcile-queue', reconcileQueue.dlq, 'reconcile fan-out messages');
    const reconcile = fn(
      'reconcile',
      'regwatch: re-judge the inventory (allowlist stream, fan-out queue, expiries, sweep)',
      {
        environment: {
          FINDINGS_TABLE: findings.table.tableName,
          ALLOWLIST_TABLE: allowlist.table.tableName,
          IMAGES_TABLE: images.table.tableName,
          INVENTORY_TABLE: inventory.table.tableName,
          VULNERABLE_SEVERITY_THRESHOLD: config.vulnerableSeverityThreshold,
          FINDINGS_TTL_DAYS: String(config.findingsTtlDays),
          RECONCILE_QUEUE_URL: reconcileQueue.queue.queueUrl,
          EXCEPTION_WARNING_DAYS: String(config.exceptionWarningDays),
        },
        deadLetterQueue: reconcileDlq,
        defaultPolicyWildcards: [
          'DynamoDB streams: dynamodb:ListStreams has no resource-level permissions (added by the allowlist-stream event source).',
        ],
        timeout: reconcileTimeout,
      },
    );
    tableAccess(reconcile, allowlist, 'AllowlistRead', ['dynamodb:Scan', 'dynamodb:GetItem']);
    // Findings upserts and auto-resolution; the expiry warnings' once-only marks (Get,
    // Update) and the warning items the alerts function reads from the stream (Put).
    tableAccess(reconcile, findings, 'FindingsUpsert', [
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    tableAccess(reconcile, images, 'ImagesByDigest', ['dynamodb:Query']);
    // A full pass without the queue scans the table; the schedule's state is one meta item
    // (Get, Put); re-judged entries are updated; a narrowed change reads its registries'
    // entries through byRegistry; a fanned-out pass queries one cluster through byCluster.
    tableAccess(
      reconcile,
      inventory,
      'InventoryReconcile',
      [
        'dynamodb:Scan',
        'dynamodb:Query',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
      ],
      [INVENTORY_INDEX.byRegistry, INVENTORY_INDEX.byCluster],
    );
    // The fan-out lists the clusters: a Scan of byCluster that reads back the key alone.
    reconcile.allow(
      'InventoryClusterList',
      ['dynamodb:Scan'],
      [inventory.indexArn(INVENTORY_INDEX.byCluster)],
    );
    tablesKey(reconcile, true);
    reconcile.allow('ReconcileQueueSend', ['sqs:SendMessage'], [reconcileQueue.queue.queueArn]);
    reconcile.fn.addEventSource(
      new DynamoEventSource(allowlist.table, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        // An import writes many rules at once: one batch re-judges their registries together.
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(2),
        bisectBatchOnError: true,
        retryAttempts: 3,
        maxRecordAge: Duration.hours(24),
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(reconcileDlq),
        // One shard at a time: changes are applied in the order they were made.
        parallelizationFactor: 1,
      }),
    );
    // One cluster per invocation: each message has the whole 15 minutes before it continues.
    sqsConsumer(reconcile, reconcileQueue, 1);
    for (const [id, schedule, sweep] of [
      ['ReconcileMinute', events.Schedule.rate(Duration.minutes(1)), false],
      [
        'ReconcileSweep',
        events.Schedule.rate(Duration.minutes(config.reconcileSweepMinutes)),
        true,
      ],
    ] as const) {
      new events.Rule(this, id, {
        schedule,
        targets: [
          new targets.LambdaFunction(reconcile.fn, {
            event: events.RuleTargetInput.fromObject({ sweep }),
            deadLetterQueue: reconcileDlq,
            retryAttempts: 2,
          }),
        ],
      });
    }

    /* ------------------------------------------------------------ outputs */
    const output = (key: string, value: string, description: string) =>
      new CfnOutput(this, key, { key, value, description });
    output(OUTPUT_KEYS.findingsTable, findings.table.tableName, 'Findings table');
    output(OUTPUT_KEYS.allowlistTable, allowlist.table.tableName, 'Allowlist table');
    output(OUTPUT_KEYS.imagesTable, images.table.tableName, 'Images table');
    output(OUTPUT_KEYS.inventoryTable, inventory.table.tableName, 'Inventory table');
    output(
      OUTPUT_KEYS.eventBusName,
      bus.eventBusName,
      'Event bus for forwarders and finding events',
    );
    output(OUTPUT_KEYS.eventBusArn, bus.eventBusArn, 'Event bus ARN (forwarder PutEvents target)');
    output(OUTPUT_KEYS.alertsTopicArn, topic.topicArn, 'SNS topic for alerts and alarms');
    output(OUTPUT_KEYS.scanCheckQueueUrl, scanCheck.queue.queueUrl, 'Scan-check queue');
    if (webhookUrl) {
      output(
        OUTPUT_KEYS.auditWebhookUrl,
        webhookUrl,
        'Audit webhook base URL: append the cluster name',
      );
    }
    if (webhookTokenArn) {
      output(
        OUTPUT_KEYS.auditWebhookTokenSecretArn,
        webhookTokenArn,
        'Secret holding the bearer token audit webhooks present',
      );
    }
  }
}

/** EventBridge delivers into the work queue; what it cannot deliver goes to the queue's DLQ. */
function eventTarget(work: WorkQueue): targets.SqsQueue {
  return new targets.SqsQueue(work.queue, {
    deadLetterQueue: work.dlq,
    retryAttempts: 20,
    maxEventAge: Duration.hours(24),
  });
}

function pascal(name: string): string {
  return name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}
