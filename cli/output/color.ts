/**
 * Colour on a terminal, none when piped or with `NO_COLOR` (https://no-color.org), forced with
 * `FORCE_COLOR` (any value but `0`/`false`). Decided from the command's own env and stream, so
 * tests and embedders control it. Colour only ever wraps text already made `visible`.
 */
import type { Writable } from 'node:stream';
import pc from 'picocolors';
import type { Severity } from '../../lambdas/core/types.ts';
import type { CliIo } from '../context.ts';

export function colorEnabled(env: NodeJS.ProcessEnv, stream: Writable): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return (stream as { isTTY?: boolean }).isTTY === true;
}

export interface Palette {
  enabled: boolean;
  bold: (s: string) => string;
  red: (s: string) => string;
  yellow: (s: string) => string;
  green: (s: string) => string;
  dim: (s: string) => string;
  severity: (severity: string, text?: string) => string;
}

export function colors(io: Pick<CliIo, 'env'>, stream: Writable): Palette {
  const enabled = colorEnabled(io.env, stream);
  const c = pc.createColors(enabled);
  const bySeverity: Record<Severity, (s: string) => string> = {
    critical: (s) => c.bold(c.red(s)),
    high: c.red,
    medium: c.yellow,
    low: c.dim,
  };
  return {
    enabled,
    bold: c.bold,
    red: c.red,
    yellow: c.yellow,
    green: c.green,
    dim: c.dim,
    severity: (severity, text = severity) =>
      (bySeverity[severity.toLowerCase() as Severity] ?? ((s: string) => s))(text),
  };
}
