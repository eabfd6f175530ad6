/**
 * Small shared helpers for benches: throughput timing (median of several runs), and a
 * printer. Benches compare against a baseline measured in the same run and report ratios;
 * absolute numbers on a shared machine mean little.
 */

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** What `value` is compared with, measured in the same run. */
  baseline?: { name: string; value: number };
  /** value / baseline.value (for "higher is better" units). */
  ratio?: number;
  note?: string;
}

export interface ThroughputOptions {
  /** Wall time each run aims for; the item list is repeated until it is reached. */
  targetMs?: number;
  /** Number of timed runs; the median is reported. */
  runs?: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Keeps results observable so the JIT cannot drop the work being measured. */
let sink = 0;
export function consume(value: unknown): void {
  if (value !== undefined && value !== null) sink++;
}
export const sinkCount = (): number => sink;

/**
 * Items per second for `fn` over `items`: one warm-up pass, then `runs` timed runs, each
 * repeating the list until about `targetMs`; returns the median.
 */
export function throughput<T>(
  items: readonly T[],
  fn: (item: T) => unknown,
  { targetMs = 1000, runs = 3 }: ThroughputOptions = {},
): number {
  if (items.length === 0) throw new Error('throughput: no items');
  for (const item of items) consume(fn(item));
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    let done = 0;
    const start = performance.now();
    let elapsed = 0;
    do {
      for (const item of items) consume(fn(item));
      done += items.length;
      elapsed = performance.now() - start;
    } while (elapsed < targetMs);
    rates.push((done * 1000) / elapsed);
  }
  return median(rates);
}

/** A result compared with a baseline; ratio > 1 means `value` is higher. */
export function versus(
  name: string,
  value: number,
  unit: string,
  baseline: { name: string; value: number },
  note?: string,
): BenchResult {
  const ratio = baseline.value === 0 ? Number.POSITIVE_INFINITY : value / baseline.value;
  return { name, value, unit, baseline, ratio, ...(note === undefined ? {} : { note }) };
}

function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  return Number(n.toPrecision(4)).toString();
}

/** Prints one line per result: value, unit, and the ratio against its baseline. */
export function report(
  results: readonly BenchResult[],
  out: (line: string) => void = console.log,
): void {
  const width = Math.max(...results.map((r) => r.name.length), 10);
  for (const r of results) {
    let line = `${r.name.padEnd(width)}  ${formatNumber(r.value)} ${r.unit}`;
    if (r.baseline) {
      const ratio = r.ratio ?? r.value / r.baseline.value;
      line += `  (${formatNumber(ratio)}x vs ${r.baseline.name}: ${formatNumber(r.baseline.value)} ${r.unit})`;
    }
    if (r.note) line += `  - ${r.note}`;
    out(line);
  }
}
