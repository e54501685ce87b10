/**
 * Uniformly random permutations (Fisher–Yates, Durstenfeld's in-place form) with exact uniform
 * integers, so every order is exactly equally likely. The one shuffle of dpkit: federated
 * partitions and local epochs, the linkage defences and the attacker's sample all use it.
 *
 * @see https://doi.org/10.1145/364520.364540 (Durstenfeld 1964, Algorithm 235)
 * @module
 */
import { requireInteger } from "../errors.js";
import type { Rng } from "./rng.js";
import { uniformInt } from "./uniform.js";

/**
 * A uniformly random permutation of 0..n-1.
 *
 * @param n - length, an integer in [0, 2^31)
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns the permutation
 * @throws {@link DpError} `invalid_parameter` for a bad `n`
 * @example
 * ```ts
 * import { permutation } from "dpkit/random";
 * permutation(5); // e.g. Int32Array [3, 0, 4, 1, 2]
 * ```
 */
export function permutation(n: number, rng?: Rng): Int32Array {
  requireInteger("n", n, { min: 0, max: 2 ** 31 - 1 });
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = uniformInt(i + 1, rng);
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/**
 * Partial Fisher–Yates in place: afterwards `items[0..count)` is a uniformly random ordered
 * selection of `count` distinct entries of `items` (the rest of the array holds the others).
 *
 * @param items - the array to reorder (modified)
 * @param count - how many leading entries to draw, an integer in [0, items.length]
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns `items`
 * @throws {@link DpError} `invalid_parameter` when `count` is out of range
 * @example
 * ```ts
 * import { partialShuffle } from "dpkit/random";
 * partialShuffle([10, 20, 30, 40], 2).slice(0, 2); // two distinct entries, e.g. [30, 10]
 * ```
 */
export function partialShuffle<T extends { length: number; [i: number]: unknown }>(items: T, count: number, rng?: Rng): T {
  const n = items.length;
  requireInteger("count", count, { min: 0, max: n });
  for (let k = 0; k < count; k++) {
    const j = k + uniformInt(n - k, rng);
    const t = items[k];
    items[k] = items[j];
    items[j] = t;
  }
  return items;
}
