/**
 * Uniform integers and uniform doubles from 32-bit words, by rejection (no modulo bias).
 * @module
 */
import { DpError, requireInteger } from "../errors.js";
import { resolveRng, type Rng } from "./rng.js";

// 2^32, 2^53, 2^21: the word sizes every sampler works with (internal; not in the barrel).
export const TWO32 = 4294967296;
export const TWO53 = 9007199254740992;
export const TWO21 = 2097152;

/**
 * A uniformly random integer in [0, n), n a safe integer in [1, 2^53], without validation.
 * Rejection on the largest multiple of n below 2^32 (or 2^53): no modulo bias.
 * @internal
 */
export function uniformBelow(n: number, r: Rng): number {
  if (n <= TWO32) {
    if (n === 1) return 0;
    // Accept x < limit, the largest multiple of n not above 2^32.
    const limit = TWO32 - (TWO32 % n);
    for (;;) {
      const x = r.nextUint32();
      if (x < limit) return x % n;
    }
  }
  const limit = TWO53 - (TWO53 % n);
  for (;;) {
    const hi = r.nextUint32() & (TWO21 - 1);
    const x = hi * TWO32 + r.nextUint32();
    if (x < limit) return x % n;
  }
}

/**
 * A uniformly random integer in [0, n) by rejection sampling (no modulo bias).
 *
 * @remarks
 * Draws 32-bit words (two words, 53 bits, when n > 2^32) and rejects the values at or above the
 * largest multiple of n that fits, so every residue is equally likely.
 *
 * @param n - an integer in [1, 2^53]
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns an integer in [0, n)
 * @throws {@link DpError} `invalid_parameter` when `n` is not an integer in [1, 2^53]
 * @example
 * ```ts
 * import { uniformInt } from "dpkit/random";
 * const die = uniformInt(6) + 1;
 * ```
 */
export function uniformInt(n: number, rng?: Rng): number {
  if (!(Number.isInteger(n) && n >= 1 && n <= TWO53)) requireInteger("n", n, { min: 1, max: TWO53 });
  return uniformBelow(n, resolveRng(rng));
}

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/**
 * A uniformly random bigint in [0, n) by rejection on the smallest power of two above n.
 *
 * @remarks
 * Draws ceil(log2 n) random bits (masked to the bit length of n - 1) and rejects values >= n:
 * every value is exactly equally likely; fewer than 2 attempts are needed on average.
 *
 * @param n - a bigint >= 1
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns a bigint in [0, n)
 * @throws {@link DpError} `invalid_parameter` unless n is a bigint >= 1
 * @example
 * ```ts
 * import { uniformBigInt } from "dpkit/random";
 * uniformBigInt(2n ** 100n);
 * ```
 */
export function uniformBigInt(n: bigint, rng?: Rng): bigint {
  if (typeof n !== "bigint" || n < 1n) {
    throw new DpError("invalid_parameter", `\`n\` must be a bigint >= 1. Found ${String(n)}.`, "n");
  }
  if (n <= BigInt(TWO53)) return BigInt(uniformInt(Number(n), rng));
  const r = resolveRng(rng);
  const bits = bitLength(n - 1n);
  const words = Math.ceil(bits / 32);
  const topBits = bits - 32 * (words - 1);
  const topMask = topBits === 32 ? 0xffffffff : (1 << topBits) - 1;
  for (;;) {
    let x = BigInt((r.nextUint32() & topMask) >>> 0);
    for (let i = 1; i < words; i++) x = (x << 32n) | BigInt(r.nextUint32());
    if (x < n) return x;
  }
}

/**
 * A uniform double k / 2^53 in [0, 1) (53 random bits).
 *
 * @remarks
 * For simulations and for the tests' naive fixtures. Do not build privacy noise from it by
 * floating-point transformations (that is exactly the Mironov 2012 attack surface); use the
 * exact samplers or the grid mechanisms.
 *
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns a double in [0, 1)
 * @example
 * ```ts
 * import { uniform01 } from "dpkit/random";
 * uniform01(); // e.g. 0.4183...
 * ```
 */
export function uniform01(rng?: Rng): number {
  const r = resolveRng(rng);
  const hi = r.nextUint32() & (TWO21 - 1);
  return (hi * TWO32 + r.nextUint32()) / TWO53;
}
