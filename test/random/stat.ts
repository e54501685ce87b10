/**
 * Statistical helpers for sampler tests (docs/testing.md section 1): Pearson chi-square against an
 * exact PMF with pooled tails and the conservative critical value df + 6·sqrt(2·df), and
 * Wilson score intervals.
 */

/** One pooled bin: the integers in [from, to] (from may be -Infinity, to +Infinity). */
export interface Bin {
  from: number;
  to: number;
  expected: number;
  observed: number;
}

/** Result of {@link chiSquare}. */
export interface ChiSquareResult {
  statistic: number;
  df: number;
  critical: number;
  pass: boolean;
  bins: Bin[];
}

/**
 * Pearson chi-square of integer samples against `pmf` on the integers in [lo, hi] (the mass
 * outside is assigned to the two end bins, computed as 1 - the mass inside). Adjacent values are
 * pooled left to right until every expected count is >= 5.
 */
export function chiSquare(samples: ArrayLike<number>, pmf: (k: number) => number, lo: number, hi: number): ChiSquareResult {
  const n = samples.length;
  const probs: number[] = [];
  let inside = 0;
  for (let k = lo; k <= hi; k++) {
    const p = pmf(k);
    probs.push(p);
    inside += p;
  }
  const outside = Math.max(0, 1 - inside);
  // Build bins over [lo, hi]; the first bin extends to -Inf, the last to +Inf.
  const bins: Bin[] = [];
  let cur: Bin | undefined;
  for (let k = lo; k <= hi; k++) {
    if (!cur) cur = { from: bins.length === 0 ? -Infinity : k, to: k, expected: 0, observed: 0 };
    cur.expected += n * probs[k - lo];
    cur.to = k;
    if (cur.expected >= 5) {
      bins.push(cur);
      cur = undefined;
    }
  }
  if (cur) {
    if (bins.length === 0) bins.push(cur);
    else {
      const last = bins[bins.length - 1];
      last.expected += cur.expected;
      last.to = cur.to;
    }
  }
  bins[0].from = -Infinity;
  bins[bins.length - 1].to = Infinity;
  // Split the outside mass between the end bins by which side it lies on.
  let left = 0;
  for (let k = lo - 1; k >= lo - 10_000; k--) {
    const p = pmf(k);
    left += p;
    if (p < 1e-300) break;
  }
  left = Math.min(left, outside);
  bins[0].expected += n * left;
  bins[bins.length - 1].expected += n * (outside - left);
  // Count.
  for (let i = 0; i < n; i++) {
    const x = samples[i];
    let a = 0;
    let b = bins.length - 1;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (x > bins[mid].to) a = mid + 1;
      else b = mid;
    }
    bins[a].observed++;
  }
  let statistic = 0;
  for (const bin of bins) statistic += (bin.observed - bin.expected) ** 2 / bin.expected;
  const df = bins.length - 1;
  const critical = df + 6 * Math.sqrt(2 * df);
  return { statistic, df, critical, pass: statistic <= critical, bins };
}

/** Wilson score interval for k successes in n trials at z standard errors. */
export function wilson(k: number, n: number, z = 6): { lower: number; upper: number } {
  const p = k / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return { lower: centre - half, upper: centre + half };
}

/** True when p lies in the z = 6 Wilson interval of k / n. */
export function wilsonContains(k: number, n: number, p: number, z = 6): boolean {
  const w = wilson(k, n, z);
  return p >= w.lower && p <= w.upper;
}

/** Every value is a finite number and none is -0. */
export function allClean(samples: ArrayLike<number>): boolean {
  for (let i = 0; i < samples.length; i++) {
    const x = samples[i];
    if (typeof x !== "number" || !Number.isFinite(x) || Object.is(x, -0)) return false;
  }
  return true;
}

/** Draws n samples into a Float64Array. */
export function draw(n: number, f: () => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = f();
  return out;
}

/** Exact discrete Laplace PMF: P[x] = (1 - q)/(1 + q) q^|x|, q = e^{-1/scale}. */
export function discreteLaplacePmf(scale: number): (k: number) => number {
  const q = Math.exp(-1 / scale);
  const c = -Math.expm1(-1 / scale) / (1 + q);
  return (k) => c * Math.exp(-Math.abs(k) / scale);
}

/** Discrete Gaussian PMF, normalised numerically over |x| <= 60 sigma + 60. */
export function discreteGaussianPmf(sigma: number): (k: number) => number {
  const r = Math.ceil(60 * sigma + 60);
  let z = 0;
  for (let k = -r; k <= r; k++) z += Math.exp(-(k * k) / (2 * sigma * sigma));
  return (k) => Math.exp(-(k * k) / (2 * sigma * sigma)) / z;
}

/** Binomial PMF via log-gamma-free recursion. */
export function binomialPmf(n: number, p: number): (k: number) => number {
  const table = new Float64Array(n + 1);
  let logc = 0;
  for (let k = 0; k <= n; k++) {
    if (k > 0) logc += Math.log((n - k + 1) / k);
    table[k] = Math.exp(logc + k * Math.log(p) + (n - k) * Math.log1p(-p));
  }
  return (k) => (k >= 0 && k <= n ? table[k] : 0);
}
