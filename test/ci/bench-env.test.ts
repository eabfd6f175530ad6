/**
 * `npm run bench handlers` loads every bundle with a placeholder environment; each function
 * reads its configuration at load and fails fast, so a variable missing there stops the bench
 * (it did, for `reconcile`).
 */
import { describe, expect, it } from 'vitest';
import { HANDLER_ENV } from '../../bench/handlers.ts';
import { FUNCTION_CONFIG } from '../../lambdas/handlers/compose/config.ts';

describe('the handler bench environment', () => {
  it.each(Object.keys(FUNCTION_CONFIG))('satisfies the %s function’s configuration', (name) => {
    const schema = FUNCTION_CONFIG[name as keyof typeof FUNCTION_CONFIG];
    const parsed = schema.safeParse(HANDLER_ENV);
    expect(parsed.success ? [] : parsed.error.issues.map((i) => i.path.join('.'))).toEqual([]);
  });
});
