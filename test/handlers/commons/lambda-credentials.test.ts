import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lambdas/core/errors.ts';
import { defaultProvider } from '../../../lambdas/handlers/commons/lambda-credentials.ts';
import {
  BUNDLE_ALIASES,
  handlerEntry,
  PROJECT_ROOT,
} from '../../../lib/constructs/handler-function.ts';

describe('Lambda credentials (the bundles’ stand-in for the SDK default chain)', () => {
  it('returns the credentials the Lambda runtime puts in the environment', async () => {
    // Prepare
    const env = {
      AWS_ACCESS_KEY_ID: 'ASIAEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_SESSION_TOKEN: 'token',
    };

    // Act
    const credentials = await defaultProvider({}, env)();

    // Assess
    expect(credentials).toEqual({
      accessKeyId: 'ASIAEXAMPLE',
      secretAccessKey: 'secret',
      sessionToken: 'token',
    });
  });

  it('leaves the session token out when there is none (long-term keys)', async () => {
    // Act
    const credentials = await defaultProvider(
      {},
      { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' },
    )();

    // Assess
    expect(credentials).toEqual({ accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret' });
  });

  it.each([
    ['no key id', { AWS_SECRET_ACCESS_KEY: 'secret' }],
    ['no secret', { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE' }],
    ['empty values', { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' }],
  ])('fails with a ConfigError naming the variables when there is %s', async (_, env) => {
    // Act
    const provide = defaultProvider({}, env);

    // Assess
    await expect(provide()).rejects.toThrow(ConfigError);
    await expect(provide()).rejects.toThrow(/AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
  });

  it('replaces the whole SDK credential chain in a bundled handler', async () => {
    // Prepare: bundled as RegwatchFunction bundles it.
    const result = await build({
      entryPoints: [handlerEntry('audit-webhook-authorizer')],
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node24',
      mainFields: ['module', 'main'],
      alias: { ...BUNDLE_ALIASES },
      absWorkingDir: PROJECT_ROOT,
      metafile: true,
      write: false,
      outfile: 'index.mjs',
      logLevel: 'silent',
    });

    // Act
    const inputs = Object.keys(result.metafile.inputs);

    // Assess
    expect(inputs).toContain('lambdas/handlers/commons/lambda-credentials.ts');
    expect(inputs.filter((f) => /credential-provider-|nested-clients/.test(f))).toEqual([]);
  });
});
