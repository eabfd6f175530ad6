/**
 * What a handler test needs before it imports a handler (which reads its configuration once,
 * at load): dynalite with fresh tables, the quiet test environment, the DynamoDB endpoint and
 * the table names, plus the handler's own variables.
 */
import { vi } from 'vitest';
import { freshTables, type LocalDynamo, startDynalite } from '../../helpers/dynalite.ts';
import { TEST_ENV } from './lambda-context.ts';

export type TableNames = Awaited<ReturnType<typeof freshTables>>;

export async function startHandlerEnv(
  env: Record<string, string> = {},
  endpointVariable:
    | 'AWS_ENDPOINT_URL_DYNAMODB'
    | 'REGWATCH_DYNAMODB_ENDPOINT' = 'AWS_ENDPOINT_URL_DYNAMODB',
): Promise<{ dynamo: LocalDynamo; names: TableNames }> {
  const dynamo = await startDynalite();
  const names = await freshTables(dynamo);
  for (const [key, value] of Object.entries(TEST_ENV)) vi.stubEnv(key, value);
  vi.stubEnv(endpointVariable, dynamo.endpoint);
  vi.stubEnv('IMAGES_TABLE', names.images);
  vi.stubEnv('FINDINGS_TABLE', names.findings);
  vi.stubEnv('ALLOWLIST_TABLE', names.allowlist);
  for (const [key, value] of Object.entries(env)) vi.stubEnv(key, value);
  return { dynamo, names };
}
