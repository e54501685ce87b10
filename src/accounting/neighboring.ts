/**
 * Neighbouring relations understood by the accountants.
 * @module
 */
import { requireOneOf } from "../errors.js";

/**
 * Which datasets count as neighbours.
 *
 * - `"addOrRemoveOne"` (default): D' is D with one record added or removed. Event noise
 *   multipliers are relative to this sensitivity (for DP-SGD: the clipping norm).
 * - `"replaceOne"`: D' is D with one record replaced. For the Gaussian and Laplace mechanisms the
 *   sensitivity of a sum of clipped contributions doubles, so the accountants halve the effective
 *   noise multiplier; randomized response is defined by replacing one value and is accounted as is;
 *   Poisson subsampling is refused (the dataset size is not fixed), sampling without replacement is
 *   only accounted here.
 */
export type NeighboringRelation = "addOrRemoveOne" | "replaceOne";

/** The relations, for validation. */
export const NEIGHBORING_RELATIONS: readonly NeighboringRelation[] = ["addOrRemoveOne", "replaceOne"];

/** @internal */
export function checkNeighboringRelation(value: unknown): NeighboringRelation {
  if (value === undefined) return "addOrRemoveOne";
  return requireOneOf("neighboringRelation", value, NEIGHBORING_RELATIONS) as NeighboringRelation;
}
