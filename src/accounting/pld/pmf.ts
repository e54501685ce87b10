/**
 * A discretised privacy loss distribution (PLD) probability mass function: masses on the grid
 * {(lowerIndex + i)·d} plus a mass at +∞ — the representation of dp_accounting's `DensePLDPmf`,
 * pessimistic estimates only.
 *
 * The hockey-stick divergence δ(ε) = P[L = ∞] + Σ_{l > ε} (1 - e^{ε - l}) P[L = l] is an upper bound
 * on the mechanism's δ whenever each mass sits at or above the true loss (pessimistic rounding).
 *
 * @see https://github.com/google/differential-privacy/blob/main/common_docs/Privacy_Loss_Distributions.pdf
 * @module
 */
import { DpError } from "../../errors.js";
import { convolve, selfConvolveWindow } from "./fft.js";

/**
 * The most grid points one privacy-loss distribution may have (2^23: 64 MiB per array; the FFT
 * needs several). Beyond it the accountant refuses up front instead of exhausting memory or time.
 */
export const MAX_PLD_GRID_POINTS = 2 ** 23;

/**
 * Checks the size of a PLD grid before it is allocated.
 * @throws {@link DpError} `invalid_parameter` naming `valueDiscretizationInterval`
 * @internal
 */
export function requirePldGridLength(n: number, what: string): number {
  if (!(Number.isSafeInteger(n) && n >= 1 && n <= MAX_PLD_GRID_POINTS)) {
    throw new DpError(
      "invalid_parameter",
      `The privacy loss distribution of ${what} would need ${Number.isFinite(n) ? Math.round(n) : n} grid points (at most ${MAX_PLD_GRID_POINTS}): use a larger \`valueDiscretizationInterval\`, fewer steps or more noise, or the RDP accountant.`,
      "valueDiscretizationInterval",
    );
  }
  return n;
}

/** Default tail mass dropped (and moved to +∞) in each composition, as dp_accounting. @internal */
export const DEFAULT_TAIL_MASS_TRUNCATION = 1e-15;

/** @internal */
export class PrivacyLossPmf {
  /**
   * @param discretization - grid width d
   * @param lowerIndex - the first grid index (loss = lowerIndex·d)
   * @param probs - masses at consecutive grid points
   * @param infinityMass - mass at +∞
   */
  constructor(
    readonly discretization: number,
    readonly lowerIndex: number,
    readonly probs: Float64Array,
    readonly infinityMass: number,
  ) {}

  /** The identity (no privacy loss): mass 1 at 0. */
  static identity(discretization: number): PrivacyLossPmf {
    return new PrivacyLossPmf(discretization, 0, Float64Array.of(1), 0);
  }

  /** Everything at +∞ (a non-private release). */
  static infinite(discretization: number): PrivacyLossPmf {
    return new PrivacyLossPmf(discretization, 0, Float64Array.of(0), 1);
  }

  /** Builds a pmf from (loss index → mass) pairs. */
  static fromMasses(discretization: number, masses: Map<number, number>, infinityMass: number): PrivacyLossPmf {
    const keys = [...masses.keys()];
    if (keys.length === 0) return new PrivacyLossPmf(discretization, 0, Float64Array.of(0), infinityMass);
    const lo = Math.min(...keys);
    const hi = Math.max(...keys);
    const probs = new Float64Array(requirePldGridLength(hi - lo + 1, "this distribution"));
    for (const [k, v] of masses) probs[k - lo] += v;
    return new PrivacyLossPmf(discretization, lo, probs, infinityMass);
  }

  /** Composition (convolution of the losses), truncating tails of mass <= tailMassTruncation pessimistically. */
  compose(other: PrivacyLossPmf, tailMassTruncation = DEFAULT_TAIL_MASS_TRUNCATION): PrivacyLossPmf {
    const probs = convolve(this.probs, other.probs);
    const inf = this.infinityMass + other.infinityMass - this.infinityMass * other.infinityMass;
    const { offset, kept, rightMass } = truncateTails(probs, tailMassTruncation);
    return new PrivacyLossPmf(this.discretization, this.lowerIndex + other.lowerIndex + offset, kept, inf + rightMass);
  }

  /**
   * `times`-fold self-composition by FFT, keeping the index window whose complement has mass
   * <= tailMassTruncation by Chernoff bounds (dp_accounting's `self_convolve`); that mass is added
   * to +∞ (pessimistic).
   */
  selfCompose(times: number, tailMassTruncation = DEFAULT_TAIL_MASS_TRUNCATION): PrivacyLossPmf {
    if (times === 1) return this;
    const { lower, upper } = selfConvolveBounds(this.probs, times, tailMassTruncation);
    requirePldGridLength(upper - lower + 1, `${times}-fold composition`);
    const window = selfConvolveWindow(this.probs, times, lower, upper - lower + 1);
    const inf = tailMassTruncation - Math.expm1(times * Math.log1p(-this.infinityMass));
    return new PrivacyLossPmf(this.discretization, this.lowerIndex * times + lower, window, Math.min(1, inf));
  }

  /** δ(ε): the ε-hockey-stick divergence. */
  deltaForEpsilon(epsilon: number): number {
    const d = this.discretization;
    let delta = this.infinityMass;
    for (let i = this.probs.length - 1; i >= 0; i--) {
      const loss = (this.lowerIndex + i) * d;
      if (!(loss > epsilon)) break;
      delta += -Math.expm1(epsilon - loss) * this.probs[i];
    }
    return Math.min(1, Math.max(0, delta));
  }

  /** The smallest ε >= 0 with δ(ε) <= delta (Infinity if the mass at +∞ exceeds delta). */
  epsilonForDelta(delta: number): number {
    if (this.infinityMass > delta) return Infinity;
    const d = this.discretization;
    let massUpper = this.infinityMass;
    let massLower = 0;
    for (let i = this.probs.length - 1; i >= 0; i--) {
      const loss = (this.lowerIndex + i) * d;
      if (massUpper > delta && massLower > 0 && Math.log((massUpper - delta) / massLower) >= loss) break;
      const p = this.probs[i];
      massUpper += p;
      massLower += Math.exp(-loss) * p;
      if (massUpper >= delta && massLower === 0) return Math.max(0, loss);
    }
    if (massUpper <= massLower + delta) return 0;
    return Math.log((massUpper - delta) / massLower);
  }
}

/** Drops a prefix and a suffix of mass <= T/2 each: the prefix is moved onto the first kept point, the suffix to +∞. */
function truncateTails(probs: Float64Array, t: number): { offset: number; kept: Float64Array; rightMass: number } {
  if (t === 0) return { offset: 0, kept: probs, rightMass: 0 };
  const prefix = (fromEnd: boolean): number => {
    let s = 0;
    for (let k = 0; k < probs.length; k++) {
      s += probs[fromEnd ? probs.length - 1 - k : k];
      if (s > t / 2) return k;
    }
    return probs.length;
  };
  const left = prefix(false);
  let right = probs.length - prefix(true);
  right = Math.max(right, left + 1);
  let leftMass = 0;
  for (let k = 0; k < left; k++) leftMass += probs[k];
  let rightMass = 0;
  for (let k = right; k < probs.length; k++) rightMass += probs[k];
  const kept = probs.slice(left, right);
  kept[0] += leftMass;
  return { offset: left, kept, rightMass };
}

/** Chernoff bounds on the index range of the self-convolution (dp_accounting's `compute_self_convolve_bounds`). */
function selfConvolveBounds(probs: Float64Array, times: number, t: number): { lower: number; upper: number } {
  const n = probs.length;
  let upper = (n - 1) * times;
  let lower = 0;
  if (t === 0) return { lower, upper };
  const log2OverT = Math.log(2 / t);
  for (let k = -20; k <= 20; k++) {
    if (k === 0) continue;
    const order = k / n;
    // log MGF = log Σ_i p_i e^{i·order}; |i·order| <= 20, so no overflow in double.
    const r = Math.exp(order);
    let s = 0;
    let w = 1;
    for (let i = 0; i < n; i++) {
      if (probs[i] > 0) s += probs[i] * w;
      w *= r;
    }
    if (!(s > 0)) continue;
    const logMgf = Math.log(s);
    const bound = (times * logMgf + log2OverT) / order;
    if (!Number.isFinite(bound)) continue;
    if (order > 0) upper = Math.min(upper, Math.ceil(bound));
    else lower = Math.max(lower, Math.floor(bound));
  }
  return { lower, upper };
}
