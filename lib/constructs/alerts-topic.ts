import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface AlertsTopicProps {
  topicName: string;
  emails: readonly string[];
  /** Receives notifications SNS could not deliver to a subscriber. */
  deliveryDlq: sqs.IQueue;
}

/**
 * The SNS topic for new and reopened findings and for operational alarms, encrypted with its
 * own customer-managed key. CloudWatch alarms publish to it, so the key lets the CloudWatch
 * service use it for alarms of this account only.
 */
export class AlertsTopic extends Construct {
  readonly key: kms.Key;
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlertsTopicProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.key = new kms.Key(this, 'Key', {
      description: 'regwatch alerts topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'], // in a key policy "*" means this key
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*`,
          },
        },
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', {
      topicName: props.topicName,
      displayName: 'regwatch alerts',
      masterKey: this.key,
      enforceSSL: true,
    });
    // `enforceSSL` gives the topic a policy of its own, holding only the TLS Deny, and a topic
    // policy replaces SNS's default one: without this statement CloudWatch may not publish and
    // no alarm ever reaches anyone. Scoped to this account's alarms (confused deputy).
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*`,
          },
        },
      }),
    );
    for (const email of props.emails) {
      this.topic.addSubscription(
        new subscriptions.EmailSubscription(email, { deadLetterQueue: props.deliveryDlq }),
      );
    }
  }
}
