/**
 * CSV for spreadsheets. Findings carry attacker-chosen strings (image, pod, user names), so a
 * cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first — also
 * after leading whitespace, which spreadsheets trim before they look) is prefixed with `'`
 * (the OWASP advice against CSV injection), then quoted per RFC 4180.
 */
export function csvCell(value: unknown): string {
  let text = value === null || value === undefined ? '' : String(value);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
  if (/^[\s\u0000-\u001f]*[=+\-@\t\r]/u.test(text)) text = `'${text}`;
  return /[",\r\n']/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(cells: readonly unknown[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

/** `24h`, `30m`, `7d`, `2w`, `90s` before `now`, or an ISO-8601 date/time. */
export function parseSince(text: string, now: Date): Date | null {
  const rel = /^(\d+)\s*([smhdw])$/.exec(text.trim());
  if (rel) {
    const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[
      rel[2] as 's' | 'm' | 'h' | 'd' | 'w'
    ];
    return new Date(now.getTime() - Number(rel[1]) * unit * 1000);
  }
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : new Date(ms);
}
