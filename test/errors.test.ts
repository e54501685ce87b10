import { describe, expect, it } from "vitest";
import {
  DpError,
  describeValue,
  requireBounds,
  requireFinite,
  requireInteger,
  requireNonNegative,
  requireNumericArray,
  requireOneOf,
  requireOpenProbability,
  requirePositive,
  requirePositiveInteger,
  requireProbability,
} from "../src/errors.js";

function errorOf(f: () => unknown): DpError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DpError);
    return e as DpError;
  }
  throw new Error("expected a DpError, nothing was thrown");
}

describe("DpError", () => {
  it("carries a code, the argument and a message naming both", () => {
    const e = errorOf(() => requirePositive("noiseMultiplier", -1));
    expect(e.code).toBe("invalid_parameter");
    expect(e.argument).toBe("noiseMultiplier");
    expect(e.message).toBe("`noiseMultiplier` must be > 0. Found -1.");
    expect(e.name).toBe("DpError");
    expect(e).toBeInstanceOf(Error);
  });

  it("describes special values exactly", () => {
    expect(describeValue(NaN)).toBe("NaN");
    expect(describeValue(-Infinity)).toBe("-Infinity");
    expect(describeValue(-0)).toBe("-0");
    expect(describeValue("x")).toBe('"x"');
    expect(describeValue([1, 2])).toBe("an array of length 2");
    expect(describeValue(new Float32Array(2))).toBe("a Float32Array");
    expect(describeValue(3n)).toBe("3n");
  });
});

const specials = [NaN, Infinity, -Infinity];

describe("validation helpers", () => {
  it("requireFinite rejects NaN and infinities with code non_finite, non-numbers with invalid_parameter", () => {
    for (const v of specials) expect(errorOf(() => requireFinite("x", v)).code).toBe("non_finite");
    expect(errorOf(() => requireFinite("x", "1")).code).toBe("invalid_parameter");
    expect(errorOf(() => requireFinite("x", undefined)).message).toContain("Found undefined");
    expect(requireFinite("x", -1e308)).toBe(-1e308);
    expect(requireFinite("x", 0)).toBe(0);
  });

  it("requirePositive rejects 0, -0, negatives, NaN, infinities; accepts tiny and huge", () => {
    for (const v of [0, -0, -1, -1e-300, ...specials]) expect(() => requirePositive("epsilon", v)).toThrow(/`epsilon`/);
    expect(requirePositive("epsilon", 5e-324)).toBe(5e-324);
    expect(requirePositive("epsilon", 1.7e308)).toBe(1.7e308);
  });

  it("requireNonNegative accepts 0 and rejects negatives and NaN", () => {
    expect(requireNonNegative("delta", 0)).toBe(0);
    for (const v of [-1e-12, ...specials]) expect(() => requireNonNegative("delta", v)).toThrow(/`delta`/);
  });

  it("requireProbability accepts the closed [0,1], requireOpenProbability only (0,1)", () => {
    expect(requireProbability("p", 0)).toBe(0);
    expect(requireProbability("p", 1)).toBe(1);
    for (const v of [-1e-9, 1 + 1e-15, ...specials]) expect(() => requireProbability("p", v)).toThrow(/`p` must be/);
    for (const v of [0, 1, 2, ...specials]) {
      expect(errorOf(() => requireOpenProbability("delta", v)).message).toMatch(/^`delta` must be (in \(0, 1\)|a finite number)\. Found/);
    }
    expect(requireOpenProbability("delta", 1e-300)).toBe(1e-300);
  });

  it("requireInteger checks integrality, safety and range", () => {
    expect(requireInteger("steps", 3, { min: 1 })).toBe(3);
    expect(errorOf(() => requireInteger("steps", 0, { min: 1 })).message).toBe("`steps` must be an integer >= 1. Found 0.");
    expect(errorOf(() => requireInteger("k", 11, { min: 2, max: 10 })).message).toBe("`k` must be an integer in [2, 10]. Found 11.");
    expect(() => requireInteger("steps", 1.5)).toThrow(/safe integer/);
    expect(() => requireInteger("steps", 2 ** 53)).toThrow(/safe integer/);
    for (const v of specials) expect(() => requireInteger("steps", v)).toThrow(/`steps`/);
    expect(() => requirePositiveInteger("n", -3)).toThrow(/`n` must be an integer >= 1/);
  });

  it("requireBounds names both arguments", () => {
    expect(requireBounds("lower", 0, "upper", 1)).toEqual([0, 1]);
    expect(requireBounds("lower", 1, "upper", 1)).toEqual([1, 1]);
    const e = errorOf(() => requireBounds("lower", 2, "upper", 1));
    expect(e.message).toBe("`lower` must be <= `upper`. Found 2 > 1.");
    expect(() => requireBounds("lower", NaN, "upper", 1)).toThrow(/`lower`/);
    expect(() => requireBounds("lower", 0, "upper", Infinity)).toThrow(/`upper`/);
  });

  it("requireOneOf and requireNumericArray", () => {
    expect(requireOneOf("accountant", "rdp", ["rdp", "pld"] as const)).toBe("rdp");
    expect(() => requireOneOf("accountant", "gdp", ["rdp", "pld"] as const)).toThrow(
      '`accountant` must be one of "rdp", "pld". Found "gdp".',
    );
    expect(requireNumericArray("data", [1, 2])).toEqual([1, 2]);
    expect(requireNumericArray("data", new Float32Array(3)).length).toBe(3);
    expect(() => requireNumericArray("data", [1, "2"])).toThrow('`data` must contain only numbers. Found "2" at index 1.');
    expect(() => requireNumericArray("data", "12")).toThrow(/`data` must be an array of numbers/);
  });
});
