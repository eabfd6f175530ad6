/**
 * The signature verifier of the Lambdas (and local mode): ECR through its own API (OCI access
 * with `GetAuthorizationToken`, AWS Signer through `DescribeImageSigningStatus`), other
 * registries anonymously or with a docker-config JSON kept in Secrets Manager
 * (`REGISTRY_CREDENTIALS_SECRET`), `REGISTRY_ENDPOINTS` for registries served elsewhere (local
 * mode), the shipped Sigstore trusted root or one from `SIGSTORE_TRUSTED_ROOT_SECRET`.
 * Registry failures fail closed (an `unsigned-image` finding naming the error, not cached).
 */
import { ECRClient } from '@aws-sdk/client-ecr';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SignatureVerifier } from '../../services/signatures.ts';
import { RegistryClient } from '../oci/client.ts';
import { credentialsFrom, parseDockerConfig, parseEndpoints } from '../oci/credentials.ts';
import { ecrCredentials } from '../oci/ecr-credentials.ts';
import { CachedSecret } from '../secrets.ts';
import { EcrSigningStatus } from './aws-signer.ts';
import { VerdictCache } from './cache.ts';

export { type SignatureConfig, signatureConfigSchema } from './config.ts';

import type { SignatureConfig } from './config.ts';

export function lambdaSignatureVerifier(
  config: SignatureConfig,
  options: { ecrClientFor?: (region: string) => ECRClient; secrets?: SecretsManagerClient } = {},
): SignatureVerifier {
  const clients = new Map<string, ECRClient>();
  const ecrClientFor =
    options.ecrClientFor ??
    ((region: string) => {
      let client = clients.get(region);
      if (!client) {
        client = new ECRClient({ region });
        clients.set(region, client);
      }
      return client;
    });
  let secrets: SecretsManagerClient | undefined = options.secrets;
  const secretsClient = () => {
    secrets ??= new SecretsManagerClient({});
    return secrets;
  };
  const registrySecret = config.REGISTRY_CREDENTIALS_SECRET
    ? new CachedSecret(secretsClient(), config.REGISTRY_CREDENTIALS_SECRET, {
        parse: (text) => parseDockerConfig(text, `secret ${config.REGISTRY_CREDENTIALS_SECRET}`),
      })
    : null;
  const fallback = registrySecret
    ? async (host: string) => credentialsFrom(await registrySecret.get())(host)
    : async () => null;
  const registry = new RegistryClient({
    credentials: ecrCredentials(ecrClientFor, fallback),
    endpoints: parseEndpoints(config.REGISTRY_ENDPOINTS),
  });
  const rootSecret = config.SIGSTORE_TRUSTED_ROOT_SECRET;
  return new SignatureVerifier({
    registry,
    awsSigner: new EcrSigningStatus(ecrClientFor),
    cache: new VerdictCache({ negativeTtlMs: config.SIGNATURE_NEGATIVE_TTL_SECONDS * 1000 }),
    failClosedOnError: true,
    trust: async () => {
      const { SigstoreTrust } = await import('./keyless.ts');
      if (!rootSecret) return new SigstoreTrust();
      const text = await new CachedSecret(secretsClient(), rootSecret).get();
      return new SigstoreTrust(JSON.parse(text), `secret ${rootSecret}`);
    },
  });
}
