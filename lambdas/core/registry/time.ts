/**
 * Inspector2 Finding events spell times for people (`Dec 3, 2021, 6:02:30 PM`), not in
 * ISO-8601. AWS documents no zone for them; the samples agree with the envelope's UTC `time`
 * (`2021-12-03T18:02:30Z`), so they are read as UTC.
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

const HUMAN =
  /^([A-Za-z]{3})[a-z]* (\d{1,2}), (\d{4}),? (\d{1,2}):(\d{2})(?::(\d{2}))? ?([AaPp][Mm])$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/;

/** ISO-8601 (UTC, milliseconds) for an Inspector time, or null when it is neither form. */
export function parseAwsTime(value: string): string | null {
  const text = value.trim();
  if (ISO.test(text)) {
    const ms = Date.parse(text);
    return Number.isNaN(ms) ? null : new Date(ms).toISOString();
  }
  const m = HUMAN.exec(text);
  if (!m) return null;
  const [, mon, day, year, hour, minute, second, half] = m as unknown as string[];
  const month = MONTHS.indexOf((mon as string).toLowerCase());
  const h12 = Number(hour);
  if (month < 0 || h12 < 1 || h12 > 12) return null;
  const h24 = (h12 % 12) + ((half as string).toUpperCase() === 'PM' ? 12 : 0);
  const ms = Date.UTC(Number(year), month, Number(day), h24, Number(minute), Number(second ?? 0));
  const date = new Date(ms);
  // Date.UTC rolls Feb 30 into March: refuse instead of inventing a day.
  if (date.getUTCDate() !== Number(day) || Number(minute) > 59 || Number(second ?? 0) > 59) {
    return null;
  }
  return date.toISOString();
}
