/** One JSON object per line, as log collectors in a cluster expect. */
import type { Writable } from 'node:stream';
import { LOG_LEVELS, type LogLevel } from './config.ts';

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

function errorFields(v: unknown): unknown {
  if (v instanceof Error) {
    const code = (v as { code?: unknown }).code ?? (v as { statusCode?: unknown }).statusCode;
    return { name: v.name, message: v.message, ...(code !== undefined ? { code } : {}) };
  }
  return v;
}

export function createLogger(out: Writable, level: LogLevel, base: LogFields = {}): Logger {
  const min = LOG_LEVELS.indexOf(level);
  const write = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(lvl) < min) return;
    const entry: LogFields = { time: new Date().toISOString(), level: lvl, msg, ...base };
    for (const [k, v] of Object.entries(fields ?? {})) entry[k] = errorFields(v);
    out.write(`${JSON.stringify(entry)}\n`);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}
