import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/**
 * Operational alarms: any message in a dead-letter queue and any function error page the
 * alerts topic. Missing data (an idle function, an empty queue) is not a breach.
 */
export class RegwatchAlarms extends Construct {
  private readonly action: actions.SnsAction;
  private readonly stackName: string;

  constructor(scope: Construct, id: string, props: { topic: sns.ITopic; stackName: string }) {
    super(scope, id);
    this.action = new actions.SnsAction(props.topic);
    this.stackName = props.stackName;
  }

  deadLetterQueue(id: string, queue: sqs.IQueue, what: string): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, `${id}Depth`, {
      alarmName: `${this.stackName}-${id}-dlq-depth`,
      alarmDescription: `regwatch: messages in the dead-letter queue for ${what}. Inspect them, fix the cause, then redrive.`,
      metric: queue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(this.action);
    return alarm;
  }

  functionErrors(id: string, fn: lambda.IFunction): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, `${id}Errors`, {
      alarmName: `${this.stackName}-${id}-errors`,
      alarmDescription: `regwatch: the ${id} function failed at least once in 5 minutes.`,
      metric: fn.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(this.action);
    return alarm;
  }
}
