/**
 * The Float32Array step functions: clipping bounds every example's norm (non-finite gradients are
 * zeroed), the noise has standard deviation sigma·C before the division by the expected batch
 * size, and parameters are checked.
 */
import { describe, expect, it } from "vitest";
import { SeededRng } from "../../src/random/index.js";
import { DpError } from "../../src/errors.js";
import { clipAndSum, clipFactors, privatizeClippedSum } from "../../src/dpsgd/index.js";
import { privatizeInPlace } from "../../src/dpsgd/privatize.js";

describe("clipFactors / clipAndSum", () => {
  it("scales each example to norm at most C and sums", () => {
    expect(Array.from(clipFactors([0.5, 4, NaN, Infinity, 0], 1))).toEqual([1, 0.25, 0, 0, 1]);
    const g = new Float32Array([3, 4, 0.3, 0.4, 0, 0]);
    const { clippedSum, norms } = clipAndSum({ perExampleGradients: g, dimension: 2, l2NormClip: 1 });
    expect(clippedSum[0]).toBeCloseTo(0.6 + 0.3, 6);
    expect(clippedSum[1]).toBeCloseTo(0.8 + 0.4, 6);
    expect(Array.from(norms).map((n) => Number(n.toFixed(5)))).toEqual([5, 0.5, 0]);
  });

  it("zeroes non-finite per-example gradients instead of poisoning the sum", () => {
    const g = new Float32Array([NaN, 1, 1e30, 1e30, 0.1, 0.1, Infinity, 0]);
    const { clippedSum } = clipAndSum({ perExampleGradients: g, dimension: 2, l2NormClip: 1 });
    // NaN and Infinity examples contribute nothing; the huge but finite one is clipped to norm 1.
    expect(Number.isFinite(clippedSum[0]) && Number.isFinite(clippedSum[1])).toBe(true);
    expect(Math.hypot(clippedSum[0] - 0.1, clippedSum[1] - 0.1)).toBeCloseTo(1, 5);
  });

  it("bounds the sum's sensitivity by C for any added example", () => {
    const r = new SeededRng(1);
    const d = 5;
    for (let t = 0; t < 200; t++) {
      const g = Float32Array.from({ length: 4 * d }, () => (r.nextUint32() / 2 ** 32 - 0.5) * 10 ** (r.nextUint32() % 4));
      const a = clipAndSum({ perExampleGradients: g.subarray(0, 3 * d), dimension: d, l2NormClip: 0.7 }).clippedSum;
      const b = clipAndSum({ perExampleGradients: g, dimension: d, l2NormClip: 0.7 }).clippedSum;
      expect(Math.hypot(...Array.from(b, (v, i) => v - a[i]))).toBeLessThanOrEqual(0.7 * (1 + 1e-6));
    }
  });

  it("refuses bad parameters", () => {
    expect(() => clipAndSum({ perExampleGradients: new Float32Array(5), dimension: 2, l2NormClip: 1 })).toThrow(/multiple/);
    expect(() => clipAndSum({ perExampleGradients: new Float32Array(4), dimension: 2, l2NormClip: 0 })).toThrow(/l2NormClip/);
    expect(() => clipFactors([1], -1)).toThrow(DpError);
  });
});

describe("privatizeClippedSum", () => {
  it("adds N(0, (sigma·C)²) to the sum, then divides by the expected batch size", () => {
    const d = 20_000;
    const sum = new Float32Array(d).fill(3);
    const out = privatizeClippedSum({
      clippedSum: sum,
      l2NormClip: 2,
      noiseMultiplier: 1.5,
      expectedBatchSize: 4,
      rng: new SeededRng(2),
      allowInsecureRng: true,
    });
    let m = 0;
    for (const v of out) m += v;
    m /= d;
    let v2 = 0;
    for (const v of out) v2 += (v - m) ** 2;
    const sd = Math.sqrt(v2 / (d - 1));
    expect(m).toBeCloseTo(0.75, 1); // 3 / 4
    expect(Math.abs(sd - 0.75) / 0.75).toBeLessThan(0.03); // 1.5·2 / 4, ±3% (6 standard errors)
    // Negative control: dividing by 8 instead of 4 (e.g. a realised batch twice as large) is detected.
    expect(Math.abs(sd / 2 - 0.75) / 0.75).toBeGreaterThan(0.03);
  });

  it("noise 0 gives exactly the sum over the expected batch size; the input is not modified", () => {
    const sum = new Float32Array([1, -2, 3]);
    const out = privatizeClippedSum({ clippedSum: sum, l2NormClip: 1, noiseMultiplier: 0, expectedBatchSize: 2 });
    expect(Array.from(out)).toEqual([0.5, -1, 1.5]);
    expect(Array.from(sum)).toEqual([1, -2, 3]);
  });

  it("uses the secure source by default (no two calls agree)", () => {
    const a = privatizeClippedSum({ clippedSum: new Float32Array(8), l2NormClip: 1, noiseMultiplier: 1, expectedBatchSize: 1 });
    const b = privatizeClippedSum({ clippedSum: new Float32Array(8), l2NormClip: 1, noiseMultiplier: 1, expectedBatchSize: 1 });
    expect(Array.from(a)).not.toEqual(Array.from(b));
  });

  it("refuses bad parameters and non-finite sums", () => {
    const base = { clippedSum: new Float32Array(2), l2NormClip: 1, noiseMultiplier: 1, expectedBatchSize: 2 };
    expect(() => privatizeClippedSum({ ...base, noiseMultiplier: -1 })).toThrow(/noiseMultiplier/);
    expect(() => privatizeClippedSum({ ...base, noiseMultiplier: NaN })).toThrow(/noiseMultiplier/);
    expect(() => privatizeClippedSum({ ...base, l2NormClip: 0 })).toThrow(/l2NormClip/);
    expect(() => privatizeClippedSum({ ...base, expectedBatchSize: 0 })).toThrow(/expectedBatchSize/);
    expect(() => privatizeClippedSum({ ...base, clippedSum: new Float32Array([NaN, 0]) })).toThrow(/clippedSum/);
  });
});

describe("privatizeInPlace (the path of dpGradients and makePrivate)", () => {
  it("noises several variables as one vector: the same values as privatizeClippedSum on their concatenation", () => {
    const a = Float32Array.from({ length: 70_000 }, (_, i) => Math.sin(i));
    const b = Float32Array.from({ length: 37 }, (_, i) => i / 7);
    const o = { l2NormClip: 2, noiseMultiplier: 1.3, expectedBatchSize: 16, allowInsecureRng: true };
    const whole = privatizeClippedSum({ ...o, clippedSum: Float32Array.from([...a, ...b]), rng: new SeededRng(9) });
    const parts = [a.slice(), b.slice()];
    const out = privatizeInPlace(parts, { ...o, rng: new SeededRng(9) });
    expect(out[0]).toBe(parts[0]); // in place: no copy
    expect(Array.from([...out[0], ...out[1]])).toEqual(Array.from(whole));
    // Negative control: an independent draw per variable (each part from the same seed) differs.
    const separate = [
      privatizeInPlace([a.slice()], { ...o, rng: new SeededRng(9) })[0],
      privatizeInPlace([b.slice()], { ...o, rng: new SeededRng(9) })[0],
    ];
    expect(Array.from([...separate[0], ...separate[1]])).not.toEqual(Array.from(whole));
  });

  it("refuses a non-finite entry in any part, with and without noise", () => {
    const o = { l2NormClip: 1, noiseMultiplier: 1, expectedBatchSize: 2 };
    expect(() => privatizeInPlace([new Float32Array(3), new Float32Array([0, Infinity])], o)).toThrow(/clippedSum/);
    expect(() => privatizeInPlace([new Float32Array([NaN])], { ...o, noiseMultiplier: 0 })).toThrow(/clippedSum/);
  });
});
