import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { ConfigError } from '../../../lambdas/core/errors.ts';
import { SEVERITIES } from '../../../lambdas/core/types.ts';
import { loadConfig } from '../../../lambdas/handlers/commons/config.ts';

const schema = z.object({
  FINDINGS_TABLE: z.string(),
  MIN_ALERT_SEVERITY: z.enum(SEVERITIES),
  TTL_DAYS: z.coerce.number().int().positive(),
  OPTIONAL_NAME: z.string().optional(),
});

describe('loadConfig', () => {
  it('returns the typed values the schema names, ignoring other variables', () => {
    // Act
    const config = loadConfig(schema, {
      FINDINGS_TABLE: 'regwatch-findings',
      MIN_ALERT_SEVERITY: 'high',
      TTL_DAYS: '90',
      PATH: '/usr/bin',
    });

    // Assess
    expect(config).toEqual({
      FINDINGS_TABLE: 'regwatch-findings',
      MIN_ALERT_SEVERITY: 'high',
      TTL_DAYS: 90,
    });
  });

  it('names every missing and invalid variable in one ConfigError', () => {
    // Act
    const error = (() => {
      try {
        loadConfig(schema, { MIN_ALERT_SEVERITY: 'urgent', TTL_DAYS: '-1' });
      } catch (e) {
        return e;
      }
    })();

    // Assess
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('FINDINGS_TABLE is not set');
    expect(message).toMatch(/MIN_ALERT_SEVERITY: .+/);
    expect(message).toMatch(/TTL_DAYS: .+/);
    expect(message).not.toContain('OPTIONAL_NAME');
  });

  it('treats an empty or blank value as missing', () => {
    expect(() =>
      loadConfig(schema, { FINDINGS_TABLE: '  ', MIN_ALERT_SEVERITY: 'low', TTL_DAYS: '1' }),
    ).toThrow(/FINDINGS_TABLE is not set/);
  });
});
