/**
 * Attacker-chosen text (image, pod, user names) made safe to show to a person: every character
 * that is invisible or acts on the terminal — C0/C1 controls and DEL (newlines forge rows, ESC
 * starts escape sequences), format characters (bidi overrides such as U+202E, zero-width
 * characters, the BOM, tag characters), line/paragraph separators, lone surrogates and
 * unassigned code points — is written as a visible escape: `\x1b`, `\u202e`, `\u{e0001}`.
 */
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Cn}]/gu;

export function escapeCodePoint(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code < 0x10000) return `\\u${code.toString(16).padStart(4, '0')}`;
  return `\\u{${code.toString(16)}}`;
}

export function visible(text: string): string {
  return text.replace(HIDDEN, escapeCodePoint);
}
