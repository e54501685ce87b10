/**
 * Empirical privacy auditing (the project's testing standard, TESTING.md section 3).
 *
 * For worst-case neighbours x0, x1 and up to 20 pre-registered events E_j (threshold sets
 * {y >= t} or single outputs), draw n outputs from each input, count hits k0_j, k1_j, and bound
 *
 *   p0_lo = CP_lower(k0, n, alpha / (2m)),  p1_hi = CP_upper(k1, n, alpha / (2m)),
 *   eps_LB = ln((p0_lo - delta) / p1_hi)
 *
 * in both directions (m = number of events; each bound one-sided at level alpha / (2m), so all
 * 2m·2 bounds hold together with probability >= 1 - 2·alpha by the union bound). A mechanism
 * that is (eps, delta)-DP gives eps_LB <= eps except with that probability; the test fails if
 * eps_LB > claimed epsilon. The power check runs the same audit on a variant with half the
 * noise, which must exceed the claim.
 */

// ---------------------------------------------------------------------------------------------
// Special functions
// ---------------------------------------------------------------------------------------------

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7; ~1e-15 relative). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = LANCZOS[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

function betaContinuedFraction(x: number, a: number, b: number): number {
  // Modified Lentz (Numerical Recipes 6.4).
  const FPMIN = 1e-300;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < FPMIN) d = FPMIN;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 100_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = 1 + aa / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = 1 + aa / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) return h;
  }
  throw new Error(`betaContinuedFraction did not converge (x=${x}, a=${a}, b=${b})`);
}

/** The regularised incomplete beta function I_x(a, b). */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lnFront) * betaContinuedFraction(x, a, b)) / a;
  return 1 - (Math.exp(lnFront) * betaContinuedFraction(1 - x, b, a)) / b;
}

/** The p-quantile of Beta(a, b), by bisection on I_x(a, b) (to ~1e-15 absolute). */
export function betaQuantile(p: number, a: number, b: number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 200 && hi - lo > 1e-16; i++) {
    const mid = (lo + hi) / 2;
    if (regularizedIncompleteBeta(mid, a, b) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * One-sided Clopper–Pearson bounds for a binomial proportion: `lower` is a level-(1-alpha)
 * lower confidence bound for p given k successes in n trials, `upper` a level-(1-alpha) upper
 * bound (each one-sided at `alpha`).
 */
export function clopperPearson(k: number, n: number, alpha: number): { lower: number; upper: number } {
  if (!(Number.isInteger(k) && Number.isInteger(n) && k >= 0 && k <= n && n > 0)) throw new Error(`bad k=${k}, n=${n}`);
  if (!(alpha > 0 && alpha < 1)) throw new Error(`bad alpha=${alpha}`);
  const lower = k === 0 ? 0 : betaQuantile(alpha, k, n - k + 1);
  const upper = k === n ? 1 : betaQuantile(1 - alpha, k + 1, n - k);
  return { lower, upper };
}

// ---------------------------------------------------------------------------------------------
// Empirical epsilon
// ---------------------------------------------------------------------------------------------

/** Inputs to {@link empiricalEpsilon}: hit counts of each pre-registered event under x0 and x1. */
export interface EmpiricalEpsilonOptions {
  /** hits0[j] = number of the n0 outputs on x0 that fall in event j. */
  hits0: ArrayLike<number>;
  /** hits1[j] likewise on x1. */
  hits1: ArrayLike<number>;
  /** Draws per input (or give n0 and n1). */
  n?: number;
  n0?: number;
  n1?: number;
  /** The delta of the claimed (epsilon, delta) guarantee. */
  delta: number;
  /** Overall false-alarm level; default 1e-6. */
  alpha?: number;
  /** Optional names of the events, for messages. */
  eventNames?: string[];
}

/** One event's bounds in one direction. */
export interface EventBound {
  event: number;
  name: string;
  direction: "x0 over x1" | "x1 over x0";
  pLower: number;
  pUpper: number;
  epsilonLowerBound: number;
}

/** Result of an audit: the largest lower bound on epsilon over events and directions. */
export interface EmpiricalEpsilonResult {
  epsilonLowerBound: number;
  worst: EventBound;
  bounds: EventBound[];
}

/** Bounds epsilon from below from event hit counts (TESTING.md section 3). */
export function empiricalEpsilon(o: EmpiricalEpsilonOptions): EmpiricalEpsilonResult {
  const m = o.hits0.length;
  if (m !== o.hits1.length || m === 0) throw new Error("hits0 and hits1 must be non-empty and of equal length");
  if (m > 20) throw new Error(`pre-register at most 20 events (got ${m})`);
  const n0 = o.n0 ?? o.n;
  const n1 = o.n1 ?? o.n;
  if (!n0 || !n1) throw new Error("give n, or n0 and n1");
  const alpha = o.alpha ?? 1e-6;
  const a = alpha / (2 * m);
  const bounds: EventBound[] = [];
  for (let j = 0; j < m; j++) {
    const cp0 = clopperPearson(o.hits0[j], n0, a);
    const cp1 = clopperPearson(o.hits1[j], n1, a);
    const name = o.eventNames?.[j] ?? `event ${j}`;
    const lb = (pLo: number, pHi: number): number => (pLo - o.delta > 0 ? Math.log((pLo - o.delta) / pHi) : -Infinity);
    bounds.push({ event: j, name, direction: "x0 over x1", pLower: cp0.lower, pUpper: cp1.upper, epsilonLowerBound: lb(cp0.lower, cp1.upper) });
    bounds.push({ event: j, name, direction: "x1 over x0", pLower: cp1.lower, pUpper: cp0.upper, epsilonLowerBound: lb(cp1.lower, cp0.upper) });
  }
  let worst = bounds[0];
  for (const b of bounds) if (b.epsilonLowerBound > worst.epsilonLowerBound) worst = b;
  return { epsilonLowerBound: worst.epsilonLowerBound, worst, bounds };
}

/** Events {y >= t} for each threshold t. */
export function thresholdEvents(thresholds: number[]): ((y: number) => boolean)[] {
  return thresholds.map((t) => (y: number) => y >= t);
}

/** Events {y == v} for each value v. */
export function valueEvents(values: number[]): ((y: number) => boolean)[] {
  return values.map((v) => (y: number) => y === v);
}

/** Counts how many of `samples` fall in each event. */
export function countHits(samples: ArrayLike<number>, events: ((y: number) => boolean)[]): number[] {
  const hits = new Array<number>(events.length).fill(0);
  for (let i = 0; i < samples.length; i++) {
    const y = samples[i];
    for (let j = 0; j < events.length; j++) if (events[j](y)) hits[j]++;
  }
  return hits;
}

/** Options for {@link auditSamplers}. */
export interface AuditSamplersOptions {
  /** One output of the mechanism on x0 (a scalar: for vector outputs, read one coordinate). */
  sample0: () => number;
  /** One output on x1. */
  sample1: () => number;
  /** Pre-registered events (at most 20), e.g. {@link thresholdEvents}. */
  events: ((y: number) => boolean)[];
  /** Draws per input (TESTING.md uses 200,000). */
  n: number;
  delta: number;
  alpha?: number;
  eventNames?: string[];
}

/** Draws n outputs on each neighbour, counts the events and bounds epsilon from below. */
export function auditSamplers(o: AuditSamplersOptions): EmpiricalEpsilonResult & { hits0: number[]; hits1: number[] } {
  const s0 = new Float64Array(o.n);
  const s1 = new Float64Array(o.n);
  for (let i = 0; i < o.n; i++) s0[i] = o.sample0();
  for (let i = 0; i < o.n; i++) s1[i] = o.sample1();
  const hits0 = countHits(s0, o.events);
  const hits1 = countHits(s1, o.events);
  return { ...empiricalEpsilon({ hits0, hits1, n: o.n, delta: o.delta, alpha: o.alpha, eventNames: o.eventNames }), hits0, hits1 };
}

/**
 * For discrete outputs: the empirical delta excess max over directions of
 * sum_y max(0, c0(y) - e^eps c1(y)) / n. TESTING.md: must stay below delta + tolerance.
 */
export function discreteDeltaExcess(samples0: ArrayLike<number>, samples1: ArrayLike<number>, epsilon: number): number {
  const c0 = new Map<number, number>();
  const c1 = new Map<number, number>();
  for (let i = 0; i < samples0.length; i++) c0.set(samples0[i], (c0.get(samples0[i]) ?? 0) + 1);
  for (let i = 0; i < samples1.length; i++) c1.set(samples1[i], (c1.get(samples1[i]) ?? 0) + 1);
  const e = Math.exp(epsilon);
  const excess = (a: Map<number, number>, na: number, b: Map<number, number>, nb: number): number => {
    let s = 0;
    for (const [y, ca] of a) s += Math.max(0, ca / na - (e * (b.get(y) ?? 0)) / nb);
    return s;
  };
  return Math.max(excess(c0, samples0.length, c1, samples1.length), excess(c1, samples1.length, c0, samples0.length));
}
