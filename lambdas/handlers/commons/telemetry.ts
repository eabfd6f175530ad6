/**
 * What an edge reports besides its answer: log lines and counted metrics. The Lambda wrappers
 * pass Powertools (`powertoolsTelemetry` in `powertools.ts`); local mode and tests pass their
 * own, so an edge never writes JSON log lines into the local console by itself.
 */
export type Fields = Record<string, unknown>;

export interface Telemetry {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  /** Adds `value` to metric `name`, optionally under one dimension. */
  count(name: string, value?: number, dimension?: { name: string; value: string }): void;
}

const ignore = () => {};

/** Says nothing (benches, tests that do not look). */
export const silentTelemetry: Telemetry = {
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
  count: ignore,
};

/** Warnings and errors as one line each to `write`; metrics dropped (local mode). */
export function lineTelemetry(write: (line: string) => void, prefix = 'regwatch'): Telemetry {
  const line = (level: string) => (message: string, fields?: Fields) =>
    write(`${prefix}: ${level}: ${message}${fields ? ` ${safeJson(fields)}` : ''}`);
  return { debug: ignore, info: ignore, warn: line('warn'), error: line('error'), count: ignore };
}

function safeJson(fields: Fields): string {
  try {
    return JSON.stringify(fields, (_key, value) =>
      value instanceof Error ? { name: value.name, message: value.message } : value,
    );
  } catch {
    return '{…}';
  }
}
