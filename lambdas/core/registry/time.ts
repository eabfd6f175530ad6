/**
 * Inspector2 Finding events spell times in several ways, all of which AWS documents:
 * - for people, `Dec 3, 2021, 6:02:30 PM` (the EventBridge sample; no zone is given, and the
 *   samples agree with the envelope's UTC `time`, so it is read as UTC);
 * - the Inspector user guide's sample, `Wed Sep 04 16:55:38.411 UTC 2024` (Java's
 *   `Date.toString()`; only the UTC / GMT zone is accepted: another zone name is ambiguous);
 * - ISO-8601 with a zone;
 * - epoch seconds or milliseconds as a JSON number (the Inspector2 API's timestamps).
 * Anything else is refused (`null`); the caller names the field and the value.
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

const HUMAN =
  /^([A-Za-z]{3})[a-z]* (\d{1,2}), (\d{4}),? (\d{1,2}):(\d{2})(?::(\d{2}))? ?([AaPp][Mm])$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/;

const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const JAVA_DATE =
  /^([A-Za-z]{3}) ([A-Za-z]{3}) (\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))? (UTC|GMT) (\d{4})$/;
/** Epoch seconds below this are seconds (up to year 5138); at or above, milliseconds. */
const EPOCH_MS_FROM = 1e11;
/** The formats `parseAwsTime` reads, for error messages. */
export const AWS_TIME_FORMATS =
  'ISO-8601, "Dec 3, 2021, 6:02:30 PM", "Wed Sep 04 16:55:38.411 UTC 2024", or epoch seconds / milliseconds';

function epoch(value: number): string | null {
  if (!Number.isFinite(value) || value < 0) return null;
  const ms = value < EPOCH_MS_FROM ? value * 1000 : value;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

function javaDate(m: RegExpExecArray): string | null {
  const [, dow, mon, day, hour, minute, second, fraction] = m as unknown as string[];
  const month = MONTHS.indexOf((mon as string).toLowerCase());
  const weekday = WEEKDAYS.indexOf((dow as string).toLowerCase());
  if (month < 0 || weekday < 0) return null;
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return null;
  const ms = Date.UTC(
    Number(m[9]),
    month,
    Number(day),
    Number(hour),
    Number(minute),
    Number(second),
    Number((fraction ?? '0').padEnd(3, '0')),
  );
  const date = new Date(ms);
  // A rolled-over day (Feb 30) or a weekday that is not the date's is not a time AWS wrote.
  if (date.getUTCDate() !== Number(day) || date.getUTCDay() !== weekday) return null;
  return date.toISOString();
}

/** ISO-8601 (UTC, milliseconds) for an Inspector time, or null when it is none of the forms. */
export function parseAwsTime(value: string | number): string | null {
  if (typeof value === 'number') return epoch(value);
  const text = value.trim();
  const java = JAVA_DATE.exec(text);
  if (java) return javaDate(java);
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
