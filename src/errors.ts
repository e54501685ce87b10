/**
 * One error class for the whole library, and the parameter checks every module shares.
 *
 * Checks use `Number.isFinite` and positive comparisons only: `NaN` fails every one of them
 * (a negated comparison such as `!(x <= 0)` would let it through).
 *
 * @module
 */

/** What went wrong, as a stable machine-readable code. */
export type DpErrorCode =
  | "invalid_parameter"
  | "non_finite"
  | "budget_exceeded"
  | "unsupported_event"
  | "unsupported_layer"
  | "unsupported_backend"
  | "insecure_randomness"
  | "invalid_state"
  | "protocol_error"
  | "io_error"
  | "missing_dependency";

/**
 * The error every dpkit function throws for bad input or a refused operation.
 *
 * @remarks
 * `code` is stable and meant for programs; `message` names the argument and the value that
 * caused it, e.g. "`noiseMultiplier` must be > 0. Found -1.". `argument` holds the argument's
 * name where one is to blame.
 *
 * @example
 * ```ts
 * import { DpError } from "dpkit";
 * try {
 *   throw new DpError("invalid_parameter", "`epsilon` must be > 0. Found 0.", "epsilon");
 * } catch (e) {
 *   if (e instanceof DpError && e.code === "invalid_parameter") console.log(e.argument); // "epsilon"
 * }
 * ```
 */
export class DpError extends Error {
  /** Machine-readable reason. */
  readonly code: DpErrorCode;
  /** Name of the offending argument, where there is one. */
  readonly argument: string | undefined;

  /**
   * @param code - machine-readable reason
   * @param message - human-readable message naming the argument and value
   * @param argument - the offending argument's name, if any
   */
  constructor(code: DpErrorCode, message: string, argument?: string) {
    super(message);
    this.name = "DpError";
    this.code = code;
    this.argument = argument;
  }
}

/**
 * Formats a value for an error message: numbers keep their sign and special values
 * (`NaN`, `Infinity`, `-0`), strings are quoted, everything else is summarised.
 */
export function describeValue(value: unknown): string {
  if (typeof value === "number") {
    if (Object.is(value, -0)) return "-0";
    return String(value);
  }
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? value.slice(0, 57) + "..." : value);
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (typeof value === "object") return "an object";
  return typeof value;
}

function fail(name: string, requirement: string, value: unknown, code: DpErrorCode = "invalid_parameter"): never {
  throw new DpError(code, `\`${name}\` must be ${requirement}. Found ${describeValue(value)}.`, name);
}

/** Throws unless `value` is a finite number (not NaN, not ±Infinity). Returns it. */
export function requireFinite(name: string, value: unknown): number {
  if (typeof value !== "number") fail(name, "a finite number", value);
  if (!Number.isFinite(value)) fail(name, "a finite number", value, "non_finite");
  return value;
}

/** Throws unless `value` is a finite number > 0. */
export function requirePositive(name: string, value: unknown): number {
  const v = requireFinite(name, value);
  if (!(v > 0)) fail(name, "> 0", v);
  return v;
}

/** Throws unless `value` is a finite number >= 0. */
export function requireNonNegative(name: string, value: unknown): number {
  const v = requireFinite(name, value);
  if (!(v >= 0)) fail(name, ">= 0", v);
  return v;
}

/** Throws unless `value` is a probability in the closed interval [0, 1]. */
export function requireProbability(name: string, value: unknown): number {
  const v = requireFinite(name, value);
  if (!(v >= 0 && v <= 1)) fail(name, "in [0, 1]", v);
  return v;
}

/** Throws unless `value` lies in the open interval (0, 1) — e.g. `delta` of the Gaussian mechanism. */
export function requireOpenProbability(name: string, value: unknown): number {
  const v = requireFinite(name, value);
  if (!(v > 0 && v < 1)) fail(name, "in (0, 1)", v);
  return v;
}

/** Options for {@link requireInteger}. */
export interface IntegerRange {
  /** Smallest allowed value (inclusive). */
  min?: number;
  /** Largest allowed value (inclusive). Defaults to `Number.MAX_SAFE_INTEGER`. */
  max?: number;
}

/** Throws unless `value` is a safe integer within `[min, max]`. */
export function requireInteger(name: string, value: unknown, range: IntegerRange = {}): number {
  const v = requireFinite(name, value);
  if (!Number.isSafeInteger(v)) fail(name, "a safe integer", v);
  const min = range.min ?? Number.MIN_SAFE_INTEGER;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  if (v < min || v > max) {
    const req =
      range.min !== undefined && range.max !== undefined
        ? `an integer in [${min}, ${max}]`
        : range.min !== undefined
          ? `an integer >= ${min}`
          : `an integer <= ${max}`;
    fail(name, req, v);
  }
  return v;
}

/** Throws unless `value` is a positive safe integer (>= 1). */
export function requirePositiveInteger(name: string, value: unknown): number {
  return requireInteger(name, value, { min: 1 });
}

/** Throws unless `value` is a finite number within `[min, max]` (inclusive). */
export function requireInRange(name: string, value: unknown, min: number, max: number): number {
  const v = requireFinite(name, value);
  if (!(v >= min && v <= max)) fail(name, `in [${min}, ${max}]`, v);
  return v;
}

/** Throws unless `lower <= upper` (both finite); names both arguments. */
export function requireBounds(lowerName: string, lower: unknown, upperName: string, upper: unknown): [number, number] {
  const lo = requireFinite(lowerName, lower);
  const hi = requireFinite(upperName, upper);
  if (!(lo <= hi)) {
    throw new DpError(
      "invalid_parameter",
      `\`${lowerName}\` must be <= \`${upperName}\`. Found ${describeValue(lo)} > ${describeValue(hi)}.`,
      lowerName,
    );
  }
  return [lo, hi];
}

/** Throws unless `value` is one of `allowed`. */
export function requireOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    fail(name, `one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`, value);
  }
  return value as T;
}

/** Throws unless `value` is an array or typed array of numbers (elements are not checked). */
export function requireNumericArray(name: string, value: unknown): ArrayLike<number> {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (typeof value[i] !== "number") {
        throw new DpError(
          "invalid_parameter",
          `\`${name}\` must contain only numbers. Found ${describeValue(value[i])} at index ${i}.`,
          name,
        );
      }
    }
    return value as number[];
  }
  if (
    ArrayBuffer.isView(value) &&
    !(value instanceof DataView) &&
    !(value instanceof BigInt64Array) &&
    !(value instanceof BigUint64Array)
  ) {
    return value as unknown as ArrayLike<number>;
  }
  fail(name, "an array of numbers", value);
}

/** Throws unless `value` is a plain object (for options bags). Returns it typed. */
export function requireObject<T extends object>(name: string, value: unknown): T {
  if (value === null || typeof value !== "object" || Array.isArray(value)) fail(name, "an object", value);
  return value as T;
}

/** Whether `check` runs without throwing a {@link DpError} (other errors propagate): how an accountant answers `supports`. */
export function refusesNothing(check: () => unknown): boolean {
  try {
    check();
    return true;
  } catch (e) {
    if (e instanceof DpError) return false;
    throw e;
  }
}
