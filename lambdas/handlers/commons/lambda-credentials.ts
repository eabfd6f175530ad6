/**
 * Replaces `@aws-sdk/credential-provider-node` in the Lambda bundles (an esbuild alias set by
 * `RegwatchFunction`; tests and local mode keep the SDK's own chain). The Lambda runtime always
 * hands the execution role's credentials to the function as environment variables, the first
 * link of the SDK's default chain; the other links (SSO, profiles, web identity, container and
 * instance metadata) and the STS/SSO clients they carry add ≈ 120 KB to every bundle and are
 * never reached in Lambda.
 */
import { ConfigError } from '../../core/errors.ts';

/** The SDK's `AwsCredentialIdentity`, as far as the Lambda runtime provides it. */
export interface LambdaCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * Same name and shape as the SDK's `defaultProvider`: called with the client's configuration
 * (ignored here), returns the provider the signer calls (and memoizes). `env` is for tests.
 */
export function defaultProvider(
  _init?: unknown,
  env: NodeJS.ProcessEnv = process.env,
): () => Promise<LambdaCredentials> {
  return async () => {
    const accessKeyId = env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey) {
      throw new ConfigError(
        'AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set; this bundle reads credentials only from the environment the Lambda runtime provides',
      );
    }
    const sessionToken = env.AWS_SESSION_TOKEN;
    return sessionToken
      ? { accessKeyId, secretAccessKey, sessionToken }
      : { accessKeyId, secretAccessKey };
  };
}
