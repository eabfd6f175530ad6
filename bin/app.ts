#!/usr/bin/env node
/**
 * The regwatch CDK app: `npx cdk synth` / `npx cdk deploy`. Settings come from the `regwatch:*`
 * context keys (cdk.json, `-c key=value`); nothing is looked up in an AWS account at synth
 * time, so synthesis works offline.
 */
import { App } from 'aws-cdk-lib';
import { ConfigError } from '../lambdas/core/errors.ts';
import { readConfig } from '../lib/config.ts';
import { attachNagPacks } from '../lib/nag.ts';
import { RegwatchStack } from '../lib/regwatch-stack.ts';

const app = new App();
try {
  const config = readConfig(app);
  new RegwatchStack(app, 'regwatch', {
    config,
    description: 'regwatch: container image provenance monitor',
    ...(config.account || config.region
      ? { env: { account: config.account, region: config.region } }
      : {}),
  });
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`regwatch: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
attachNagPacks(app);
app.synth();
