/**
 * Exact geometric samplers: P[X = k] ∝ e^{-k s/t} (the magnitude step of Canonne, Kamath &
 * Steinke 2020, Algorithm 2), and the number of failures before a Bernoulli(p) success.
 *
 * @see https://arxiv.org/abs/2004.00010
 * @module
 */
import { DpError, requirePositive, requireProbability } from "../errors.js";
import { bernoulli, bernoulliExpMinusOne, bernoulliExpRational } from "./bernoulli.js";
import { bernoulliExpApprox, geometricByInversion } from "./exp-bernoulli.js";
import { doubleToRational, dyadic } from "./rational.js";
import { resolveRng, type Rng } from "./rng.js";
import { TWO53, uniformBelow, uniformBigInt } from "./uniform.js";

const BIG_TWO53 = 2n ** 53n;
const BIG_TWO46 = 2n ** 46n;

/**
 * Exact geometric with P[X = k] ∝ e^{-k s / t} for safe integers t <= 2^46, s <= 2^53, by
 * inversion of one lazily refined uniform (see exp-bernoulli.ts). @internal
 */
export function geometricExpNumber(t: number, s: number, r: Rng): number {
  // Inversion needs V resolved to about s/t relative; the double enclosure is 2^-44 wide, so
  // it is used directly up to t/s = 2^32 (bigint refinement in about 2^-11 of the draws).
  if (t <= INVERSION_MAX_SCALE * s) return geometricByInversion(t, s, r);
  // Larger scales: CKS Algorithm 2's split X = U + t·V with U uniform in [0, t) accepted with
  // probability e^{-U/t}, and V geometric with rate 1 (by inversion: thresholds e^{-v}).
  let u: number;
  for (;;) {
    u = uniformBelow(t, r);
    const a = u / t;
    if (bernoulliExpApprox(a, a * 2 ** -50, (uu) => [BigInt(uu), BigInt(t)], u, r)) break;
  }
  const v = geometricByInversion(1, 1, r);
  if (v > (TWO53 - t) / t) return Number((BigInt(u) + BigInt(t) * BigInt(v)) / BigInt(s));
  const x = u + t * v; // exact: below 2^53
  if (s === 1) return x;
  let q = Math.floor(x / s);
  while (q * s > x) q--;
  while ((q + 1) * s <= x) q++;
  return q;
}
const INVERSION_MAX_SCALE = 2 ** 32;

/**
 * Exact geometric sample: P[X = k] = (1 - e^{-s/t}) e^{-k s/t}, k = 0, 1, ...,
 * for a rational scale t/s (the magnitude step of CKS Algorithm 2).
 * @param t - scale numerator >= 1
 * @param s - scale denominator >= 1
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns a non-negative bigint
 * @throws {@link DpError} `invalid_parameter` for a non-positive scale
 * @see https://arxiv.org/abs/2004.00010
 * @example
 * ```ts
 * import { geometricExpRational } from "dpkit/random";
 * geometricExpRational(3n, 1n); // P[k] ∝ e^{-k/3}
 * ```
 */
export function geometricExpRational(t: bigint, s: bigint, rng?: Rng): bigint {
  if (typeof t !== "bigint" || typeof s !== "bigint" || t < 1n || s < 1n) {
    throw new DpError("invalid_parameter", `\`scale\` must be a rational > 0. Found ${String(t)}/${String(s)}.`, "scale");
  }
  const r = resolveRng(rng);
  if (t <= BIG_TWO46 && s <= BIG_TWO53) return BigInt(geometricExpNumber(Number(t), Number(s), r));
  for (;;) {
    const u = uniformBigInt(t, r);
    if (!bernoulliExpRational(u, t, r)) continue;
    let v = 0n;
    while (bernoulliExpMinusOne(r)) v++;
    const x = u + t * v; // geometric with parameter e^{-1/t}
    return x / s; // floor: geometric with parameter e^{-s/t}
  }
}

/**
 * Exact geometric sample with P[X = k] = (1 - e^{-1/scale}) e^{-k/scale}, k >= 0.
 * @param scale - > 0 (its exact double value is used)
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns a non-negative integer
 * @throws {@link DpError} when `scale` is not a finite number > 0
 * @example
 * ```ts
 * import { geometricExp } from "dpkit/random";
 * geometricExp(2); // P[k] ∝ e^{-k/2}
 * ```
 */
export function geometricExp(scale: number, rng?: Rng): number {
  requirePositive("scale", scale);
  const r = resolveRng(rng);
  const d = dyadic(scale);
  if (d !== undefined) return geometricExpNumber(d.num, d.den, r);
  const { num, den } = doubleToRational(scale);
  return Number(geometricExpRational(num, den, r));
}

/**
 * Exact geometric sample: number of failures before the first success of Bernoulli(p) trials.
 * Cost is O(1/p) trials; for small p use {@link geometricExp}.
 * @param p - success probability in (0, 1]
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns k >= 0 with P[k] = (1 - p)^k p
 * @throws {@link DpError} when `p` is not in (0, 1]
 * @example
 * ```ts
 * import { geometric } from "dpkit/random";
 * geometric(0.5); // 0 with probability 1/2, 1 with 1/4, ...
 * ```
 */
export function geometric(p: number, rng?: Rng): number {
  requireProbability("p", p);
  if (p === 0) throw new DpError("invalid_parameter", "`p` must be > 0. Found 0.", "p");
  const r = resolveRng(rng);
  let k = 0;
  while (!bernoulli(p, r)) k++;
  return k;
}
