/**
 * The power-of-two output grid of the real-valued mechanisms ("Secure Noise Generation",
 * Google's differential-privacy library): the input is rounded to a multiple of the
 * granularity gamma, integer noise is added exactly, and the result is scaled by gamma.
 *
 * @module
 */
import { DpError, describeValue, requireFinite, requireNumericArray, requirePositive } from "../errors.js";
import { resolveRng, type Rng } from "../random/rng.js";

/**
 * Resolution of the default grid: the noise scale is 2^30 to 2^31 grid steps (the rounding
 * charge is then about 2^-30 of the sensitivity per coordinate). @internal
 */
export const GRID_BITS = 30;

/** The largest power of two <= x (x > 0, finite). @internal */
export function floorPowerOfTwo(x: number): number {
  if (!(x > 0 && x < Infinity)) {
    throw new DpError(
      "invalid_parameter",
      `The noise scale must be a finite number > 0 (check \`epsilon\` and \`sensitivity\`). Found ${describeValue(x)}.`,
      "epsilon",
    );
  }
  let e = Math.floor(Math.log2(x));
  while (2 ** e > x) e--;
  while (2 ** (e + 1) <= x) e++;
  return 2 ** e;
}

/** Checks that `granularity` is a power of two (2^k for an integer k in [-1022, 1023]). @internal */
export function requirePowerOfTwo(name: string, value: unknown): number {
  const v = requirePositive(name, value);
  const e = Math.round(Math.log2(v));
  if (!(e >= -1022 && e <= 1023 && 2 ** e === v)) {
    throw new DpError("invalid_parameter", `\`${name}\` must be a power of two (2^k). Found ${describeValue(v)}.`, name);
  }
  return v;
}

/** The default granularity for a noise scale: the largest power of two <= scale · 2^-30. @internal */
export function defaultGranularity(scale: number): number {
  return Math.max(floorPowerOfTwo(scale) * 2 ** -GRID_BITS, 2 ** -1022);
}

/**
 * Rounds `value` to the nearest multiple of `granularity`, in grid units (an integer-valued
 * double). The division by a power of two is exact. @internal
 */
export function toGridUnits(name: string | (() => string), value: unknown, granularity: number): number {
  if (typeof value === "number") {
    const fast = Math.round(value / granularity);
    if (Number.isFinite(fast)) return fast;
  }
  if (typeof name !== "string") name = name();
  const v = requireFinite(name, value);
  const k = Math.round(v / granularity);
  if (!Number.isFinite(k)) {
    throw new DpError(
      "non_finite",
      `\`${name}\` is too large for the grid of granularity ${granularity}. Found ${describeValue(v)}.`,
      name,
    );
  }
  return k;
}

/**
 * (k + noise) · granularity for integers k and noise: the addition is correctly rounded (a
 * function of the exact sum alone, hence post-processing) and the scaling is exact. Never -0.
 * A result beyond the double range is clamped to the largest multiple of the granularity that
 * is finite (see {@link clampToGrid}). @internal
 */
export function fromGridUnits(k: number, noise: number, granularity: number): number {
  return clampToGrid((k + noise) * granularity, granularity);
}

/**
 * Clamps an overflowed grid output (±Infinity) to ±(the largest finite multiple of
 * `granularity`), which is `Number.MAX_VALUE` for every granularity <= 2^971; finite values pass
 * unchanged (and -0 becomes 0). Clamping is post-processing, so the privacy guarantee holds, and
 * the output stays on the grid. @internal
 */
export function clampToGrid(x: number, granularity: number): number {
  if (x === Infinity || x === -Infinity) {
    const top = Math.floor(Number.MAX_VALUE / granularity) * granularity;
    return x > 0 ? top : -top;
  }
  return x + 0;
}

/** Checks a vector against the dimension and returns it. @internal */
export function requireVector(values: unknown, dimension: number): ArrayLike<number> {
  const v = requireNumericArray("values", values);
  if (v.length > dimension) {
    throw new DpError(
      "invalid_parameter",
      `\`values\` has length ${v.length} but the mechanism was calibrated for \`dimension\` ${dimension}. Found ${describeValue(values)}.`,
      "values",
    );
  }
  return v;
}

/**
 * The release functions every grid mechanism shares: round the input onto the grid (exactly, in
 * integer grid units), add one exact integer noise draw per coordinate, and map back.
 * @internal
 */
export function gridReleases(options: {
  granularity: number;
  dimension: number;
  rng: Rng | undefined;
  noise: (rng: Rng) => number;
  /** Fills a vector with independent noise draws (a faster bulk form of `noise`), if there is one. */
  noiseVector?: (out: Float64Array, rng: Rng) => void;
}): { release(value: number): number; releaseVector(values: ArrayLike<number>): Float64Array } {
  const { granularity, dimension, rng, noise, noiseVector } = options;
  return {
    release(value: number): number {
      const k = toGridUnits("value", value, granularity);
      return fromGridUnits(k, noise(resolveRng(rng)), granularity);
    },
    releaseVector(values: ArrayLike<number>): Float64Array {
      const v = requireVector(values, dimension);
      const r = resolveRng(rng);
      const out = new Float64Array(v.length);
      for (let i = 0; i < v.length; i++) out[i] = toGridUnits(() => `values[${i}]`, v[i], granularity);
      if (noiseVector === undefined) {
        for (let i = 0; i < v.length; i++) out[i] = fromGridUnits(out[i], noise(r), granularity);
        return out;
      }
      const z = new Float64Array(v.length);
      noiseVector(z, r);
      for (let i = 0; i < v.length; i++) out[i] = fromGridUnits(out[i], z[i], granularity);
      return out;
    },
  };
}
