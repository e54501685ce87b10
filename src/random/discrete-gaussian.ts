/**
 * Exact discrete Gaussian: P[X = x] ∝ exp(-x² / (2 sigma²)), x ∈ ℤ (Canonne, Kamath & Steinke
 * 2020, Algorithm 3): rejection from a discrete Laplace proposal with every acceptance decided
 * exactly.
 *
 * @see https://arxiv.org/abs/2004.00010
 * @module
 */
import { DpError, requirePositive } from "../errors.js";
import { bernoulliExpRational } from "./bernoulli.js";
import { discreteLaplaceNumber, discreteLaplaceRational } from "./discrete-laplace.js";
import { discreteZigguratFill, ZIGGURAT_MAX_SIGMA, ZIGGURAT_MIN_SIGMA } from "./discrete-ziggurat.js";
import { bernoulliExpApprox, fastDiscreteGaussian } from "./exp-bernoulli.js";
import { doubleToRational, type Rational } from "./rational.js";
import { resolveRng, type Rng } from "./rng.js";

const TWO46 = 2 ** 46;

/**
 * Exact discrete Gaussian sample with variance parameter sigma² = num/den:
 * P[X = x] ∝ exp(-x² / (2 sigma²)), x ∈ ℤ (CKS 2020, Algorithm 3).
 * @param sigma2Num - numerator of sigma² (>= 1)
 * @param sigma2Den - denominator of sigma² (>= 1)
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns a bigint
 * @throws {@link DpError} `invalid_parameter` for a non-positive sigma²
 * @see https://arxiv.org/abs/2004.00010
 * @example
 * ```ts
 * import { discreteGaussianRational } from "dpkit/random";
 * discreteGaussianRational(9n, 4n); // sigma = 1.5
 * ```
 */
export function discreteGaussianRational(sigma2Num: bigint, sigma2Den: bigint, rng?: Rng): bigint {
  if (typeof sigma2Num !== "bigint" || typeof sigma2Den !== "bigint" || sigma2Num < 1n || sigma2Den < 1n) {
    throw new DpError("invalid_parameter", `\`sigma^2\` must be a rational > 0. Found ${String(sigma2Num)}/${String(sigma2Den)}.`, "sigma");
  }
  const r = resolveRng(rng);
  const a = sigma2Num;
  const b = sigma2Den;
  // t = floor(sigma) + 1, computed exactly: largest t0 with t0^2 <= a/b, then + 1.
  let t0 = BigInt(Math.floor(Math.sqrt(Number(a) / Number(b))));
  while (t0 * t0 * b > a) t0--;
  while ((t0 + 1n) * (t0 + 1n) * b <= a) t0++;
  const t = t0 + 1n;
  const twoABT2 = 2n * a * b * t * t;
  for (;;) {
    const y = discreteLaplaceRational(t, 1n, r);
    const absY = y < 0n ? -y : y;
    const diff = absY * t * b - a;
    if (bernoulliExpRational(diff * diff, twoABT2, r)) return y;
  }
}

/** Unit roundoff of doubles. */
const U = 2 ** -53;

/**
 * A discrete Gaussian sampler for one double sigma in (2^-400, 2^46): CKS Algorithm 3 in double
 * arithmetic. The proposal (discrete Laplace with integer scale t) is exact in doubles; the
 * acceptance Bernoulli(exp(-g)), g = (|y| - sigma²/t)² / (2 sigma²), uses a rigorous enclosure
 * [gLo, gHi] of g computed in doubles and falls back to exact bigint arithmetic only when a
 * uniform lands inside the enclosure (probability about 2^-45 per comparison), so the output
 * distribution is exactly the discrete Gaussian.
 * @internal
 */
export function discreteGaussianSampler(sigma: number): (r: Rng) => number {
  return discreteGaussianSamplers(sigma).sample;
}

/**
 * A vector form of {@link discreteGaussianSampler}: fills a Float64Array with independent exact
 * discrete Gaussian samples. For 0.25 <= sigma <= 2^40 (the grid mechanisms' range and DP-SGD's
 * grid noise) it runs the exact discrete ziggurat (`discrete-ziggurat.ts`: 256 equal-area layers,
 * an integer comparison for about 98.5% of draws, random words read in blocks), as fast as the
 * continuous `fillGaussian`; elsewhere it calls the scalar sampler per coordinate.
 * @internal
 */
export function discreteGaussianVectorSampler(sigma: number): (out: Float64Array, r: Rng) => void {
  requirePositive("sigma", sigma);
  if (sigma >= ZIGGURAT_MIN_SIGMA && sigma <= ZIGGURAT_MAX_SIGMA) return discreteZigguratFill(sigma);
  return discreteGaussianSamplers(sigma).fill;
}

function discreteGaussianSamplers(sigma: number): { sample: (r: Rng) => number; fill: (out: Float64Array, r: Rng) => void } {
  const perCoordinate = (sample: (r: Rng) => number) => ({
    sample,
    fill: (out: Float64Array, r: Rng): void => {
      for (let i = 0; i < out.length; i++) out[i] = sample(r);
    },
  });
  requirePositive("sigma", sigma);
  if (!(sigma > 2 ** -400 && sigma < TWO46)) {
    const { num, den } = doubleToRational(sigma);
    return perCoordinate((r) => Number(discreteGaussianRational(num * num, den * den, r)));
  }
  const t = Math.floor(sigma) + 1;
  const s2 = sigma * sigma;
  const c = s2 / t;
  const twoS2 = 2 * s2;
  let exactParts: { m2: bigint; fourE: bigint; bt: bigint; den: bigint } | undefined;
  const exactG = (absY: number): Rational => {
    // sigma = M / 2^E exactly, so g = (|y| t 4^E - M²)² / (2 M² t² 4^E).
    if (!exactParts) {
      const q = doubleToRational(sigma);
      const fourE = q.den * q.den;
      const m2 = q.num * q.num;
      const bt = BigInt(t);
      exactParts = { m2, fourE, bt, den: 2n * m2 * bt * bt * fourE };
    }
    const p = exactParts;
    const diff = BigInt(absY) * p.bt * p.fourE - p.m2;
    return { num: diff * diff, den: p.den };
  };
  const exactPair = (absY: number): [bigint, bigint] => {
    const e = exactG(absY);
    return [e.num, e.den];
  };
  if (sigma >= 0.5 && sigma < 2 ** 31) {
    const sample = fastDiscreteGaussian(sigma, exactPair);
    return perCoordinate(sample);
  }
  return perCoordinate((r) => {
    for (;;) {
      const y = discreteLaplaceNumber(t, 1, r);
      const absY = y < 0 ? -y : y;
      if (absY > TWO46) {
        // Astronomically unlikely: decide exactly.
        const g = exactG(absY);
        if (bernoulliExpRational(g.num, g.den, r)) return y;
        continue;
      }
      const d = absY - c;
      const errD = 4 * U * (c + absY);
      const ad = d < 0 ? -d : d;
      const g = (d * d) / twoS2;
      const err = 2 * (((2 * ad * errD + errD * errD) / twoS2) * (1 + 8 * U) + g * 8 * U) + 2 ** -1000;
      const accept = bernoulliExpApprox(g, err, exactPair, absY, r);
      if (accept) return y;
    }
  });
}

/**
 * Exact discrete Gaussian sample: P[X = x] ∝ exp(-x² / (2 sigma²)), x ∈ ℤ.
 *
 * @remarks
 * Canonne, Kamath & Steinke (2020), Algorithm 3: rejection sampling from a discrete Laplace
 * proposal, with every acceptance decided exactly (doubles with a rigorous error enclosure and
 * an exact bigint fallback), so the distribution is exactly the discrete Gaussian.
 * Adding it to an integer query of L2 sensitivity Δ gives (Δ²/(2 sigma²))-zCDP.
 *
 * @param sigma - > 0 (its exact double value is used; sigma² is formed exactly)
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns an integer (never -0)
 * @throws {@link DpError} when `sigma` is not a finite number > 0
 * @see https://arxiv.org/abs/2004.00010
 * @example
 * ```ts
 * import { discreteGaussian } from "dpkit/random";
 * const noise = discreteGaussian(3);
 * ```
 */
export function discreteGaussian(sigma: number, rng?: Rng): number {
  if (lastGaussian === undefined || lastGaussian.sigma !== sigma) {
    lastGaussian = { sigma, sample: discreteGaussianSampler(sigma) };
  }
  return lastGaussian.sample(resolveRng(rng));
}
let lastGaussian: { sigma: number; sample: (r: Rng) => number } | undefined;
