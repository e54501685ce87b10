/**
 * Adaptive clipping (Andrew, Thakkar, McMahan & Ramaswamy, "Differentially Private Learning
 * with Adaptive Clipping", NeurIPS 2021): the clip bound C follows a privately estimated
 * quantile γ of the per-example gradient norms.
 *
 * Each step releases, besides the noised gradient sum, the noised count
 * b̃ = (Σ_i 1[‖g_i‖ ≤ C] + N(0, σ_b²)) / (q·N) and updates C ← C · exp(−η (b̃ − γ)).
 *
 * Accounting. Both releases read the same Poisson sample. Stacked and scaled by their noise,
 * they are one Gaussian mechanism on the vector (Σ clip(g_i)/(σ_g C), Σ b_i/σ_b), whose L2
 * sensitivity under add/remove-one is √(σ_g⁻² + σ_b⁻²). So a step is exactly
 * `poissonSampled(q, gaussian(σ))` with σ = (σ_g⁻² + σ_b⁻²)^(−1/2). As in the paper, the user
 * gives the total σ (the one the accountant sees) and σ_b; the gradient noise is
 * σ_g = (σ⁻² − σ_b⁻²)^(−1/2), slightly above σ.
 *
 * @see https://arxiv.org/abs/1905.03871
 * @module
 */
import { DpError, requireNonNegative, requirePositive, requireOpenProbability } from "../errors.js";
import { fillGaussian } from "../random/gaussian.js";
import type { Rng } from "../random/rng.js";

/** Options of adaptive clipping. */
export interface AdaptiveClippingOptions {
  /** The quantile γ of per-example norms that C tracks, in (0, 1). Default 0.5. */
  targetQuantile?: number;
  /** Geometric learning rate η of the clip update; > 0. Default 0.2 (the paper's value). */
  learningRate?: number;
  /**
   * Noise multiplier σ_b of the quantile count (standard deviation of the noise on a count of
   * sensitivity 1); must exceed the total `noiseMultiplier`. Default: expected batch size / 20
   * (the paper's recommendation), raised to twice the total noise multiplier when below it.
   */
  countNoiseMultiplier?: number;
}

/**
 * Splits a total noise multiplier σ between the gradient sum and the quantile count.
 *
 * @remarks
 * Returns σ_g = (σ⁻² − σ_b⁻²)^(−1/2), so that the combined release of one step is the Gaussian
 * mechanism with noise multiplier exactly σ (see the module notes).
 *
 * @param noiseMultiplier - total σ the accountant sees; > 0
 * @param countNoiseMultiplier - σ_b; > σ
 * @returns the gradient noise multiplier σ_g
 * @throws {@link DpError} `invalid_parameter` unless σ_b > σ > 0
 * @example
 * ```ts
 * import { gradientNoiseMultiplier } from "dpkit/dpsgd";
 * gradientNoiseMultiplier(1.0, 10); // 1.005...
 * ```
 * @see https://arxiv.org/abs/1905.03871
 */
export function gradientNoiseMultiplier(noiseMultiplier: number, countNoiseMultiplier: number): number {
  const s = requirePositive("noiseMultiplier", noiseMultiplier);
  const sb = requirePositive("countNoiseMultiplier", countNoiseMultiplier);
  if (!(sb > s)) {
    throw new DpError(
      "invalid_parameter",
      `\`countNoiseMultiplier\` must be > \`noiseMultiplier\` (${s}) so that the gradient keeps some of the noise budget. Found ${sb}.`,
      "countNoiseMultiplier",
    );
  }
  return 1 / Math.sqrt(1 / (s * s) - 1 / (sb * sb));
}

/**
 * The state of adaptive clipping: the current clip bound and its private update.
 *
 * @remarks
 * {@link AdaptiveClipState.update} releases one noised count of per-example norms at or below
 * the current bound, with noise N(0, σ_b²) from the secure sampler. Its privacy cost is part
 * of the step's Gaussian event (see the module notes); it must be called once per step, on the
 * same Poisson sample as the gradient.
 *
 * @example
 * ```ts
 * import { AdaptiveClipState } from "dpkit/dpsgd";
 * const clip = new AdaptiveClipState({ initialL2NormClip: 1, noiseMultiplier: 1.1, expectedBatchSize: 256 });
 * clip.update(new Float32Array([0.5, 2, 3])); // moves C toward the median norm
 * ```
 * @see https://arxiv.org/abs/1905.03871
 */
export class AdaptiveClipState {
  /** Current clip bound C. */
  l2NormClip: number;
  /** Quantile γ tracked. */
  readonly targetQuantile: number;
  /** Learning rate η. */
  readonly learningRate: number;
  /** Noise multiplier of the quantile count σ_b. */
  readonly countNoiseMultiplier: number;
  /** Gradient noise multiplier σ_g (to use with the current C). */
  readonly gradientNoiseMultiplier: number;
  /** Total σ the accountant sees per step. */
  readonly noiseMultiplier: number;
  private readonly expectedBatchSize: number;

  /**
   * @param options - initial clip, total noise multiplier, expected batch size and the adaptive options
   * @throws {@link DpError} `invalid_parameter` for values out of range
   */
  constructor(options: AdaptiveClippingOptions & { initialL2NormClip: number; noiseMultiplier: number; expectedBatchSize: number }) {
    this.l2NormClip = requirePositive("initialL2NormClip", options.initialL2NormClip);
    this.targetQuantile = requireOpenProbability("targetQuantile", options.targetQuantile ?? 0.5);
    this.learningRate = requirePositive("learningRate", options.learningRate ?? 0.2);
    this.expectedBatchSize = requirePositive("expectedBatchSize", options.expectedBatchSize);
    this.noiseMultiplier = requirePositive("noiseMultiplier", options.noiseMultiplier);
    const defaultSb = Math.max(this.expectedBatchSize / 20, 2 * this.noiseMultiplier);
    this.countNoiseMultiplier = requirePositive("countNoiseMultiplier", options.countNoiseMultiplier ?? defaultSb);
    this.gradientNoiseMultiplier = gradientNoiseMultiplier(this.noiseMultiplier, this.countNoiseMultiplier);
  }

  /**
   * Privately updates the clip bound from this step's per-example norms (before clipping).
   * @param norms - the norms of the examples in this step's Poisson sample
   * @param rng - randomness source; defaults to the secure source. A seeded Rng is insecure.
   * @returns the new clip bound
   */
  update(norms: ArrayLike<number>, rng?: Rng): number {
    let count = 0;
    for (let i = 0; i < norms.length; i++) if (norms[i] <= this.l2NormClip) count++; // NaN counts as above
    const noise = fillGaussian(new Float64Array(1), this.countNoiseMultiplier, rng)[0];
    const fraction = (count + noise) / this.expectedBatchSize;
    const next = this.l2NormClip * Math.exp(-this.learningRate * (fraction - this.targetQuantile));
    this.l2NormClip = requireNonNegative("l2NormClip", next) > 0 ? next : Number.MIN_VALUE;
    return this.l2NormClip;
  }
}
