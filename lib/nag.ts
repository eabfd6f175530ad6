import { Validations } from 'aws-cdk-lib';
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
