/** Composition root of the `alerts` function: the findings table, SNS and EventBridge clients. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Telemetry } from '../commons/telemetry.ts';
import type { AlertsDeps } from '../edges/alerts.ts';
import type { AlertsConfig } from './config.ts';

export function buildAlertsDeps(
  config: AlertsConfig,
  options: Partial<Omit<AlertsDeps, 'config'>> & { telemetry?: Telemetry } = {},
): AlertsDeps {
  return {
    config,
    doc: options.doc ?? DynamoDBDocumentClient.from(new DynamoDBClient({})),
    sns: options.sns ?? new SNSClient({}),
    events: options.events ?? new EventBridgeClient({}),
    clock: options.clock,
    telemetry: options.telemetry,
  };
}
