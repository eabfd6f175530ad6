/**
 * Reading a synthesized CloudFormation template the way CloudFormation would deploy it:
 * intrinsics (`Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Select`, `Fn::Split`, pseudo parameters)
 * resolved to the values a deployment in one account and region would give them, so the
 * functions' environments and policies can be read as plain strings.
 */

export type CfnTemplate = {
  Resources: Record<string, CfnResource>;
};

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  DeletionPolicy?: string;
}

export interface DeployedNames {
  account: string;
  region: string;
  partition: string;
  stackName: string;
  /**
   * Where queue URLs point (`https://sqs.<region>.amazonaws.com` by default). The SQS client
   * sends each request to its queue URL's host, so a loopback test resolves them to its fake.
   */
  sqsEndpoint?: string;
  /** Overrides: the physical id (`Ref`) of a resource, by logical id. */
  physicalIds?: Record<string, string>;
}

/** What `Ref` gives for a resource of a type, when no override is set. */
function refOf(id: string, resource: CfnResource, names: DeployedNames): string {
  const { account, region, partition, stackName } = names;
  const physical = names.physicalIds?.[id] ?? `${stackName}-${id}`;
  switch (resource.Type) {
    case 'AWS::SQS::Queue':
      return `${names.sqsEndpoint ?? `https://sqs.${region}.amazonaws.com`}/${account}/${physical}`;
    case 'AWS::SNS::Topic':
      return `arn:${partition}:sns:${region}:${account}:${physical}`;
    case 'AWS::SecretsManager::Secret':
      return `arn:${partition}:secretsmanager:${region}:${account}:secret:${physical}-AbCdEf`;
    case 'AWS::Lambda::Function':
    case 'AWS::DynamoDB::Table':
    case 'AWS::Events::EventBus':
    case 'AWS::Logs::LogGroup':
      return (resource.Properties?.[nameKey(resource.Type)] as string | undefined) ?? physical;
    default:
      return physical;
  }
}

function nameKey(type: string): string {
  return (
    {
      'AWS::Lambda::Function': 'FunctionName',
      'AWS::DynamoDB::Table': 'TableName',
      'AWS::Events::EventBus': 'Name',
      'AWS::Logs::LogGroup': 'LogGroupName',
    } as Record<string, string>
  )[type] as string;
}

function getAtt(
  id: string,
  attribute: string,
  template: CfnTemplate,
  names: DeployedNames,
): string {
  const resource = template.Resources[id];
  if (!resource) throw new Error(`Fn::GetAtt of unknown resource ${id}`);
  const { account, region, partition } = names;
  const ref = resolveValue({ Ref: id }, template, names) as string;
  const key = `${resource.Type}.${attribute}`;
  switch (key) {
    case 'AWS::SQS::Queue.Arn':
      return `arn:${partition}:sqs:${region}:${account}:${ref.split('/').pop()}`;
    case 'AWS::SQS::Queue.QueueName':
      return ref.split('/').pop() as string;
    case 'AWS::DynamoDB::Table.Arn':
      return `arn:${partition}:dynamodb:${region}:${account}:table/${ref}`;
    case 'AWS::DynamoDB::Table.StreamArn':
      return `arn:${partition}:dynamodb:${region}:${account}:table/${ref}/stream/2026-01-01T00:00:00.000`;
    case 'AWS::Lambda::Function.Arn':
      return `arn:${partition}:lambda:${region}:${account}:function:${ref}`;
    case 'AWS::KMS::Key.Arn':
      return `arn:${partition}:kms:${region}:${account}:key/${id}`;
    case 'AWS::Events::EventBus.Arn':
      return `arn:${partition}:events:${region}:${account}:event-bus/${ref}`;
    case 'AWS::Events::EventBus.Name':
      return ref;
    case 'AWS::Logs::LogGroup.Arn':
      return `arn:${partition}:logs:${region}:${account}:log-group:${ref}:*`;
    case 'AWS::IAM::Role.Arn':
      return `arn:${partition}:iam::${account}:role/${ref}`;
    case 'AWS::SNS::Topic.TopicArn':
      return ref;
    case 'AWS::SNS::Topic.TopicName':
      return ref.split(':').pop() as string;
    default:
      throw new Error(`Fn::GetAtt ${key} is not modelled`);
  }
}

/** `value` with every intrinsic replaced by its deployed value. */
export function resolveValue(value: unknown, template: CfnTemplate, names: DeployedNames): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveValue(v, template, names));
  if (value === null || typeof value !== 'object') return value;
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1) {
    const [key] = keys as [string];
    const arg = o[key];
    switch (key) {
      case 'Ref': {
        const id = arg as string;
        if (id === 'AWS::AccountId') return names.account;
        if (id === 'AWS::Region') return names.region;
        if (id === 'AWS::Partition') return names.partition;
        if (id === 'AWS::StackName') return names.stackName;
        if (id === 'AWS::URLSuffix') return 'amazonaws.com';
        const resource = template.Resources[id];
        if (!resource) throw new Error(`Ref to unknown ${id}`);
        return refOf(id, resource, names);
      }
      case 'Fn::GetAtt': {
        const [id, attribute] = arg as [string, string];
        return getAtt(id, attribute, template, names);
      }
      case 'Fn::Join': {
        const [separator, parts] = arg as [string, unknown[]];
        return parts.map((p) => String(resolveValue(p, template, names))).join(separator);
      }
      case 'Fn::Select': {
        const [index, list] = arg as [number | string, unknown];
        const resolved = resolveValue(list, template, names) as unknown[];
        return resolved[Number(index)];
      }
      case 'Fn::Split': {
        const [separator, text] = arg as [string, unknown];
        return String(resolveValue(text, template, names)).split(separator);
      }
    }
  }
  return Object.fromEntries(
    Object.entries(o).map(([k, v]) => [k, resolveValue(v, template, names)]),
  );
}

/** The template's functions: logical id, handler name (from its service name) and resource. */
export function functionsOf(template: CfnTemplate) {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
    .map(([id, r]) => {
      const variables = (r.Properties?.Environment as { Variables?: Record<string, unknown> })
        ?.Variables;
      const service = variables?.POWERTOOLS_SERVICE_NAME;
      if (typeof service !== 'string') throw new Error(`function ${id} has no service name`);
      return { id, handler: service, resource: r, variables: variables ?? {} };
    });
}
