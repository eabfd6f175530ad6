/** Durations as people write them in flags and env: `500ms`, `30s`, `10m`, `1h`, `1h30m`, or bare milliseconds. */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;

/** Parses a duration to milliseconds; returns null when the text is not one. */
export function parseDuration(text: string): number | null {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  if (t === '') return null;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < t.length) {
    const start = PART.lastIndex;
    const m = PART.exec(t);
    if (!m || m.index !== start) return null;
    total += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? Number.NaN);
  }
  return Number.isFinite(total) ? Math.round(total) : null;
}
