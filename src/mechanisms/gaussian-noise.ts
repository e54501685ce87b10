/**
 * The one place where DP-SGD and DP-FedAvg add Gaussian noise to a vector: exact discrete
 * Gaussian noise on a power-of-two grid by default (immune to the floating-point attack), or the
 * continuous ziggurat (`fillGaussian`) on request.
 *
 * @module
 */
import { roundHalfUp } from "../math/round.js";
import { DpError, requireFinite, requireNonNegative, requireOneOf, requirePositive } from "../errors.js";
import { addRoundedGiven, allFiniteFloat32, DiscreteZiggurat } from "../random/discrete-ziggurat.js";
import { fillGaussian } from "../random/gaussian.js";
import { resolveRng, secureRng, type Rng } from "../random/rng.js";
import { clampToGrid, defaultGranularity, toGridUnits } from "./grid.js";
import type { NoiseWorker } from "./noise-prefetch.js";

/** How {@link addGaussianNoise} draws its noise. */
export type GaussianNoiseKind = "exact" | "continuous";

/** The accepted values of {@link GaussianNoiseKind}. */
export const GAUSSIAN_NOISE_KINDS: readonly GaussianNoiseKind[] = ["exact", "continuous"];

/** Options for {@link addGaussianNoise}. */
export interface AddGaussianNoiseOptions {
  /** Noise standard deviation of the continuous mechanism it stands for (noise multiplier × sensitivity), >= 0. */
  stddev: number;
  /** L2 sensitivity of the vector (the clip bound), > 0: the grid's rounding is charged against it. */
  sensitivity: number;
  /** `"exact"` (default): discrete Gaussian on a power-of-two grid; `"continuous"`: floating-point ziggurat noise (faster to reason about, not attack-immune). */
  noise?: GaussianNoiseKind;
  /** Randomness source; defaults to the secure source (the caller checks `secure`). */
  rng?: Rng;
}

/** Recently used exact samplers, by grid sigma (their tables take milliseconds to certify). */
const samplers = new Map<number, DiscreteZiggurat>();
const MAX_CACHED = 8;

/** The exact discrete ziggurat for a grid sigma (always in [2^29, 2^32), inside the ziggurat's range). */
function exactSampler(sigmaGrid: number): DiscreteZiggurat {
  let s = samplers.get(sigmaGrid);
  if (s === undefined) {
    s = new DiscreteZiggurat(sigmaGrid);
    if (samplers.size >= MAX_CACHED) samplers.delete(samplers.keys().next().value as number);
  } else samplers.delete(sigmaGrid);
  samplers.set(sigmaGrid, s);
  return s;
}

/**
 * The grid an exact release of a `dimension`-long vector uses: granularity gamma (the largest
 * power of two <= stddev·2^-30) and the charged standard deviation stddev·(1 + gamma·√d / Δ).
 *
 * @param stddev - the noise standard deviation of the continuous mechanism, > 0
 * @param sensitivity - the L2 sensitivity Δ, > 0
 * @param dimension - the vector length d
 * @returns `{ granularity, chargedStddev, gridSigma }` (gridSigma = chargedStddev / granularity, exact)
 * @example
 * ```ts
 * import { exactNoiseGrid } from "dpkit/mechanisms";
 * exactNoiseGrid(1.1, 1, 1000).granularity; // 2^-30
 * ```
 */
export function exactNoiseGrid(
  stddev: number,
  sensitivity: number,
  dimension: number,
): { granularity: number; chargedStddev: number; gridSigma: number } {
  const granularity = defaultGranularity(stddev);
  const chargedStddev = stddev * (1 + (granularity * Math.sqrt(dimension)) / sensitivity);
  return { granularity, chargedStddev, gridSigma: chargedStddev / granularity };
}

/**
 * Returns `values` + Gaussian noise of standard deviation `stddev` per coordinate, as DP-SGD's
 * clipped sum and DP-FedAvg's clipped updates need it.
 *
 * @remarks
 * `noise: "exact"` (the default) is the Gaussian mechanism on a power-of-two grid, exactly as
 * `gaussianMechanism` releases vectors: each coordinate is rounded to a multiple of the
 * granularity gamma (the largest power of two <= stddev·2^-30), an exact discrete Gaussian integer
 * Z ~ N_ℤ(0, (sigma'/gamma)²) (the exact discrete ziggurat) is added, and the sum is scaled by
 * gamma, so every output is an exact multiple of gamma and no floating-point rounding of the noise
 * depends on the input. Rounding moves a d-dimensional vector by at most gamma·√d/2, so the
 * rounded vector's sensitivity is Δ + gamma·√d; the noise is charged for it:
 * sigma' = stddev·(1 + gamma·√d/Δ). With noise multiplier z = stddev/Δ the release is then the
 * discrete Gaussian mechanism with sensitivity Δ + gamma·√d and standard deviation
 * z·(Δ + gamma·√d): the same z, so an accountant's `gaussian(z)` event (and its subsampled forms)
 * describes it (the discrete Gaussian satisfies the continuous one's Rényi/zCDP bound at equal
 * sigma, Canonne–Kamath–Steinke 2020). The charge is a relative 2^-30·√d (1e-6 for a million
 * coordinates). `noise: "continuous"` adds `fillGaussian` noise in doubles instead.
 * A zero `stddev` returns a copy of `values` (no noise, no privacy).
 *
 * @param values - the vector (finite numbers)
 * @param options - stddev, sensitivity, noise kind and rng
 * @returns a new Float64Array
 * @throws {@link DpError} `invalid_parameter` for a bad option, `non_finite` for a non-finite value
 * @see https://arxiv.org/abs/2004.00010
 * @example
 * ```ts
 * import { addGaussianNoise } from "dpkit/mechanisms";
 * const noisy = addGaussianNoise([0.5, -1.25], { stddev: 1.1, sensitivity: 1 }); // exact grid noise
 * ```
 */
export function addGaussianNoise(values: ArrayLike<number>, options: AddGaussianNoiseOptions): Float64Array {
  const stddev = requireNonNegative("stddev", options.stddev);
  const sensitivity = requirePositive("sensitivity", options.sensitivity);
  const kind = options.noise === undefined ? "exact" : requireOneOf("noise", options.noise, GAUSSIAN_NOISE_KINDS);
  const d = values.length;
  const out = new Float64Array(d);
  if (stddev === 0 || d === 0) {
    for (let i = 0; i < d; i++) out[i] = values[i];
    return out;
  }
  const r = resolveRng(options.rng);
  if (kind === "continuous") {
    fillGaussian(out, stddev, r);
    for (let i = 0; i < d; i++) out[i] += values[i];
    return out;
  }
  const { granularity, gridSigma } = checkedGrid(stddev, sensitivity, d);
  // The integer noise goes straight into `out`; one pass then adds the rounded input (an input that
  // cannot be put on the grid throws, and the noise drawn for this call is discarded unreleased).
  exactSampler(gridSigma).fill(out, r);
  const invG = 1 / granularity; // exact: a power of two, so v·invG = v / granularity (both correctly rounded)
  for (let i = 0; i < d; i++) {
    const v = values[i];
    let k = typeof v === "number" ? roundHalfUp(v * invG) : NaN; // toGridUnits' rounding (Math.round's, see roundHalfUp)
    if (!(k - k === 0)) k = toGridUnits(`values[${i}]`, v, granularity);
    // fromGridUnits: (k + Z)·gamma, a correctly rounded sum, exactly scaled; never -0 (Z is never
    // -0 and -0 + 0 = +0; |k + Z| >= 1 and gamma >= 2^-1022 keep a nonzero product from zero).
    out[i] = (k + out[i]) * granularity;
  }
  // ...and its clamp of a sum beyond the double range, in a separate pass (rarely needed).
  if (!allFinite64(out)) for (let i = 0; i < d; i++) out[i] = clampToGrid(out[i], granularity);
  return out;
}

/** The exact grid for a release, refusing a stddev too small for it. */
function checkedGrid(stddev: number, sensitivity: number, d: number): { granularity: number; gridSigma: number } {
  const { granularity, gridSigma } = exactNoiseGrid(stddev, sensitivity, d);
  if (!(gridSigma >= 2 ** 29 && gridSigma < 2 ** 32)) {
    // Only a subnormal stddev gets here (the grid is 2^30 to 2^31 steps per stddev otherwise).
    throw new DpError("invalid_parameter", `\`stddev\` is too small for the exact grid. Found ${stddev}.`, "stddev");
  }
  return { granularity, gridSigma };
}

/** Options of {@link addGaussianNoiseInPlace}. @internal */
export interface AddGaussianNoiseInPlaceOptions extends AddGaussianNoiseOptions {
  /** Each noisy entry is divided by this (> 0) before the one rounding to float32 (DP-SGD's expected batch size; 1 for none). */
  divisor: number;
  /** The argument a non-finite entry is reported under (e.g. `"clippedSum"`). */
  name: string;
  /** Exact noise only, and only with the default secure source: take Z from this prefetching worker when it has a vector ready. */
  noiseWorker?: NoiseWorker;
  /**
   * Exact noise only: Z already drawn by {@link drawExactNoise} from this call's `rng`, used (and
   * zeroed) instead of drawing when its grid sigma and length are this call's; otherwise it is
   * zeroed and the noise is drawn here. Takes precedence over `noiseWorker`.
   */
  presampled?: PresampledNoise;
}

/** Exact noise drawn ahead of its release by {@link drawExactNoise}. @internal */
export interface PresampledNoise {
  /** The grid sigma it was drawn for. */
  gridSigma: number;
  /** The integers Z, one per entry of the vector (zeroed once used or discarded). */
  z: Float64Array;
}

/** The grid sigma of an exact release of a `dimension`-long vector (refuses a stddev too small for the grid). @internal */
export function exactGridSigma(stddev: number, sensitivity: number, dimension: number): number {
  return checkedGrid(requirePositive("stddev", stddev), requirePositive("sensitivity", sensitivity), dimension).gridSigma;
}

/**
 * Draws Z ~ N_ℤ(0, gridSigma²) into `z[from, to)` from `rng` with the exact sampler (one stream of
 * `to - from` samples): a share of the noise of a release whose grid sigma is `gridSigma` (see
 * {@link exactGridSigma}). The caller checks `rng`. @internal
 */
export function drawExactNoiseRange(gridSigma: number, z: Float64Array, from: number, to: number, rng?: Rng): void {
  if (to > from)
    exactSampler(gridSigma)
      .stream(resolveRng(rng), to - from)
      .next(z, from, to);
}

/**
 * Draws the exact noise of a `dimension`-long release ahead of the release (the integers Z of
 * {@link addGaussianNoiseInPlace}, from the same sampler and the same stream of `rng` as that call
 * would use), so that a thread with nothing else to do can draw it while the vector is computed;
 * pass it as `presampled`. Into `into` when it has the right length (reused), else a new array.
 * The caller checks `rng` (`requireSecureRng`) before. @internal
 */
export function drawExactNoise(stddev: number, sensitivity: number, dimension: number, rng?: Rng, into?: Float64Array): PresampledNoise {
  const { gridSigma } = checkedGrid(requirePositive("stddev", stddev), requirePositive("sensitivity", sensitivity), dimension);
  const z = into !== undefined && into.length === dimension ? into : new Float64Array(dimension);
  exactSampler(gridSigma).stream(resolveRng(rng), dimension).next(z, 0, dimension);
  return { gridSigma, z };
}

/** Where the clamp is needed, noise is drawn and added in pieces of this many entries (32 KiB of doubles). */
const PIECE = 4096;
let pieceBuffer: Float64Array | undefined;

/**
 * {@link addGaussianNoise} over several Float32Arrays taken as one vector (their concatenation),
 * written back in place: entry j becomes float32((values_j + noise_j) / divisor), bit for bit what
 * `Float32Array.from(addGaussianNoise(concatenation, options), (x) => x / divisor)` gives from the
 * same source, without the concatenation, the Float64 copies or the output array. The grid and its
 * rounding charge are those of the total dimension; the noise is one stream over the whole vector
 * (the same samples from the same words as one call), each sample added where it is drawn.
 *
 * Every entry is checked first (finite, and on the grid's scale) in a pass that writes nothing, so
 * a refused vector is left exactly as it was and no randomness is drawn. The exact pass is then the
 * sampler's own loop: per entry, round to grid units (v·2^e, exact), add the exact integer noise (a
 * correctly rounded sum), scale back by the power-of-two granularity (exact), divide by b
 * (correctly rounded), store as float32 (one rounding).
 * Dividing and rounding to float32 are post-processing of the grid mechanism's output.
 *
 * With `noiseWorker` (and the default secure source) Z comes from a vector the worker drew ahead
 * of time with the same sampler and its own secure source, when one for this (grid sigma,
 * dimension) is ready: the same arithmetic, after the same check (a refused vector takes nothing),
 * and the vector is zeroed after its one use. Otherwise the noise is drawn here as above.
 *
 * @param parts - the vector's pieces, overwritten
 * @param options - as {@link addGaussianNoise}, plus `divisor` and the `name` for errors
 * @throws {@link DpError} as {@link addGaussianNoise}; `non_finite` (naming `options.name`) for an entry that is not finite or too large for the grid
 * @internal
 */
export function addGaussianNoiseInPlace(parts: readonly Float32Array[], options: AddGaussianNoiseInPlaceOptions): void {
  const stddev = requireNonNegative("stddev", options.stddev);
  const sensitivity = requirePositive("sensitivity", options.sensitivity);
  const kind = options.noise === undefined ? "exact" : requireOneOf("noise", options.noise, GAUSSIAN_NOISE_KINDS);
  const b = requirePositive("divisor", options.divisor);
  const name = options.name;
  let total = 0;
  for (const s of parts) total += s.length;
  if (stddev === 0 || total === 0 || kind === "continuous") {
    options.presampled?.z.fill(0); // not the exact mechanism: a presampled vector is discarded
    for (const s of parts) for (let i = 0; i < s.length; i++) if (!(s[i] - s[i] === 0)) requireFinite(name, s[i]);
    if (stddev === 0 || total === 0) {
      for (const s of parts) for (let i = 0; i < s.length; i++) s[i] = s[i] / b;
      return;
    }
    // Continuous: one fillGaussian over the whole length (its stream), added part by part.
    const noise = fillGaussian(new Float64Array(total), stddev, resolveRng(options.rng));
    let at = 0;
    for (const s of parts) {
      for (let i = 0; i < s.length; i++) s[i] = (noise[at + i] + s[i]) / b;
      at += s.length;
    }
    return;
  }
  const { granularity: g, gridSigma } = checkedGrid(stddev, sensitivity, total);
  const invG = 1 / g; // exact (a power of two in [2^-993, 2^1022])
  // Check everything before anything is written or drawn. A finite float32 v has |v| < 2^128, so
  // for g >= 2^-895 v·(1/g) is finite too and the check is only v's finiteness (the ziggurat
  // module's SIMD check of the exponent bits, or a JS loop where WebAssembly is not used).
  try {
    if (g >= 2 ** -895) {
      for (const s of parts) if (!allFiniteFloat32(s)) firstOffGrid(s, g, invG, name);
    } else {
      for (const s of parts) firstOffGrid(s, g, invG, name);
    }
  } catch (e) {
    options.presampled?.z.fill(0); // a refused vector uses no noise
    throw e;
  }
  const pre = options.presampled;
  if (pre !== undefined) {
    if (pre.gridSigma === gridSigma && pre.z.length === total) return addPrefetched(parts, pre.z, invG, g, b);
    pre.z.fill(0); // drawn for another release: discarded, never used
  }
  if (options.noiseWorker !== undefined && (options.rng === undefined || options.rng === secureRng())) {
    const z = options.noiseWorker.take(gridSigma, total);
    if (z !== undefined) return addPrefetched(parts, z, invG, g, b);
  }
  const stream = exactSampler(gridSigma).stream(resolveRng(options.rng), total);
  // (k + Z)·g cannot overflow when g <= 2^900: |k| <= 2^128/g + 1/2 and |Z| < 2^53 (the sampler
  // never returns more), so |(k + Z)·g| < 2^128 + 2^54·g <= 2^128 + 2^954 < 2^1024; nor is it ever
  // -0 (Z is never -0 and -0 + 0 = +0, so k + Z is not -0; |k + Z| >= 1 and g >= 2^-1022 keep a
  // nonzero product away from zero). So fromGridUnits' clamp and `+ 0` are the identity there, and
  // the sampler adds each Z where it is drawn: s = float32(((round(s/g) + Z)·g) / b).
  if (g <= 2 ** 900) {
    for (const s of parts) stream.addRounded(s, 0, s.length, invG, g, b);
    return;
  }
  // A stddev above 2^930: the noise in pieces, with the clamp.
  const noise = (pieceBuffer ??= new Float64Array(PIECE));
  for (const s of parts) {
    const n = s.length;
    for (let off = 0; off < n; off += PIECE) {
      const m = Math.min(PIECE, n - off);
      stream.next(noise, 0, m);
      for (let j = 0; j < m; j++) s[off + j] = clampToGrid((roundHalfUp(s[off + j] * invG) + noise[j]) * g, g) / b;
    }
  }
}

/** The exact pass with Z from a prefetched vector (the same arithmetic as the stream's), which is then zeroed. */
function addPrefetched(parts: readonly Float32Array[], z: Float64Array, invG: number, g: number, b: number): void {
  try {
    let at = 0;
    for (const s of parts) {
      const n = s.length;
      if (g <= 2 ** 900) addRoundedGiven(s, z, at, invG, g, b);
      else for (let i = 0; i < n; i++) s[i] = clampToGrid((roundHalfUp(s[i] * invG) + z[at + i]) * g, g) / b;
      at += n;
    }
  } finally {
    z.fill(0);
  }
}

/** True when every entry of `s` is finite: v·0 is ±0 for a finite v and NaN otherwise (two lanes, no branch per entry). */
function allFinite64(s: Float64Array): boolean {
  let a0 = 0;
  let a1 = 0;
  const n2 = s.length - (s.length % 2);
  let i = 0;
  for (; i < n2; i += 2) {
    a0 += s[i] * 0;
    a1 += s[i + 1] * 0;
  }
  for (; i < s.length; i++) a0 += s[i] * 0;
  return a0 + a1 === 0;
}

/** Throws for the first entry of `s` that is not finite or too large for the grid (returns if there is none). */
function firstOffGrid(s: Float32Array, g: number, invG: number, name: string): void {
  for (let i = 0; i < s.length; i++) {
    const x = s[i] * invG;
    if (!(x - x === 0)) {
      toGridUnits(name, s[i], g); // throws: not finite, or too large for the grid
      throw new DpError("non_finite", `\`${name}\` has an entry that cannot be put on the grid. Found ${s[i]}.`, name);
    }
  }
}
