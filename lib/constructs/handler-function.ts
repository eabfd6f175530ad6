import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type {
  COMMON_ENVIRONMENT,
  FunctionEnvironment,
  HandlerName,
} from '../../lambdas/handlers/compose/config.ts';

/** The repository root: entries, the lock file and esbuild are resolved from here. */
export const PROJECT_ROOT = path.resolve(import.meta.dirname, '..', '..');

export { HANDLER_NAMES, type HandlerName } from '../../lambdas/handlers/compose/config.ts';

export function handlerEntry(name: HandlerName): string {
  return path.join(PROJECT_ROOT, 'lambdas', 'handlers', `${name}.ts`);
}

export const LOG_RETENTION = logs.RetentionDays.THREE_MONTHS;

/**
 * ESM output lets esbuild tree-shake the AWS SDK and Powertools (both ship ESM builds). A few
 * transitive dependencies still call `require` for Node built-ins, which does not exist in an
 * ES module: the banner provides one.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __regwatchCreateRequire } from 'node:module'; const require = __regwatchCreateRequire(import.meta.url);";

/**
 * Packages swapped for smaller ones in the bundles, as esbuild `alias` (paths relative to
 * `PROJECT_ROOT`). The SDK's default credential chain becomes the environment variables the
 * Lambda runtime sets: the rest of the chain never runs in Lambda and weighs ≈ 120 KB per bundle.
 */
export const BUNDLE_ALIASES: Readonly<Record<string, string>> = {
  '@aws-sdk/credential-provider-node': './lambdas/handlers/commons/lambda-credentials.ts',
};

export interface RegwatchFunctionProps<N extends HandlerName = HandlerName> {
  handler: N;
  description: string;
  /**
   * Exactly the variables the handler's config schema names (`lambdas/handlers/compose/
   * config.ts`): a missing or unknown one is a type error here.
   */
  environment: FunctionEnvironment<N>;
  timeout?: Duration;
  memorySize?: number;
  /** Reserved concurrency (`regwatch:reservedConcurrency`); none when absent. */
  reservedConcurrency?: number | undefined;
  /** Set only for functions invoked asynchronously (CloudWatch Logs, SNS). */
  deadLetterQueue?: sqs.IQueue;
  /** Why this function may never get a Lambda DLQ (invoked synchronously or by a poller). */
  noDeadLetterQueueReason?: string;
  /**
   * Why the role's default policy holds `Resource::*` besides X-Ray (e.g. the stream poller's
   * `dynamodb:ListStreams`); CDK adds those statements itself.
   */
  defaultPolicyWildcards?: string[];
}

/** The props of any one handler: its name decides its environment's type. */
export type AnyRegwatchFunctionProps = {
  [N in HandlerName]: RegwatchFunctionProps<N>;
}[HandlerName];

/**
 * One Lambda function the regwatch way: Node.js 24 on arm64, a minified ESM bundle with source
 * maps built by the local esbuild (never Docker), X-Ray, JSON logs in a log group with a fixed
 * retention, and a role of its own that starts with nothing but its log group: every other
 * permission is granted explicitly with `allow`.
 */
export class RegwatchFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly handlerName: HandlerName;

  constructor(scope: Construct, id: string, props: AnyRegwatchFunctionProps) {
    super(scope, id);
    this.handlerName = props.handler;
    const stackName = Stack.of(this).stackName;

    // No fixed name: the log group is retained when the stack is deleted, and a fixed name
    // would make the next deploy fail on it. The function's LoggingConfig points at it.
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: LOG_RETENTION,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // A role of our own instead of AWSLambdaBasicExecutionRole: that managed policy may write
    // to every log group in the account.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `regwatch ${props.handler} function`,
    });
    this.logGroup.grantWrite(this.role);

    this.fn = new NodejsFunction(this, 'Function', {
      functionName: `${stackName}-${props.handler}`,
      description: props.description,
      entry: handlerEntry(props.handler),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      deadLetterQueue: props.deadLetterQueue,
      ...(props.reservedConcurrency === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrency }),
      environment: {
        ...(props.environment as Record<string, string>),
        ...({
          POWERTOOLS_SERVICE_NAME: props.handler,
          POWERTOOLS_METRICS_NAMESPACE: 'regwatch',
          // Stack traces point into the TypeScript sources through the bundled source maps.
          NODE_OPTIONS: '--enable-source-maps',
        } satisfies Record<(typeof COMMON_ENVIRONMENT)[number], string>),
      },
      bundling: {
        forceDockerBundling: false,
        logLevel: LogLevel.WARNING,
        format: OutputFormat.ESM,
        target: 'node24',
        platform: 'node',
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        // The map stays next to the bundle without the sources: stack traces map back to file
        // and line, and the zip stays small.
        sourcesContent: false,
        banner: ESM_REQUIRE_BANNER,
        // Bundle the AWS SDK v3 instead of using the runtime's copy: the version that was
        // tested is the version that runs, and tree-shaking keeps only the commands used.
        externalModules: [],
        esbuildArgs: {
          '--alias': Object.entries(BUNDLE_ALIASES).map(([from, to]) => `${from}=${to}`),
        },
      },
    });

    const wildcardReasons = [
      'X-Ray: xray:PutTraceSegments and xray:PutTelemetryRecords have no resource-level permissions, so the resource must be "*".',
      ...(props.defaultPolicyWildcards ?? []),
    ];
    const reason = wildcardReasons.join(' ');
    Validations.of(this.role).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason });
    if (!props.deadLetterQueue) {
      Validations.of(this.fn).acknowledge({
        id: 'Serverless-LambdaDLQ',
        reason:
          props.noDeadLetterQueueReason ??
          'The function is never invoked asynchronously; failures surface to the caller.',
      });
    }
  }

  /**
   * Grants `actions` on `resources` in an inline policy of its own (`sid`), so each grant is
   * visible and testable. Actions are always spelled out; when a resource must be a wildcard,
   * `wildcard.reason` explains why and `wildcard.findings` names the cdk-nag findings it answers.
   */
  allow(
    sid: string,
    actions: string[],
    resources: string[],
    wildcard?: { reason: string; findings: string[] },
  ): iam.Policy {
    for (const action of actions) {
      if (action.includes('*'))
        throw new Error(`wildcard action ${action} is not allowed (${sid})`);
    }
    const policy = new iam.Policy(this, sid, {
      statements: [new iam.PolicyStatement({ sid, actions, resources })],
      roles: [this.role],
    });
    // The function must not go live before its permissions exist.
    this.fn.node.addDependency(policy);
    if (wildcard) {
      for (const finding of wildcard.findings) {
        Validations.of(policy).acknowledge({ id: finding, reason: wildcard.reason });
      }
    }
    return policy;
  }
}
