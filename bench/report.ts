/**
 * What every benchmark shares: the row of its closing JSON line (docs/performance.md)
 * and the median used for side-by-side comparisons.
 */

/** One result in a benchmark's closing JSON line. */
export interface BenchRow {
  case: string;
  metric: string;
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
}

/** The median of `xs` (mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
