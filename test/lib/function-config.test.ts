/**
 * The stack and the handlers share one typed configuration per function
 * (`lambdas/handlers/compose/config.ts`): every function's environment in the synthesized
 * template parses with its handler's schema, and names nothing the schema does not read.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lambdas/handlers/commons/config.ts';
import {
  COMMON_ENVIRONMENT,
  FUNCTION_CONFIG,
  HANDLER_NAMES,
  type HandlerName,
} from '../../lambdas/handlers/compose/config.ts';
import { readConfig } from '../../lib/config.ts';
import { RegwatchStack } from '../../lib/regwatch-stack.ts';
import { type CfnTemplate, functionsOf, resolveValue } from '../helpers/template.ts';

const CONTEXTS = {
  defaults: {},
  full: {
    'regwatch:clusters': ['orion-prod-euc1'],
    'regwatch:auditWebhook': true,
    'regwatch:slackWebhookSecretName': 'regwatch/slack-webhook',
    'regwatch:findingsTtlDays': 90,
    'regwatch:vulnerableSeverityThreshold': 'high',
  },
};

function template(context: Record<string, unknown>): CfnTemplate {
  const app = new App({ context: { ...context, 'aws:cdk:bundling-stacks': [] } });
  const stack = new RegwatchStack(app, 'regwatch', { config: readConfig(app) });
  return Template.fromStack(stack).toJSON() as CfnTemplate;
}

const NAMES = {
  account: '444455556666',
  region: 'eu-west-1',
  partition: 'aws',
  stackName: 'regwatch',
};

describe.each(Object.entries(CONTEXTS))('function environments (%s context)', (_, context) => {
  const cfn = template(context);
  const functions = functionsOf(cfn);

  it('has a function for each handler the context enables, each named by its service', () => {
    for (const f of functions) expect(HANDLER_NAMES).toContain(f.handler);
  });

  it.each(functions.map((f) => [f.handler, f] as const))(
    '%s: its environment parses with its schema and holds nothing else',
    (handler, f) => {
      // Prepare
      const schema = FUNCTION_CONFIG[handler as HandlerName];
      const env = resolveValue(f.variables, cfn, NAMES) as Record<string, string>;

      // Act
      const parsed = loadConfig(schema, env);
      const unread = Object.keys(env).filter(
        (key) => !(key in schema.shape) && !(COMMON_ENVIRONMENT as readonly string[]).includes(key),
      );

      // Assess
      expect(unread).toEqual([]);
      for (const key of Object.keys(env)) {
        if (key in schema.shape) expect(parsed, key).toHaveProperty(key);
      }
    },
  );
});

describe('the full context', () => {
  it('passes its settings through the typed config', () => {
    // Prepare
    const cfn = template(CONTEXTS.full);
    const pod = functionsOf(cfn).find((f) => f.handler === 'pod-events');

    // Act
    const config = loadConfig(
      FUNCTION_CONFIG['pod-events'],
      resolveValue(pod?.variables, cfn, NAMES) as Record<string, string>,
    );

    // Assess
    expect(config).toMatchObject({
      FINDINGS_TTL_DAYS: 90,
      VULNERABLE_SEVERITY_THRESHOLD: 'high',
      ALLOWLIST_CACHE_TTL_SECONDS: 60,
    });
  });
});
