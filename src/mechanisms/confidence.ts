/**
 * Confidence intervals for noisy releases: the half-width h such that the noise is within ±h
 * with probability at least `level`.
 * @module
 */
import { DpError, describeValue, requireFinite } from "../errors.js";
import { standardNormalQuantile } from "../math/normal.js";
import type { ReleaseConfidenceInterval } from "./types.js";

/** Checks a confidence level in (0, 1). @internal */
export function requireLevel(level: unknown): number {
  const v = requireFinite("level", level);
  if (!(v > 0 && v < 1)) throw new DpError("invalid_parameter", `\`level\` must be in (0, 1). Found ${describeValue(v)}.`, "level");
  return v;
}

/**
 * Smallest integer m >= 0 with P[|Y| > m] <= 1 - level for Y discrete Laplace with scale t
 * (P[Y = y] ∝ e^{-|y|/t}): P[|Y| > m] = 2 e^{-(m+1)/t} / (1 + e^{-1/t}). @internal
 */
export function discreteLaplaceHalfWidth(t: number, level: number): number {
  const tail = (m: number): number => (2 * Math.exp(-(m + 1) / t)) / (1 + Math.exp(-1 / t));
  let m = Math.max(0, Math.ceil(t * Math.log(2 / ((1 - level) * (1 + Math.exp(-1 / t)))) - 1));
  while (m > 0 && tail(m - 1) <= 1 - level) m--;
  while (tail(m) > 1 - level) m++;
  return m;
}

/**
 * Half-width for discrete Gaussian noise N_Z(0, sigma²) in grid units: P[|Y| >= m] is at most
 * P[|N(0, sigma²)| >= m - 1] (Canonne, Kamath & Steinke 2020), so sigma·z + 1 suffices. @internal
 */
export function discreteGaussianHalfWidth(sigma: number, level: number): number {
  return Math.ceil(sigma * standardNormalQuantile((1 + level) / 2) + 1);
}

/** Builds the interval object. @internal */
export function intervalAround(released: unknown, halfWidth: number, level: number): ReleaseConfidenceInterval {
  const c = requireFinite("released", released);
  return { level, lower: c - halfWidth, upper: c + halfWidth, halfWidth };
}
