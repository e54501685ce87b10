// Frozen copy of the exact-noise path of DP-SGD as of commit b985c3e (before the issue 18 part 3
// follow-up): `addGaussianNoise` (src/mechanisms/gaussian-noise.ts) and `privatizeInPlace`
// (src/dpsgd/privatize.ts) over the frozen ziggurat in ./discrete-ziggurat-v1.ts. Kept only as the
// "before" of bench/noise.bench.ts; not library code.
import { requireFinite, requireNonNegative, requirePositive } from "../../src/errors.js";
import { exactNoiseGrid } from "../../src/mechanisms/gaussian-noise.js";
import { fromGridUnits, toGridUnits } from "../../src/mechanisms/grid.js";
import type { Rng } from "../../src/random/rng.js";
import { discreteZigguratFill } from "./discrete-ziggurat-v1.js";

const samplers = new Map<number, (out: Float64Array, r: Rng) => void>();

/** The old `addGaussianNoise` with `noise: "exact"`: grid units in a Float64Array, a fresh noise array, then scale back. */
export function addGaussianNoiseV1(values: ArrayLike<number>, stddev: number, sensitivity: number, r: Rng): Float64Array {
  const d = values.length;
  const out = new Float64Array(d);
  const { granularity, gridSigma } = exactNoiseGrid(stddev, sensitivity, d);
  for (let i = 0; i < d; i++) {
    const v = values[i];
    const k = typeof v === "number" ? Math.round(v / granularity) : NaN;
    out[i] = Number.isFinite(k) ? k : toGridUnits(`values[${i}]`, v, granularity);
  }
  const z = new Float64Array(d);
  let s = samplers.get(gridSigma);
  if (s === undefined) samplers.set(gridSigma, (s = discreteZigguratFill(gridSigma)));
  s(z, r);
  for (let i = 0; i < d; i++) out[i] = fromGridUnits(out[i], z[i], granularity);
  return out;
}

/** The old `privatizeInPlace` (exact noise): finite checks, concatenation of several parts, noise, divide, write back. */
export function privatizeInPlaceV1(
  sums: Float32Array[],
  l2NormClip: number,
  noiseMultiplier: number,
  expectedBatchSize: number,
  r: Rng,
): Float32Array[] {
  const c = requirePositive("l2NormClip", l2NormClip);
  const sigma = requireNonNegative("noiseMultiplier", noiseMultiplier);
  const b = requirePositive("expectedBatchSize", expectedBatchSize);
  let total = 0;
  for (const s of sums) {
    for (let i = 0; i < s.length; i++) if (!Number.isFinite(s[i])) requireFinite("clippedSum", s[i]);
    total += s.length;
  }
  let values: Float32Array = sums[0] ?? new Float32Array(0);
  if (sums.length > 1) {
    values = new Float32Array(total);
    let at = 0;
    for (const s of sums) {
      values.set(s, at);
      at += s.length;
    }
  }
  const noisy = addGaussianNoiseV1(values, sigma * c, c, r);
  let off = 0;
  for (const s of sums) {
    for (let i = 0; i < s.length; i++) s[i] = noisy[off + i] / b;
    off += s.length;
  }
  return sums;
}
