/**
 * Continuous Gaussian vectors: a ziggurat sampler (Marsaglia & Tsang 2000) on 53-bit uniforms
 * from the secure source. Floating-point noise: DP-SGD and DP-FedAvg use it only with
 * `noise: "continuous"` (their default is exact grid noise, `addGaussianNoise` in
 * `dpkit/mechanisms`); released statistics use the grid mechanisms.
 *
 * @see https://doi.org/10.18637/jss.v005.i08
 * @module
 */
import { requireInteger, requireNonNegative } from "../errors.js";
import { resolveRng, SecureRng, type Rng } from "./rng.js";

// Module-local constants: an imported binding can compile to a getter call per use (tsx/esbuild
// interop), a measurable cost in the per-draw loop.
const TWO21 = 2097152;
const TWO32 = 4294967296;
const TWO53 = 9007199254740992;

const SCRATCH_WORDS = 16_384;
/** Half the smallest float32 subnormal: anything smaller rounds to ±0 in a Float32Array. */
const TINY = 2 ** -150;

// Ziggurat tables (Marsaglia & Tsang 2000, 256 layers of equal area V; the base layer is the
// rectangle [0, R] x [0, f(R)] plus the tail beyond R). ZX[i] is the right edge of layer i
// (ZX[0] = V / f(R) is the base layer's pseudo-width), ZF[i] = f(ZX[i]), f(x) = exp(-x²/2).
const ZIG_LAYERS = 256;
const ZIG_R = 3.654152885361008796;
const ZIG_V = 0.00492867323399;
const ZX = new Float64Array(ZIG_LAYERS + 1);
const ZF = new Float64Array(ZIG_LAYERS + 1);
{
  const f = (x: number): number => Math.exp(-0.5 * x * x);
  ZX[0] = ZIG_V / f(ZIG_R);
  ZX[1] = ZIG_R;
  for (let i = 1; i < ZIG_LAYERS - 1; i++) ZX[i + 1] = Math.sqrt(-2 * Math.log(ZIG_V / ZX[i] + f(ZX[i])));
  ZX[ZIG_LAYERS] = 0;
  for (let i = 0; i <= ZIG_LAYERS; i++) ZF[i] = f(ZX[i]);
}

/**
 * Fills `out` with independent N(0, sigma²) draws from the secure source.
 *
 * @remarks
 * A ziggurat sampler (Marsaglia & Tsang 2000, 256 layers) on 53-bit uniforms from the secure
 * source: two 32-bit words per draw in about 99% of cases (8 bits choose the layer, 1 bit the
 * sign, 53 bits the position), the exact Marsaglia tail beyond 3.65 sigma (reaching about
 * 13.7 sigma). It is continuous noise computed in floating point, meant for vector noise added
 * to floating-point model updates (DP-SGD and DP-FedAvg with `noise: "continuous"`): like every
 * floating-point sampler it is **not** immune to the floating-point (Mironov 2012) attack on its low-order bits. Releases of
 * real-valued statistics should use `gaussianMechanism` in `dpkit/mechanisms`, whose outputs are
 * exact multiples of a power-of-two grid. No output is NaN, ±Infinity or -0 (also after
 * rounding into a Float32Array).
 *
 * @param out - array to fill (Float32Array, Float64Array or number[])
 * @param sigma - standard deviation >= 0
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns `out`
 * @throws {@link DpError} when `sigma` is negative or not finite
 * @see https://doi.org/10.18637/jss.v005.i08
 * @example
 * ```ts
 * import { fillGaussian } from "dpkit/random";
 * const noise = fillGaussian(new Float32Array(1_000_000), 1.1);
 * ```
 */
export function fillGaussian<T extends Float32Array | Float64Array | number[]>(out: T, sigma: number, rng?: Rng): T {
  requireNonNegative("sigma", sigma);
  const n = out.length;
  if (sigma === 0) {
    for (let i = 0; i < n; i++) out[i] = 0;
    return out;
  }
  const r = resolveRng(rng);
  const words = new Uint32Array(Math.min(SCRATCH_WORDS, 2 * n + 64));
  let w = words.length;
  const refill = (): void => {
    if (r instanceof SecureRng) r.fillUint32(words);
    else for (let j = 0; j < words.length; j++) words[j] = r.nextUint32();
    w = 0;
  };
  /** A uniform in (0, 1] with 53 random bits. */
  const open01 = (): number => {
    if (w + 2 > words.length) refill();
    const v = ((words[w] & (TWO21 - 1)) * TWO32 + words[w + 1] + 1) / TWO53;
    w += 2;
    return v;
  };
  for (let i = 0; i < n; i++) {
    let z: number;
    for (;;) {
      if (w + 2 > words.length) refill();
      const a = words[w];
      const layer = a & 255;
      const u = ((a >>> 11) * TWO32 + words[w + 1]) / TWO53; // 53 bits in [0, 1)
      w += 2;
      const x = u * ZX[layer];
      if (x < ZX[layer + 1]) {
        z = a & 256 ? -x : x;
        break;
      }
      if (layer === 0) {
        // Marsaglia's tail beyond R.
        let t: number;
        for (;;) {
          t = -Math.log(open01()) / ZIG_R;
          const e = -Math.log(open01());
          if (e + e > t * t) break;
        }
        z = a & 256 ? -(ZIG_R + t) : ZIG_R + t;
        break;
      }
      const y = ZF[layer] + open01() * (ZF[layer + 1] - ZF[layer]);
      if (y < Math.exp(-0.5 * x * x)) {
        z = a & 256 ? -x : x;
        break;
      }
    }
    // Values at or below half the smallest float32 subnormal become +0, so no output is -0
    // (not even after rounding into a Float32Array).
    const v = sigma * z;
    out[i] = v <= TINY && v >= -TINY ? 0 : v;
  }
  return out;
}

/**
 * A new Float64Array of `n` independent N(0, sigma²) draws from the secure source.
 *
 * @remarks
 * See {@link fillGaussian}: continuous floating-point noise, not immune to the floating-point
 * attack; for released statistics use the grid `gaussianMechanism`.
 *
 * @param n - length, an integer >= 0
 * @param sigma - standard deviation >= 0
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns the noise vector
 * @throws {@link DpError} for a bad `n` or `sigma`
 * @example
 * ```ts
 * import { gaussianVector } from "dpkit/random";
 * const noise = gaussianVector(784, 1.1);
 * ```
 */
export function gaussianVector(n: number, sigma: number, rng?: Rng): Float64Array {
  requireInteger("n", n, { min: 0 });
  return fillGaussian(new Float64Array(n), sigma, rng);
}
