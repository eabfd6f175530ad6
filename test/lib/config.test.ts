import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lambdas/core/errors.ts';
import { parseConfig, readConfig } from '../../lib/config.ts';

describe('readConfig', () => {
  it('applies defaults when nothing is set', () => {
    // Prepare
    const app = new App();

    // Act
    const config = readConfig(app);

    // Assess
    expect(config).toEqual({
      clusters: [],
      auditWebhook: false,
      alertEmails: [],
      minAlertSeverity: 'high',
      findingsTtlDays: 0,
      scanTimeoutMinutes: 30,
      vulnerableSeverityThreshold: 'critical',
      queueConcurrency: 5,
      reservedConcurrency: {},
      reconcileSweepMinutes: 60,
      exceptionWarningDays: 7,
      signatureRepositoryArns: [],
    });
  });

  it('reads the signature settings: two secret names and ECR repository ARNs', () => {
    // Prepare
    const read = (context: Record<string, unknown>) => readConfig(new App({ context }));

    // Act
    const config = read({
      'regwatch:registryCredentialsSecretName': 'regwatch/registry-credentials',
      'regwatch:sigstoreTrustedRootSecretName': 'regwatch/sigstore-root',
      'regwatch:signatureRepositoryArns':
        'arn:aws:ecr:*:123456789012:repository/team/*, arn:aws:ecr:eu-west-1:210987654321:repository/base',
    });

    // Assess
    expect(config).toMatchObject({
      registryCredentialsSecretName: 'regwatch/registry-credentials',
      sigstoreTrustedRootSecretName: 'regwatch/sigstore-root',
      signatureRepositoryArns: [
        'arn:aws:ecr:*:123456789012:repository/team/*',
        'arn:aws:ecr:eu-west-1:210987654321:repository/base',
      ],
    });
    expect(() => read({ 'regwatch:sigstoreTrustedRootSecretName': 'root-AbC123' })).toThrow(
      /regwatch:sigstoreTrustedRootSecretName.*six characters/,
    );
    expect(() => read({ 'regwatch:registryCredentialsSecretName': 'bad name' })).toThrow(
      /regwatch:registryCredentialsSecretName/,
    );
    expect(() => read({ 'regwatch:signatureRepositoryArns': 'arn:aws:s3:::bucket' })).toThrow(
      /regwatch:signatureRepositoryArns\[0\].*not an ECR repository ARN/,
    );
    expect(() =>
      read({
        'regwatch:signatureRepositoryArns': [
          'arn:aws:ecr:*:123456789012:repository/a',
          'arn:aws:ecr:*:123456789012:repository/a',
        ],
      }),
    ).toThrow(/duplicate repository ARN/);
  });

  it('reads concurrency settings as JSON or name=n pairs, and refuses unknown functions', () => {
    // Prepare
    const read = (context: Record<string, unknown>) => readConfig(new App({ context }));

    // Act / Assess
    expect(
      read({
        'regwatch:queueConcurrency': '20',
        'regwatch:reservedConcurrency': '{"eks-audit-logs": 10}',
      }),
    ).toMatchObject({ queueConcurrency: 20, reservedConcurrency: { 'eks-audit-logs': 10 } });
    expect(
      read({ 'regwatch:reservedConcurrency': 'eks-audit-logs=10, slack-notifier=2' })
        .reservedConcurrency,
    ).toEqual({ 'eks-audit-logs': 10, 'slack-notifier': 2 });
    expect(() => read({ 'regwatch:queueConcurrency': 1 })).toThrow(/regwatch:queueConcurrency/);
    expect(() => read({ 'regwatch:reservedConcurrency': { 'no-such-function': 3 } })).toThrow(
      /regwatch:reservedConcurrency/,
    );
  });

  it('reads regwatch:exceptionWarningDays as whole days 0-3650, naming the key when bad', () => {
    const read = (context: Record<string, unknown>) => readConfig(new App({ context }));
    expect(read({ 'regwatch:exceptionWarningDays': '14' }).exceptionWarningDays).toBe(14);
    expect(read({ 'regwatch:exceptionWarningDays': 0 }).exceptionWarningDays).toBe(0);
    for (const bad of ['-1', '2.5', 'soon', 3651]) {
      expect(() => read({ 'regwatch:exceptionWarningDays': bad }), String(bad)).toThrow(
        /regwatch:exceptionWarningDays/,
      );
    }
  });

  it('accepts the string forms `-c key=value` passes', () => {
    // Prepare
    const app = new App({
      context: {
        'regwatch:clusters': 'prod-euc1, staging',
        'regwatch:auditWebhook': 'true',
        'regwatch:alertEmails': '["sec@example.com","oncall@example.com"]',
        'regwatch:findingsTtlDays': '90',
        'regwatch:scanTimeoutMinutes': '45',
        'regwatch:minAlertSeverity': 'medium',
        'regwatch:organizationId': 'o-a1b2c3d4e5',
        'regwatch:slackWebhookSecretName': 'regwatch/slack-webhook',
      },
    });

    // Act
    const config = readConfig(app);

    // Assess
    expect(config).toMatchObject({
      clusters: ['prod-euc1', 'staging'],
      auditWebhook: true,
      alertEmails: ['sec@example.com', 'oncall@example.com'],
      findingsTtlDays: 90,
      scanTimeoutMinutes: 45,
      minAlertSeverity: 'medium',
      organizationId: 'o-a1b2c3d4e5',
      slackWebhookSecretName: 'regwatch/slack-webhook',
    });
  });

  it('names every bad key in one ConfigError', () => {
    // Prepare
    const raw = {
      clusters: ['ok', 'bad name!'],
      alertEmails: ['not-an-email'],
      minAlertSeverity: 'urgent',
      organizationId: '1234',
      auditWebhook: 'yes',
    };

    // Act
    const act = () => parseConfig(raw);

    // Assess
    expect(act).toThrow(ConfigError);
    try {
      act();
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toContain('regwatch:clusters[1]');
      expect(message).toContain('regwatch:alertEmails[0]');
      expect(message).toContain('regwatch:minAlertSeverity');
      expect(message).toContain('regwatch:organizationId');
      expect(message).toContain('regwatch:auditWebhook');
    }
  });

  it('rejects duplicate clusters, out-of-range numbers and ambiguous secret names', () => {
    expect(() => parseConfig({ clusters: ['a', 'a'] })).toThrow(/duplicate cluster/);
    expect(() => parseConfig({ scanTimeoutMinutes: 0 })).toThrow(/regwatch:scanTimeoutMinutes/);
    expect(() => parseConfig({ findingsTtlDays: '1.5' })).toThrow(/regwatch:findingsTtlDays/);
    expect(() => parseConfig({ slackWebhookSecretName: 'slack-AbC123' })).toThrow(/six characters/);
  });

  it('treats empty strings from `-c key=` as unset', () => {
    expect(
      parseConfig({ organizationId: '', slackWebhookSecretName: '', clusters: '' }),
    ).toMatchObject({
      clusters: [],
      organizationId: undefined,
      slackWebhookSecretName: undefined,
    });
  });
});
