import { Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/**
 * Attaches cdk-nag's AwsSolutions and Serverless packs as CDK policy-validation plugins:
 * synthesis fails on any unacknowledged error, and every acknowledgement in `lib/` carries a
 * reason that ends up in the validation report.
 */
export function attachNagPacks(app: IConstruct): {
  awsSolutions: AwsSolutionsChecks;
  serverless: ServerlessChecks;
} {
  const awsSolutions = new AwsSolutionsChecks(app, { verbose: true });
  const serverless = new ServerlessChecks(app, { verbose: true });
  Validations.of(app).addPlugins(awsSolutions, serverless);
  return { awsSolutions, serverless };
}

/** How cdk-nag prints an intrinsic inside a finding id: `<AWS::Region>`, `<Logical.Attr>`. */
function nagText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.Ref === 'string') return `<${o.Ref}>`;
    const getAtt = o['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `<${getAtt.map(String).join('.')}>`;
    const join = o['Fn::Join'];
    if (Array.isArray(join)) {
      const [separator, parts] = join as [string, unknown[]];
      return parts.map(nagText).join(separator);
    }
  }
  throw new Error(`cannot render ${JSON.stringify(value)} as a cdk-nag finding`);
}

/**
 * The finding id cdk-nag reports for `rule` on `resource` (e.g.
 * `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecr:<AWS::Region>:…]`), derived from the
 * resolved value, so an acknowledgement matches whether or not the environment is pinned
 * (`-c regwatch:region=… -c regwatch:account=…` turns the region and account tokens into
 * literals).
 */
export function nagResourceFinding(scope: IConstruct, rule: string, resource: string): string {
  return `${rule}[Resource::${nagText(Stack.of(scope).resolve(resource))}]`;
}
