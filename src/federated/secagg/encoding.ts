/**
 * Float updates as integers modulo 2^k for secure aggregation: clip each coordinate to
 * [-clipRange, clipRange], scale by a power of two, round stochastically (unbiased, with dpkit's
 * exact Bernoulli sampler) and store in two's complement modulo 2^modulusBits. The scale is
 * chosen — or checked — so that the sum of `clients` encoded values can never wrap around:
 * clients · ceil(clipRange · scale) <= 2^(modulusBits - 1) - 1.
 *
 * @see K. Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving Machine Learning", CCS 2017 (inputs in Z_R).
 * @module
 */
import { DpError, requireInteger, requirePositive } from "../../errors.js";
import { bernoulli, type Rng } from "../../random/index.js";

/** Options for {@link SecAggQuantizer}. */
export interface SecAggQuantizerOptions {
  /** Every coordinate is clipped to [-clipRange, clipRange]; > 0. */
  clipRange: number;
  /** The modulus is 2^modulusBits, 2 <= modulusBits <= 32. */
  modulusBits: number;
  /** The most inputs that will be summed (n); the no-wrap bound is checked for it. */
  clients: number;
  /**
   * Integer steps per unit (a power of two). Default: the largest power of two that keeps the
   * sum of `clients` inputs from wrapping.
   */
  scale?: number;
}

/**
 * Encodes float vectors as integers modulo 2^modulusBits and decodes their sum.
 *
 * @remarks
 * Stochastic rounding: y = clip(x)·scale becomes floor(y) + Bernoulli(y - floor(y)), so
 * E[encoded] = y exactly (the Bernoulli is exact for the double probability and y - floor(y) is
 * computed exactly). The decoded sum is exact — no wrap-around — because the constructor
 * refuses parameters with clients · ceil(clipRange · scale) > 2^(modulusBits - 1) - 1.
 * Not a privacy mechanism by itself (see the distributed discrete Gaussian for that).
 *
 * @example
 * ```ts
 * import { SecAggQuantizer } from "dpkit/federated";
 * const q = new SecAggQuantizer({ clipRange: 1, modulusBits: 32, clients: 100 });
 * const a = q.encode([0.5, -0.25]);
 * const b = q.encode([0.25, 0.5]);
 * const sum = a.map((v, i) => (v + b[i]) >>> 0);
 * q.decodeSum(sum); // ≈ [0.75, 0.25]
 * ```
 * @see K. Bonawitz et al., CCS 2017.
 */
export class SecAggQuantizer {
  /** Clip range per coordinate. */
  readonly clipRange: number;
  /** Bits of the modulus. */
  readonly modulusBits: number;
  /** The number of clients the no-wrap bound holds for. */
  readonly clients: number;
  /** Integer steps per unit (a power of two). */
  readonly scale: number;
  /** Largest |encoded value| of one input: ceil(clipRange · scale). */
  readonly maxAbs: number;

  /**
   * @param options - clipRange, modulusBits, clients, scale
   * @throws {@link DpError} `invalid_parameter` when the sum could wrap around the modulus
   */
  constructor(options: SecAggQuantizerOptions) {
    this.clipRange = requirePositive("clipRange", options.clipRange);
    this.modulusBits = requireInteger("modulusBits", options.modulusBits, { min: 2, max: 32 });
    this.clients = requireInteger("clients", options.clients, { min: 1 });
    const room = 2 ** (this.modulusBits - 1) - 1;
    if (options.scale !== undefined) {
      const s = requirePositive("scale", options.scale);
      if (2 ** Math.round(Math.log2(s)) !== s)
        throw new DpError("invalid_parameter", `\`scale\` must be a power of two. Found ${s}.`, "scale");
      this.scale = s;
    } else {
      let s = 2 ** Math.floor(Math.log2(room / this.clients / this.clipRange));
      while (s > 0 && this.clients * Math.ceil(this.clipRange * s) > room) s /= 2;
      this.scale = s;
    }
    this.maxAbs = Math.ceil(this.clipRange * this.scale);
    if (!(this.scale > 0) || !(this.clients * this.maxAbs <= room)) {
      throw new DpError(
        "invalid_parameter",
        `The sum of ${this.clients} inputs could overflow the modulus 2^${this.modulusBits}: ${this.clients} · ${this.maxAbs} > 2^${this.modulusBits - 1} - 1. Use more bits, a smaller scale or clip range.`,
        "modulusBits",
      );
    }
  }

  /**
   * Clips, scales, rounds stochastically and reduces modulo 2^modulusBits.
   * @param values - finite numbers (non-finite ones are encoded as 0)
   * @param rng - randomness for the rounding; defaults to the secure source (a seeded Rng is insecure)
   */
  encode(values: ArrayLike<number>, rng?: Rng): Uint32Array {
    const out = new Uint32Array(values.length);
    const c = this.clipRange;
    const mask = this.modulusBits === 32 ? -1 : (1 << this.modulusBits) - 1;
    for (let i = 0; i < values.length; i++) {
      let x = values[i];
      if (!Number.isFinite(x)) x = 0;
      x = x > c ? c : x < -c ? -c : x;
      const y = x * this.scale;
      const lower = Math.floor(y);
      const frac = y - lower;
      const z = frac > 0 && bernoulli(frac, rng) ? lower + 1 : lower;
      out[i] = (z & mask) >>> 0;
    }
    return out;
  }

  /** The signed integer (centered lift) of each sum entry, divided by the scale. */
  decodeSum(sum: Uint32Array): Float64Array {
    return decodeSecAggSum(sum, this.modulusBits, this.scale);
  }
}

/**
 * The centered lift of each entry of a sum modulo 2^modulusBits (values at or above
 * 2^(modulusBits - 1) are negative), divided by `scale`.
 * @example
 * ```ts
 * import { decodeSecAggSum } from "dpkit/federated";
 * decodeSecAggSum(new Uint32Array([0xffffffff, 3]), 32, 1); // [-1, 3]
 * ```
 */
export function decodeSecAggSum(sum: Uint32Array, modulusBits: number, scale = 1): Float64Array {
  requireInteger("modulusBits", modulusBits, { min: 1, max: 32 });
  const half = 2 ** (modulusBits - 1);
  const full = 2 ** modulusBits;
  const out = new Float64Array(sum.length);
  for (let i = 0; i < sum.length; i++) {
    const v = sum[i];
    out[i] = (v >= half ? v - full : v) / scale;
  }
  return out;
}

/** Two's-complement encoding of signed integers modulo 2^modulusBits. */
export function encodeSecAggIntegers(values: ArrayLike<number>, modulusBits: number): Uint32Array {
  requireInteger("modulusBits", modulusBits, { min: 1, max: 32 });
  const full = 2 ** modulusBits;
  const out = new Uint32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const z = values[i];
    if (!Number.isSafeInteger(z))
      throw new DpError("invalid_parameter", `\`values\` must be integers. Found ${z} at index ${i}.`, "values");
    out[i] = ((z % full) + full) % full;
  }
  return out;
}
