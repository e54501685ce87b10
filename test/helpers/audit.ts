/**
 * Empirical privacy auditing (docs/testing.md section 3).
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

// The statistics live in src/audit (dpkit/audit) so tests and users share one implementation.
export {
  logGamma,
  regularizedIncompleteBeta,
  betaQuantile,
  clopperPearson,
  empiricalEpsilon,
  type EmpiricalEpsilonOptions,
  type EventBound,
  type EmpiricalEpsilonResult,
} from "../../src/audit/index.js";
import { empiricalEpsilon, type EmpiricalEpsilonResult } from "../../src/audit/index.js";

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
  /** Draws per input (docs/testing.md uses 200,000). */
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
 * sum_y max(0, c0(y) - e^eps c1(y)) / n. docs/testing.md: must stay below delta + tolerance.
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
