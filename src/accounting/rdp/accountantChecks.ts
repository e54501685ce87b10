/**
 * Re-exports of the shared checks used by the accountants, plus an array check.
 * @internal
 * @module
 */
import { DpError, describeValue } from "../../errors.js";

export { DpError } from "../../errors.js";
export { requireInteger, requireNonNegative, requireOpenProbability } from "../../errors.js";

/** Throws unless `value` is an array (of anything). @internal */
export function requireArray<T>(name: string, value: unknown): readonly T[] {
  if (!Array.isArray(value)) {
    throw new DpError("invalid_parameter", `\`${name}\` must be an array. Found ${describeValue(value)}.`, name);
  }
  return value as readonly T[];
}
