/**
 * MT19937, the 32-bit Mersenne Twister (Matsumoto & Nishimura 1998), for {@link SeededRng} only:
 * reproducible and fast, **not** secure (624 outputs reveal its state).
 *
 * A plain transcription of the reference `mt19937ar.c` (`init_genrand`, `genrand_int32`), so a
 * seed gives the same stream as every other standard implementation (C++ `std::mt19937`, Python's
 * `random` core, random-js's `MersenneTwister19937.seed`, which dpkit used before). Kept in
 * dpkit rather than depending on random-js, whose module also holds a `require("crypto")` engine
 * that made every browser bundle of dpkit fail to build.
 *
 * @see https://doi.org/10.1145/272991.272995
 * @module
 */

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER = 0x80000000;
const LOWER = 0x7fffffff;

/** A seeded MT19937 stream. @internal */
export class Mt19937 {
  private readonly mt = new Uint32Array(N);
  private index = N;

  /**
   * @param seed - any integer; only its low 32 bits are used (as `init_genrand` does)
   */
  constructor(seed: number) {
    const mt = this.mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = (Math.imul(prev, 0x6c078965) + i) >>> 0;
    }
  }

  /** The next output, a uniformly distributed integer in [0, 2^32). */
  nextUint32(): number {
    if (this.index >= N) this.twist();
    let y = this.mt[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const mt = this.mt;
    let k = 0;
    for (; k < N - M; k++) {
      const y = (mt[k] & UPPER) | (mt[k + 1] & LOWER);
      mt[k] = mt[k + M] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    for (; k < N - 1; k++) {
      const y = (mt[k] & UPPER) | (mt[k + 1] & LOWER);
      mt[k] = mt[k + M - N] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    const y = (mt[N - 1] & UPPER) | (mt[0] & LOWER);
    mt[N - 1] = mt[M - 1] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    this.index = 0;
  }
}
