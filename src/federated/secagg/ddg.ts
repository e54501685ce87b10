/**
 * The distributed discrete Gaussian mechanism (Kairouz, Liu & Steinke, ICML 2021): each client
 * clips its update to L2 norm c, scales it to the integer grid of step γ (granularity), rounds
 * it randomly — repeating the rounding until the rounded vector's norm is at most Δ₂ — and adds
 * exact discrete Gaussian noise N_Z(0, σ²) per coordinate (σ in grid steps). Secure aggregation
 * then reveals only the sum, which carries n independent noise shares.
 *
 * Privacy of the sum (their Proposition 14): with τ = 10 Σ_{k=1}^{n-1} exp(-2π²σ² k/(k+1)),
 * Δ₁ = Δ₂ · min(√d, Δ₂), the mechanism satisfies, for every α > 1, RDP
 * ε(α) <= (α/2) · min( Δ₂²/(nσ²) + 2Δ₁τ/(√n σ) + τ²d , (Δ₂/(√n σ) + τ√d)² ), i.e. ρ-zCDP with
 * ρ = ½ min(…). A Gaussian mechanism with noise multiplier z has RDP α/(2z²) at every order,
 * i.e. exactly (1/(2z²))-zCDP; so z_eff = 1/√(2ρ) reproduces the bound at every order, and
 * an RDP accountant handed `gaussian(z_eff)` composes exactly the guaranteed curve. Since
 * ρ >= Δ₂²/(2nσ²), z_eff <= √n σ/Δ₂: never better than the continuous Gaussian of the same
 * variance.
 *
 * @see P. Kairouz, Z. Liu, T. Steinke, "The Distributed Discrete Gaussian Mechanism for Federated Learning with Secure Aggregation", ICML 2021 (arXiv:2102.06387).
 * @see C. Canonne, G. Kamath, T. Steinke, "The Discrete Gaussian for Differential Privacy", NeurIPS 2020.
 * @module
 */
import { gaussianEvent, type GaussianEvent } from "../../accounting/events.js";
import { DpError, requireInteger, requireOpenProbability, requirePositive } from "../../errors.js";
import { bernoulli, discreteGaussian, type Rng } from "../../random/index.js";

/** Parameters of the distributed discrete Gaussian mechanism. */
export interface DistributedDiscreteGaussianParameters {
  /** c: each client's update is clipped to this L2 norm; > 0. */
  l2NormClip: number;
  /** γ: step of the integer grid, a power of two (values are multiples of γ). */
  granularity: number;
  /** σ: standard deviation of each client's discrete Gaussian noise, in grid steps; >= 0.5. */
  localNoiseStddev: number;
  /** d: entries per update. */
  dimension: number;
  /** β: the conditional rounding's rejection parameter, in (0, 1); default exp(-1/2) (the paper's choice). */
  beta?: number;
}

/** The rounded-norm bound, the zCDP parameter and the effective Gaussian noise multiplier. */
export interface DistributedDiscreteGaussianPrivacy {
  /** Δ₂: L2 bound of a client's rounded vector, in grid steps. */
  l2Sensitivity: number;
  /** Δ₁ = Δ₂ · min(√d, Δ₂). */
  l1Sensitivity: number;
  /** τ of Proposition 14. */
  tau: number;
  /** ρ: the sum is ρ-zCDP. */
  rho: number;
  /** z_eff = 1/√(2ρ): `gaussian(z_eff)` has the same RDP curve. */
  noiseMultiplier: number;
  /** √n σ / Δ₂: the multiplier the continuous Gaussian of the same variance would have (an upper bound on z_eff). */
  continuousNoiseMultiplier: number;
}

function resolve(p: DistributedDiscreteGaussianParameters): Required<DistributedDiscreteGaussianParameters> {
  const l2NormClip = requirePositive("l2NormClip", p.l2NormClip);
  const granularity = requirePositive("granularity", p.granularity);
  if (2 ** Math.round(Math.log2(granularity)) !== granularity) {
    throw new DpError("invalid_parameter", `\`granularity\` must be a power of two. Found ${granularity}.`, "granularity");
  }
  const localNoiseStddev = requirePositive("localNoiseStddev", p.localNoiseStddev);
  if (!(localNoiseStddev >= 0.5)) {
    throw new DpError(
      "invalid_parameter",
      `\`localNoiseStddev\` must be >= 0.5 grid steps (Kairouz et al., Prop. 14). Found ${localNoiseStddev}.`,
      "localNoiseStddev",
    );
  }
  const dimension = requireInteger("dimension", p.dimension, { min: 1 });
  const beta = requireOpenProbability("beta", p.beta ?? Math.exp(-0.5));
  return { l2NormClip, granularity, localNoiseStddev, dimension, beta };
}

/**
 * Δ₂, the L2 bound the conditional randomized rounding enforces (in grid steps): with c' = c/γ,
 * min( c' + √d , √(c'² + d/4 + √(2 ln(1/β)) · (c' + √d/2)) ).
 * @example
 * ```ts
 * import { ddgRoundedL2Bound } from "dpkit/federated";
 * ddgRoundedL2Bound({ l2NormClip: 1, granularity: 2 ** -8, localNoiseStddev: 8, dimension: 100 });
 * ```
 * @see Kairouz, Liu & Steinke 2021, Theorem 1 and Section 4.
 */
export function ddgRoundedL2Bound(parameters: DistributedDiscreteGaussianParameters): number {
  const p = resolve(parameters);
  const c = p.l2NormClip / p.granularity;
  const d = p.dimension;
  const bound1 = c + Math.sqrt(d);
  const bound2 = Math.sqrt(c * c + d / 4 + Math.sqrt(2 * Math.log(1 / p.beta)) * (c + Math.sqrt(d) / 2));
  return Math.min(bound1, bound2);
}

/**
 * The privacy of the sum of `clients` noisy shares (zero-out neighbours: one client's update
 * replaced by zeros, its noise share still present), as zCDP and as an equivalent Gaussian
 * noise multiplier.
 *
 * @param parameters - the mechanism's parameters
 * @param clients - n: how many noise shares are surely in the sum (the survivors; plan with the threshold)
 * @returns Δ₂, Δ₁, τ, ρ and z_eff
 * @throws {@link DpError} `invalid_parameter` for bad parameters
 * @example
 * ```ts
 * import { ddgPrivacy } from "dpkit/federated";
 * ddgPrivacy({ l2NormClip: 1, granularity: 2 ** -8, localNoiseStddev: 100, dimension: 100 }, 50).noiseMultiplier;
 * ```
 * @see Kairouz, Liu & Steinke 2021, Proposition 14.
 */
export function ddgPrivacy(parameters: DistributedDiscreteGaussianParameters, clients: number): DistributedDiscreteGaussianPrivacy {
  const p = resolve(parameters);
  const n = requireInteger("clients", clients, { min: 1 });
  const d = p.dimension;
  const sigma = p.localNoiseStddev;
  const l2 = ddgRoundedL2Bound(p);
  const l1 = l2 * Math.min(Math.sqrt(d), l2);
  let tau = 0;
  for (let k = 1; k < n; k++) tau += Math.exp((-2 * Math.PI * Math.PI * sigma * sigma * k) / (k + 1));
  tau *= 10;
  const l2Scale = l2 / (Math.sqrt(n) * sigma);
  const l1Scale = l1 / (Math.sqrt(n) * sigma);
  const term2 = l2Scale * l2Scale + 2 * l1Scale * tau + tau * tau * d;
  const term3 = (l2Scale + Math.sqrt(d) * tau) ** 2;
  const rho = 0.5 * Math.min(term2, term3);
  return {
    l2Sensitivity: l2,
    l1Sensitivity: l1,
    tau,
    rho,
    noiseMultiplier: 1 / Math.sqrt(2 * rho),
    continuousNoiseMultiplier: 1 / l2Scale,
  };
}

/**
 * The round's event for the accountant: `gaussian(z_eff)` with z_eff = 1/√(2ρ) (see the module
 * notes for why an RDP accountant may treat it exactly as that Gaussian).
 *
 * @remarks
 * The mapping reproduces the zCDP curve α·ρ at every order, which is what RDP composition needs.
 * It is not a claim that the privacy-loss distribution equals the Gaussian's: a PLD accountant,
 * or amplification by subsampling computed with the Gaussian-specific formula, go beyond what
 * Proposition 14 proves (see docs/secagg.md). Wrap it for client sampling at your own judgement.
 *
 * @example
 * ```ts
 * import { ddgEvent } from "dpkit/federated";
 * ddgEvent({ l2NormClip: 1, granularity: 2 ** -8, localNoiseStddev: 100, dimension: 100 }, 50); // gaussian(z_eff)
 * ```
 * @see Kairouz, Liu & Steinke 2021, Proposition 14.
 */
export function ddgEvent(parameters: DistributedDiscreteGaussianParameters, clients: number): GaussianEvent {
  return gaussianEvent(ddgPrivacy(parameters, clients).noiseMultiplier);
}

/** Options for {@link ddgModulusCheck}. */
export interface DdgModulusOptions {
  /** n: the most clients whose shares are summed. */
  clients: number;
  /** Bits of the secure-aggregation modulus. */
  modulusBits: number;
  /** Acceptable probability that any coordinate of the noisy sum wraps; default 1e-9. */
  overflowProbability?: number;
}

/**
 * Checks that the noisy sum cannot wrap around 2^modulusBits except with probability at most
 * `overflowProbability`: n·⌊Δ₂⌋ + √(2nσ² ln(2d/p)) <= 2^(modulusBits-1) - 1 (each rounded
 * coordinate is at most Δ₂ in magnitude; the sum of n discrete Gaussians is nσ²-subgaussian).
 * Wrapping would not break privacy (it is post-processing), only accuracy.
 *
 * @returns the bound on |any coordinate of the sum|, in grid steps
 * @throws {@link DpError} `invalid_parameter` when the parameters could overflow the modulus
 * @example
 * ```ts
 * import { ddgModulusCheck } from "dpkit/federated";
 * ddgModulusCheck({ l2NormClip: 1, granularity: 2 ** -8, localNoiseStddev: 8, dimension: 100 }, { clients: 50, modulusBits: 32 });
 * ```
 * @see Kairouz, Liu & Steinke 2021, Section 4 (modular clipping).
 */
export function ddgModulusCheck(parameters: DistributedDiscreteGaussianParameters, options: DdgModulusOptions): number {
  const p = resolve(parameters);
  const n = requireInteger("clients", options.clients, { min: 1 });
  const bits = requireInteger("modulusBits", options.modulusBits, { min: 2, max: 32 });
  const prob = requireOpenProbability("overflowProbability", options.overflowProbability ?? 1e-9);
  const tail = Math.sqrt(2 * n * p.localNoiseStddev ** 2 * Math.log((2 * p.dimension) / prob));
  const bound = n * Math.floor(ddgRoundedL2Bound(p)) + Math.ceil(tail);
  const room = 2 ** (bits - 1) - 1;
  if (!(bound <= room)) {
    throw new DpError(
      "invalid_parameter",
      `The noisy sum of ${n} clients could overflow the modulus 2^${bits}: bound ${bound} > 2^${bits - 1} - 1. Use more bits, a coarser granularity or fewer clients.`,
      "modulusBits",
    );
  }
  return bound;
}

/**
 * One client's share: clip to L2 norm c, scale to grid steps, conditional randomized rounding
 * (repeat until ‖z‖₂ <= Δ₂), plus exact discrete Gaussian noise N_Z(0, σ²) per coordinate.
 *
 * @remarks
 * The norm check is on the integers actually sent, so the sensitivity Δ₂ holds whatever the
 * floating-point error of the scaling. Noise is drawn with dpkit's exact sampler; a seeded Rng
 * gives no privacy.
 *
 * @param values - the update (d entries; non-finite entries count as 0)
 * @param parameters - the mechanism's parameters
 * @param rng - randomness; defaults to the secure source
 * @returns the noisy integer vector (grid steps), as a Float64Array of integers
 * @throws {@link DpError} `invalid_parameter` for a length mismatch
 * @example
 * ```ts
 * import { ddgClientShare } from "dpkit/federated";
 * const z = ddgClientShare([0.6, -0.8], { l2NormClip: 1, granularity: 2 ** -8, localNoiseStddev: 16, dimension: 2 });
 * ```
 * @see Kairouz, Liu & Steinke 2021, Algorithm 1.
 */
export function ddgClientShare(values: ArrayLike<number>, parameters: DistributedDiscreteGaussianParameters, rng?: Rng): Float64Array {
  const p = resolve(parameters);
  const d = p.dimension;
  if (values.length !== d) throw new DpError("invalid_parameter", `\`values\` must have ${d} entries. Found ${values.length}.`, "values");
  const x = new Float64Array(d);
  let norm2 = 0;
  for (let i = 0; i < d; i++) {
    const v = Number.isFinite(values[i]) ? values[i] : 0;
    x[i] = v;
    norm2 += v * v;
  }
  const norm = Math.sqrt(norm2);
  const factor = (norm > p.l2NormClip ? p.l2NormClip / norm : 1) / p.granularity;
  for (let i = 0; i < d; i++) x[i] *= factor;
  // Slightly below the real bound so that float error can only make the check stricter.
  const limit = Math.floor(ddgRoundedL2Bound(p) ** 2 * (1 - 1e-12));
  const z = new Float64Array(d);
  for (let attempt = 0; ; attempt++) {
    let s = 0;
    for (let i = 0; i < d; i++) {
      const lower = Math.floor(x[i]);
      const frac = x[i] - lower;
      z[i] = frac > 0 && bernoulli(frac, rng) ? lower + 1 : lower;
      s += z[i] * z[i];
    }
    let within = s <= limit;
    if (Math.abs(s - limit) <= 1e-9 * limit + 1) {
      let exact = 0n;
      for (let i = 0; i < d; i++) exact += BigInt(z[i]) * BigInt(z[i]);
      within = exact <= BigInt(limit);
    }
    if (within) break;
    if (attempt > 10_000) throw new DpError("invalid_state", "Conditional rounding did not meet the norm bound in 10,000 attempts.");
  }
  for (let i = 0; i < d; i++) z[i] += discreteGaussian(p.localNoiseStddev, rng);
  return z;
}

/**
 * The noise σ (grid steps) each of `clients` shares needs so that the sum's effective noise
 * multiplier is at least `noiseMultiplier` (bisection on {@link ddgPrivacy}, re-checked).
 *
 * @param parameters - the mechanism's parameters without `localNoiseStddev`
 * @param clients - n noise shares surely in the sum
 * @param noiseMultiplier - the target z_eff
 * @returns σ in grid steps (>= 0.5)
 * @example
 * ```ts
 * import { ddgLocalStddevFor } from "dpkit/federated";
 * ddgLocalStddevFor({ l2NormClip: 1, granularity: 2 ** -8, dimension: 100 }, 50, 1.0);
 * ```
 * @see Kairouz, Liu & Steinke 2021.
 */
export function ddgLocalStddevFor(
  parameters: Omit<DistributedDiscreteGaussianParameters, "localNoiseStddev">,
  clients: number,
  noiseMultiplier: number,
): number {
  requirePositive("noiseMultiplier", noiseMultiplier);
  requireInteger("clients", clients, { min: 1 });
  const z = (s: number): number => ddgPrivacy({ ...parameters, localNoiseStddev: s }, clients).noiseMultiplier;
  let lo = 0.5;
  if (z(lo) >= noiseMultiplier) return lo;
  let hi = 1;
  while (z(hi) < noiseMultiplier) hi *= 2;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (z(mid) >= noiseMultiplier) hi = mid;
    else lo = mid;
  }
  return hi;
}
