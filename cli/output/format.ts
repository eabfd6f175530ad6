/**
 * The one output flag every command that prints results shares: `-o, --output FORMAT`, with
 * `--json` kept as an alias of `-o json`. A command names the formats that make sense for it;
 * `emitRecords` renders the common ones (table, wide, json, yaml, csv) from one column list, so
 * a new command plugs in with a few lines:
 *
 *   withOutputOption(cmd, ['table', 'wide', 'json', 'csv'])
 *   …
 *   const format = outputFormat(opts, ['table', 'wide', 'json', 'csv']);
 *   emitRecords(io, format, { columns, rows, json: (r) => r });
 */
import type { Command } from 'commander';
import { UsageError } from '../../lambdas/core/errors.ts';
import type { CliIo } from '../context.ts';
import { csvLine } from '../format.ts';
import { formatTable } from '../table.ts';
import { loadYaml } from '../yaml-module.ts';
import { colors } from './color.ts';

export const OUTPUT_FORMATS = [
  'table',
  'wide',
  'json',
  'yaml',
  'csv',
  'sarif',
  'junit',
  'github',
] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface OutputOptions {
  output?: string;
  json?: boolean;
}

/** Adds `-o, --output` (and the `--json` alias) to a command. */
export function withOutputOption(
  cmd: Command,
  formats: readonly OutputFormat[],
  fallback: OutputFormat = 'table',
): Command {
  return cmd
    .option('-o, --output <format>', `output format: ${formats.join(', ')} (default: ${fallback})`)
    .option('--json', 'the same as -o json');
}

/** The chosen format; a format the command does not offer is a usage error naming the choices. */
export function outputFormat(
  opts: OutputOptions,
  formats: readonly OutputFormat[],
  fallback: OutputFormat = 'table',
): OutputFormat {
  const asked = opts.output?.toLowerCase();
  if (opts.json && asked !== undefined && asked !== 'json') {
    throw new UsageError(`pass --json or -o ${opts.output}, not both`);
  }
  const format = asked ?? (opts.json ? 'json' : fallback);
  if (!(formats as readonly string[]).includes(format)) {
    throw new UsageError(`-o: expected one of ${formats.join(', ')}, got ${opts.output}`);
  }
  return format as OutputFormat;
}

export interface Column<R> {
  header: string;
  cell: (row: R) => string;
  /** Shown only with `-o wide`. */
  wide?: boolean;
  /** CSV header, when the column is in CSV output (default: not in CSV). */
  csv?: string;
  /** Colour for the cell on a terminal (e.g. by severity). */
  style?: (text: string, row: R) => string;
}

export interface Records<R> {
  columns: readonly Column<R>[];
  rows: readonly R[];
  /** The JSON (and YAML) shape of one row: the command's documented contract. */
  json: (row: R) => unknown;
  /** CSV cells, when the CSV shape is not the columns (e.g. a documented column set). */
  csv?: { header: readonly string[]; cells: (row: R) => readonly unknown[] };
  /** Printed instead of an empty table ('' prints nothing: the caller says it). */
  empty?: string;
}

/** Writes records as table, wide, json (one object per line), yaml (one document each) or csv. */
export async function emitRecords<R>(
  io: CliIo,
  format: OutputFormat,
  records: Records<R>,
): Promise<void> {
  const { rows } = records;
  switch (format) {
    case 'json':
      for (const r of rows) io.stdout.write(`${JSON.stringify(records.json(r))}\n`);
      return;
    case 'yaml': {
      const { stringify } = await loadYaml();
      for (const r of rows) io.stdout.write(`---\n${stringify(records.json(r))}`);
      return;
    }
    case 'csv': {
      const csv = records.csv ?? {
        header: records.columns.filter((c) => c.csv).map((c) => c.csv as string),
        cells: (r: R) => records.columns.filter((c) => c.csv).map((c) => c.cell(r)),
      };
      io.stdout.write(csvLine(csv.header));
      for (const r of rows) io.stdout.write(csvLine(csv.cells(r)));
      return;
    }
    case 'table':
    case 'wide': {
      if (rows.length === 0) {
        const empty = records.empty ?? 'nothing to show';
        if (empty !== '') io.stdout.write(`${empty}\n`);
        return;
      }
      const wide = format === 'wide';
      const columns = records.columns.filter((c) => wide || !c.wide);
      const c = colors(io, io.stdout);
      const text = formatTable(
        columns.map((col) => col.header),
        rows.map((r) => columns.map((col) => col.cell(r))),
        {
          maxWidth: wide ? Number.POSITIVE_INFINITY : undefined,
          styleHeader: (t) => c.bold(t),
          styleCell: (t, ci, ri) => {
            const style = columns[ci]?.style;
            const row = rows[ri];
            return style && row !== undefined && c.enabled ? style(t, row) : t;
          },
        },
      );
      io.stdout.write(`${text}\n`);
      return;
    }
    default:
      throw new UsageError(`-o ${format} is not available here`);
  }
}
