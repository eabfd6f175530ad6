/**
 * `regwatch replay` progress on a terminal: one stderr line rewritten in place (bytes, events,
 * findings, rate, ETA), cleared when the replay ends. Only on a TTY and without `--quiet`:
 * piped or redirected stderr gets the summary only.
 */
import type { Writable } from 'node:stream';

/** What a replay in progress has done so far (read live by the renderer). */
export interface ReplayProgress {
  /** Bytes of all inputs (compressed size for .gz), or null when one is a stream. */
  totalBytes: number | null;
  bytes(): number;
  events(): number;
  findings(): number;
}

const INTERVAL_MS = 250;

export function isTerminal(stream: Writable): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}

const mb = (n: number) => (n / 1e6).toFixed(1);
const count = (n: number) => n.toLocaleString('en-US');

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** The progress line for `p` after `elapsedMs`. */
export function progressLine(p: ReplayProgress, elapsedMs: number): string {
  const bytes = p.bytes();
  const rate = elapsedMs > 0 ? bytes / (elapsedMs / 1000) : 0;
  const parts: string[] = [];
  if (p.totalBytes !== null && p.totalBytes > 0) {
    const pct = Math.min(100, Math.floor((bytes / p.totalBytes) * 100));
    parts.push(`${pct}% ${mb(bytes)}/${mb(p.totalBytes)} MB`);
  } else parts.push(`${mb(bytes)} MB`);
  parts.push(`${count(p.events())} events`, `${count(p.findings())} findings`);
  parts.push(`${mb(rate)} MB/s`);
  if (p.totalBytes !== null && rate > 0 && bytes < p.totalBytes) {
    parts.push(`ETA ${clock((p.totalBytes - bytes) / rate)}`);
  }
  return `replay: ${parts.join(', ')}`;
}

/** Rewrites the progress line every 250 ms until `stop()`, which draws it once more and clears it. */
export class ProgressRenderer {
  private readonly out: Writable;
  private readonly progress: ReplayProgress;
  private readonly started = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(out: Writable, progress: ReplayProgress) {
    this.out = out;
    this.progress = progress;
    this.timer = setInterval(() => this.draw(), INTERVAL_MS);
    this.timer.unref();
  }

  private draw(): void {
    this.out.write(`\r\x1b[K${progressLine(this.progress, Date.now() - this.started)}`);
  }

  stop(): void {
    clearInterval(this.timer);
    this.draw();
    this.out.write('\r\x1b[K');
  }
}
