import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import {
  HttpLambdaAuthorizer,
  HttpLambdaResponseType,
} from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { LOG_RETENTION } from './handler-function.ts';

/** The route kube-apiserver's audit webhook backend posts `EventList`s to. */
export const AUDIT_WEBHOOK_ROUTE = '/audit/{cluster}';

export interface AuditWebhookApiProps {
  handler: lambda.IFunction;
  authorizer: lambda.IFunction;
}

/**
 * HTTP API for self-managed clusters: `POST /audit/{cluster}` with a bearer token checked by a
 * Lambda authorizer. The cluster name is a path parameter so one API serves every cluster and
 * each apiserver's webhook kubeconfig names its own cluster.
 */
export class AuditWebhookApi extends Construct {
  readonly api: apigwv2.HttpApi;
  readonly url: string;

  constructor(scope: Construct, id: string, props: AuditWebhookApiProps) {
    super(scope, id);
    const stackName = Stack.of(this).stackName;
    // Retained and so not named: a fixed name would make a redeploy after destroy fail.
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: LOG_RETENTION,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.api = new apigwv2.HttpApi(this, 'HttpApi', {
      apiName: `${stackName}-audit-webhook`,
      description: 'regwatch: Kubernetes audit webhook backend (audit.k8s.io/v1 EventList)',
      createDefaultStage: false,
    });
    const stage = this.api.addStage('Stage', {
      stageName: '$default',
      autoDeploy: true,
      // An apiserver sends one batch at a time per cluster; these limits only stop a flood.
      throttle: { rateLimit: 50, burstLimit: 100 },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            integrationError: '$context.integrationErrorMessage',
            authorizerError: '$context.authorizer.error',
          }),
        ),
      },
    });
    const authorizer = new HttpLambdaAuthorizer('BearerToken', props.authorizer, {
      authorizerName: 'bearer-token',
      responseTypes: [HttpLambdaResponseType.SIMPLE],
      identitySource: ['$request.header.Authorization'],
      resultsCacheTtl: Duration.minutes(5),
    });
    this.api.addRoutes({
      path: AUDIT_WEBHOOK_ROUTE,
      methods: [apigwv2.HttpMethod.POST],
      integration: new HttpLambdaIntegration('Ingest', props.handler),
      authorizer,
    });
    this.url = `${stage.url}audit/`;
    Validations.of(stage).acknowledge({
      id: 'Serverless-APIGWXrayEnabled',
      reason:
        'HTTP APIs do not support X-Ray tracing; the integration and authorizer functions are traced.',
    });
  }
}
