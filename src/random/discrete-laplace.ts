/**
 * Exact discrete Laplace: P[X = x] ∝ exp(-|x| s/t), x ∈ ℤ (Canonne, Kamath & Steinke 2020,
 * Algorithm 2): a geometric magnitude and a uniform sign, rejecting -0.
 *
 * @see https://arxiv.org/abs/2004.00010
 * @module
 */
import { DpError, requirePositive } from "../errors.js";
import { fastDiscreteLaplace } from "./exp-bernoulli.js";
import { geometricExpNumber, geometricExpRational } from "./geometric.js";
import { doubleToRational, dyadic } from "./rational.js";
import { resolveRng, type Rng } from "./rng.js";
import { TWO32 } from "./uniform.js";

const BIG_TWO53 = 2n ** 53n;
const BIG_TWO46 = 2n ** 46n;

/** Discrete Laplace with integer-friendly scale t/s (t <= 2^46, s <= 2^53), doubles. @internal */
export function discreteLaplaceNumber(t: number, s: number, r: Rng): number {
  for (;;) {
    const y = geometricExpNumber(t, s, r);
    const negative = (r.nextUint32() & 1) === 1;
    if (negative) {
      if (y === 0) continue;
      return -y;
    }
    return y;
  }
}

/**
 * Exact discrete Laplace sample with scale t/s: P[X = x] ∝ exp(-|x| s / t), x ∈ ℤ
 * (CKS 2020, Algorithm 2).
 * @param t - scale numerator >= 1
 * @param s - scale denominator >= 1
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns a bigint
 * @throws {@link DpError} `invalid_parameter` for a non-positive scale
 * @see https://arxiv.org/abs/2004.00010
 * @example
 * ```ts
 * import { discreteLaplaceRational } from "dpkit/random";
 * discreteLaplaceRational(10n, 3n); // scale 10/3
 * ```
 */
export function discreteLaplaceRational(t: bigint, s: bigint, rng?: Rng): bigint {
  if (typeof t !== "bigint" || typeof s !== "bigint" || t < 1n || s < 1n) {
    throw new DpError("invalid_parameter", `\`scale\` must be a rational > 0. Found ${String(t)}/${String(s)}.`, "scale");
  }
  const r = resolveRng(rng);
  if (t <= BIG_TWO46 && s <= BIG_TWO53) return BigInt(discreteLaplaceNumber(Number(t), Number(s), r));
  for (;;) {
    const y = geometricExpRational(t, s, r);
    const negative = (r.nextUint32() & 1) === 1;
    if (negative && y === 0n) continue;
    return negative ? -y : y;
  }
}

/**
 * Exact discrete Laplace sample: P[X = x] ∝ exp(-|x| / scale), x ∈ ℤ.
 *
 * @remarks
 * Adding it to an integer query of sensitivity Δ gives (Δ / scale)-differential privacy; the
 * output is an integer, so no floating-point artefact can leak the input (CKS 2020, Algorithm 2).
 *
 * @param scale - > 0 (its exact double value is used)
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns an integer (never -0)
 * @throws {@link DpError} when `scale` is not a finite number > 0
 * @see https://arxiv.org/abs/2004.00010
 * @example
 * ```ts
 * import { discreteLaplace } from "dpkit/random";
 * const noise = discreteLaplace(2); // e.g. -1, 0, 3, ...
 * ```
 */
export function discreteLaplace(scale: number, rng?: Rng): number {
  if (lastLaplace === undefined || lastLaplace.scale !== scale) {
    lastLaplace = { scale, sample: discreteLaplaceSampler(scale) };
  }
  return lastLaplace.sample(resolveRng(rng));
}
let lastLaplace: { scale: number; sample: (r: Rng) => number } | undefined;

/**
 * A discrete Laplace sampler for one scale (P[x] ∝ exp(-|x|/scale)), with the parameter work
 * (exact rational form, double fast path) done once. @internal
 */
export function discreteLaplaceSampler(scale: number): (r: Rng) => number {
  requirePositive("scale", scale);
  const d = dyadic(scale);
  if (d !== undefined && d.den === 1 && d.num <= TWO32) return fastDiscreteLaplace(d.num);
  if (d !== undefined) return (r) => discreteLaplaceNumber(d.num, d.den, r);
  const { num, den } = doubleToRational(scale);
  return (r) => Number(discreteLaplaceRational(num, den, r));
}
