/**
 * Shared check for frequency estimators: over R repetitions, the mean estimate of each value is
 * within Z standard errors of the truth (bias), and the sample variance matches the formula
 * (|s^2 / sigma^2 - 1| <= Z sqrt(2 / (R - 1)), the chi-square spread of a sample variance).
 */
export interface EstimatorCheckOptions {
  repetitions: number;
  truth: number[];
  /** One repetition: returns the estimated fraction of each value. */
  run: () => ArrayLike<number>;
  /** The formula's variance of one estimate of a value with true fraction f. */
  variance: (f: number) => number;
  /** Tolerance in standard errors; default 5 (false alarm ~1e-6 per check). */
  z?: number;
  /** Only check the first `values` entries (default: all of truth). */
  values?: number;
}

export function checkUnbiasedAndVariance(o: EstimatorCheckOptions): { failures: string[]; means: number[]; ratios: number[] } {
  const R = o.repetitions;
  const d = o.values ?? o.truth.length;
  const z = o.z ?? 5;
  const sum = new Float64Array(d);
  const sumSq = new Float64Array(d);
  for (let r = 0; r < R; r++) {
    const est = o.run();
    for (let v = 0; v < d; v++) {
      sum[v] += est[v];
      sumSq[v] += est[v] * est[v];
    }
  }
  const failures: string[] = [];
  const means: number[] = [];
  const ratios: number[] = [];
  for (let v = 0; v < d; v++) {
    const mean = sum[v] / R;
    const s2 = (sumSq[v] - R * mean * mean) / (R - 1);
    const sigma2 = o.variance(o.truth[v]);
    means.push(mean);
    ratios.push(s2 / sigma2);
    if (Math.abs(mean - o.truth[v]) > z * Math.sqrt(sigma2 / R)) failures.push(`bias[${v}]: mean ${mean} vs ${o.truth[v]}`);
    if (Math.abs(s2 / sigma2 - 1) > z * Math.sqrt(2 / (R - 1))) failures.push(`variance[${v}]: ratio ${s2 / sigma2}`);
  }
  return { failures, means, ratios };
}
