/**
 * The stack as `cdk deploy` would upload it: synthesized once with bundling (the same esbuild
 * run `cdk synth` does), into a temporary cloud assembly. The template and each function's
 * asset folder are read from there, so what runs in test/deploy is what would be uploaded.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { readConfig } from '../../../lib/config.ts';
import { attachNagPacks } from '../../../lib/nag.ts';
import { RegwatchStack } from '../../../lib/regwatch-stack.ts';
import type { CfnTemplate } from '../../helpers/template.ts';

/** Every option on, so every function and grant is in the template. */
export const FULL_CONTEXT = {
  'regwatch:clusters': ['orion-prod-euc1'],
  'regwatch:auditWebhook': true,
  'regwatch:slackWebhookSecretName': 'regwatch/slack-webhook',
  'regwatch:alertEmails': ['sec@example.com'],
  'regwatch:minAlertSeverity': 'medium',
  'regwatch:findingsTtlDays': 90,
  'regwatch:registryCredentialsSecretName': 'regwatch/registry-credentials',
  'regwatch:sigstoreTrustedRootSecretName': 'regwatch/sigstore-trusted-root',
};

export interface SynthesizedStack {
  outdir: string;
  template: CfnTemplate;
  /** The folder of each function's asset (holding `index.mjs`), by logical id. */
  assetDir(functionId: string): string;
}

export function synthesizeForDeploy(context: Record<string, unknown> = FULL_CONTEXT) {
  const outdir = mkdtempSync(path.join(tmpdir(), 'regwatch-deploy-'));
  const app = new App({ outdir, context });
  const stack = new RegwatchStack(app, 'regwatch', { config: readConfig(app) });
  attachNagPacks(app);
  const assembly = app.synth();
  const artifact = assembly.getStackByName(stack.stackName);
  const template = JSON.parse(
    readFileSync(path.join(outdir, artifact.templateFile), 'utf8'),
  ) as CfnTemplate;
  return {
    outdir,
    template,
    assetDir(functionId: string) {
      const code = template.Resources[functionId]?.Properties?.Code as { S3Key?: string };
      if (!code?.S3Key) throw new Error(`function ${functionId} has no S3 asset`);
      return path.join(outdir, `asset.${code.S3Key.replace(/\.zip$/, '')}`);
    },
  } satisfies SynthesizedStack;
}
