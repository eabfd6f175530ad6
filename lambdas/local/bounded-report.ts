/**
 * Failure lists of the local ingest's reports, bounded: a body of a million bad records gets
 * the first `MAX_LISTED_FAILURES` by index and a count, not a million-entry answer (which cost
 * gigabytes and seconds to build and send).
 */
import type { RecordFailure } from '../services/ingest.ts';

export const MAX_LISTED_FAILURES = 100;
/** Records handed to an ingest service at a time, so a report's parts stay small. */
export const INGEST_SLICE = 1000;

/** The failures with the lowest indexes, whatever order they are added in, and their total. */
export class FailureList {
  private items: RecordFailure[] = [];
  private sorted = true;
  total = 0;

  add(failure: RecordFailure): void {
    this.total++;
    const last = this.items[this.items.length - 1];
    if (last && failure.index < last.index) this.sorted = false;
    this.items.push(failure);
    // Trimmed now and then, so it holds at most twice the listed number.
    if (this.items.length >= 2 * MAX_LISTED_FAILURES) this.trim();
  }

  /** The first `MAX_LISTED_FAILURES` failures by index. */
  listed(): RecordFailure[] {
    this.trim();
    return this.items.slice();
  }

  private trim(): void {
    if (!this.sorted) this.items.sort((a, b) => a.index - b.index);
    this.sorted = true;
    if (this.items.length > MAX_LISTED_FAILURES) this.items.length = MAX_LISTED_FAILURES;
  }
}

/**
 * `report` with its failures cut to the first `MAX_LISTED_FAILURES` by index and, when cut,
 * `failedTotal` set to how many there were.
 */
export function boundFailures<R extends { failed: RecordFailure[]; failedTotal?: number }>(
  report: R,
): R {
  const list = new FailureList();
  for (const f of report.failed) list.add(f);
  report.failed = list.listed();
  if (list.total > report.failed.length) report.failedTotal = list.total;
  return report;
}
