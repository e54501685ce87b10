/**
 * A small progress bar for long CLI work, drawn on stderr (only when stderr is a TTY, unless forced).
 * @module
 */

/** Options for {@link ProgressBar}. */
export interface ProgressBarOptions {
  /** Total units of work. */
  total: number;
  /** Label shown before the bar. */
  label?: string;
  /** Draw even when stderr is not a TTY (one line per update). Default false. */
  force?: boolean;
  /** Bar width in characters. Default 30. */
  width?: number;
}

/** A stderr progress bar: `label [#####-----] 12/40 30% eta 5s  extra`. */
export class ProgressBar {
  private readonly total: number;
  private readonly label: string;
  private readonly enabled: boolean;
  private readonly tty: boolean;
  private readonly width: number;
  private readonly start = Date.now();
  private current = 0;

  constructor(options: ProgressBarOptions) {
    this.total = Math.max(1, options.total);
    this.label = options.label ?? "";
    this.tty = Boolean(process.stderr.isTTY);
    this.enabled = this.tty || Boolean(options.force);
    this.width = options.width ?? 30;
  }

  /** Sets progress to `value` with optional trailing text (e.g. "loss 0.31 eps 1.2"). */
  update(value: number, extra = ""): void {
    this.current = Math.min(this.total, value);
    if (!this.enabled) return;
    const frac = this.current / this.total;
    const filled = Math.round(frac * this.width);
    const elapsed = (Date.now() - this.start) / 1000;
    const eta = frac > 0 ? (elapsed / frac) * (1 - frac) : 0;
    const text = `${this.label} [${"#".repeat(filled)}${"-".repeat(this.width - filled)}] ${this.current}/${this.total} ${Math.round(frac * 100)}% eta ${eta.toFixed(0)}s ${extra}`;
    process.stderr.write(this.tty ? `\r${text}\x1b[K` : `${text}\n`);
  }

  /** Advances by `n` units. */
  tick(n = 1, extra = ""): void {
    this.update(this.current + n, extra);
  }

  /** Ends the bar (newline on a TTY). */
  done(extra = ""): void {
    this.update(this.total, extra);
    if (this.enabled && this.tty) process.stderr.write("\n");
  }
}
