/**
 * The signature verifier's environment variables (docs/signatures.md). No AWS SDK here: the
 * functions' typed configuration (and so `lib/`) imports this module.
 */
import * as z from 'zod';

export const signatureConfigSchema = z.object({
  REGISTRY_CREDENTIALS_SECRET: z.string().min(1).optional(),
  REGISTRY_ENDPOINTS: z.string().optional(),
  SIGSTORE_TRUSTED_ROOT_SECRET: z.string().min(1).optional(),
  /** How long an unsigned / invalid verdict is reused before the registry is asked again. */
  SIGNATURE_NEGATIVE_TTL_SECONDS: z.coerce.number().int().min(0).default(120),
});
export type SignatureConfig = z.infer<typeof signatureConfigSchema>;
