import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Command } from 'commander';
import {
  LOCAL_TABLE_NAMES,
  type RegwatchTables,
  regwatchTables,
  type TableNames,
} from '../lambdas/adapters/dynamodb/index.ts';
import { NotFoundError, UsageError } from '../lambdas/core/errors.ts';
import { OUTPUT_KEYS } from '../lib/outputs.ts';
import type { CliIo } from './context.ts';

export interface TargetOptions {
  dynamodbEndpoint?: string;
  stack?: string;
  region?: string;
}

/** Adds the target flags every store-backed command shares. */
export function withTargetOptions(cmd: Command): Command {
  return cmd
    .option(
      '--dynamodb-endpoint <url>',
      'local mode: DynamoDB endpoint of `regwatch local` (or $REGWATCH_DYNAMODB_ENDPOINT)',
    )
    .option(
      '--stack <name>',
      'deployed stack: read table names from its outputs (or $REGWATCH_STACK)',
    )
    .option('--region <region>', 'AWS region of the stack (default: the AWS SDK chain)');
}

export interface Target {
  tables: RegwatchTables;
  names: TableNames;
  describe: string;
  close(): void;
}

/** Reads the stack's outputs; the names are agreed in lib/outputs.ts. */
export async function tableNamesFromStack(
  cfn: CloudFormationClient,
  stack: string,
): Promise<TableNames> {
  const res = await cfn.send(new DescribeStacksCommand({ StackName: stack }));
  const outputs = new Map(
    (res.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']),
  );
  const need = (key: string) => {
    const value = outputs.get(key);
    if (!value)
      throw new NotFoundError(`stack ${stack} has no output ${key}: is it a regwatch stack?`);
    return value;
  };
  return {
    findings: need(OUTPUT_KEYS.findingsTable),
    allowlist: need(OUTPUT_KEYS.allowlistTable),
    images: need(OUTPUT_KEYS.imagesTable),
    inventory: need(OUTPUT_KEYS.inventoryTable),
  };
}

/**
 * Local mode (`--dynamodb-endpoint`) uses the local table names and dummy credentials unless
 * AWS credentials are set; a deployed stack (`--stack`) uses the normal AWS credential chain.
 */
export async function openTarget(opts: TargetOptions, io: CliIo): Promise<Target> {
  const endpoint = opts.dynamodbEndpoint ?? io.env.REGWATCH_DYNAMODB_ENDPOINT;
  const stack = opts.stack ?? io.env.REGWATCH_STACK;
  if (endpoint && opts.stack)
    throw new UsageError('pass either --dynamodb-endpoint or --stack, not both');
  if (endpoint) {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new UsageError(`--dynamodb-endpoint: not a URL: ${endpoint}`);
    }
    const client = new DynamoDBClient({
      endpoint: url.toString(),
      region: opts.region ?? io.env.AWS_REGION ?? 'local',
      credentials:
        io.env.AWS_ACCESS_KEY_ID && io.env.AWS_SECRET_ACCESS_KEY
          ? { accessKeyId: io.env.AWS_ACCESS_KEY_ID, secretAccessKey: io.env.AWS_SECRET_ACCESS_KEY }
          : { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    return {
      tables: regwatchTables(client, LOCAL_TABLE_NAMES),
      names: LOCAL_TABLE_NAMES,
      describe: `local DynamoDB at ${url.origin}`,
      close: () => client.destroy(),
    };
  }
  if (stack) {
    const region = opts.region ?? io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION;
    const cfn = new CloudFormationClient(region ? { region } : {});
    const names = await tableNamesFromStack(cfn, stack).finally(() => cfn.destroy());
    const client = new DynamoDBClient(region ? { region } : {});
    return {
      tables: regwatchTables(client, names),
      names,
      describe: `stack ${stack}`,
      close: () => client.destroy(),
    };
  }
  throw new UsageError(
    'no target: pass --dynamodb-endpoint URL (local mode, see `regwatch local`) or --stack NAME (a deployed stack)',
  );
}
