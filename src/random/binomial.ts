/**
 * Exact binomial: n exact Bernoulli(p) trials (bit counting for p = 1/2).
 * @module
 */
import { requireInteger, requireProbability } from "../errors.js";
import { bernoulli } from "./bernoulli.js";
import { resolveRng, type Rng } from "./rng.js";

function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/**
 * Exact Binomial(n, p) sample for a double p in [0, 1].
 *
 * @remarks
 * n exact Bernoulli(p) trials; for p = 1/2 it counts random bits 32 at a time. Cost O(n)
 * (O(n/32) for p = 1/2).
 *
 * @param n - number of trials, an integer >= 0
 * @param p - success probability in [0, 1]
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns the number of successes
 * @throws {@link DpError} for a bad `n` or `p`
 * @example
 * ```ts
 * import { binomial } from "dpkit/random";
 * binomial(100, 0.5); // about 50
 * ```
 */
export function binomial(n: number, p: number, rng?: Rng): number {
  requireInteger("n", n, { min: 0 });
  requireProbability("p", p);
  const r = resolveRng(rng);
  if (p === 0 || n === 0) return 0;
  if (p === 1) return n;
  if (p === 0.5) {
    let count = 0;
    let left = n;
    while (left >= 32) {
      count += popcount32(r.nextUint32());
      left -= 32;
    }
    if (left > 0) count += popcount32(r.nextUint32() & (((1 << left) - 1) >>> 0));
    return count;
  }
  let count = 0;
  for (let i = 0; i < n; i++) if (bernoulli(p, r)) count++;
  return count;
}
