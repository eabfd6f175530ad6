// Set by `npm run build` (esbuild `define`): a hash of the code that validates an allowlist
// (the YAML reader, the schema, zod, yaml) and the package version. The sources have none, so
// a checkout, where that code changes under any cache, never uses the allowlist cache.
declare const REGWATCH_VALIDATOR_ID: string | undefined;

export const VALIDATOR_ID: string | null =
  typeof REGWATCH_VALIDATOR_ID === 'string' ? REGWATCH_VALIDATOR_ID : null;
