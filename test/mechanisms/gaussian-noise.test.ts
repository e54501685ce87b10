/**
 * addGaussianNoise, the one switch DP-SGD and DP-FedAvg call: exact grid noise by default (every
 * output a multiple of the granularity, the rounding charged to the noise), the continuous
 * opt-out, seeded reproducibility, bad input; and the call sites use it (DP-SGD's
 * privatizeClippedSum, the DP-FedAvg server noise, clip-local client noise).
 */
import { describe, expect, it } from "vitest";
import { privatizeClippedSum } from "../../src/dpsgd/privatize.js";
import { privatizeUpdate } from "../../src/federated/client/privatize.js";
import { addGaussianNoise, exactNoiseGrid } from "../../src/mechanisms/gaussian-noise.js";
import { SeededRng } from "../../src/random/rng.js";
import { DpError } from "../../src/errors.js";

function stdOf(a: Float64Array, base: ArrayLike<number>): number {
  let q = 0;
  for (let i = 0; i < a.length; i++) q += (a[i] - base[i]) ** 2;
  return Math.sqrt(q / a.length);
}

describe("addGaussianNoise", () => {
  it("exact (default): outputs are multiples of the granularity, with the charged standard deviation", () => {
    const d = 200_000;
    const values = Float64Array.from({ length: d }, (_, i) => Math.sin(i) * 0.3);
    const out = addGaussianNoise(values, { stddev: 1.1, sensitivity: 1, rng: new SeededRng(1) });
    const { granularity, chargedStddev, gridSigma } = exactNoiseGrid(1.1, 1, d);
    expect(granularity).toBe(2 ** -30);
    expect(gridSigma).toBeGreaterThanOrEqual(2 ** 30);
    expect(gridSigma).toBeLessThan(2 ** 31);
    expect(chargedStddev).toBeCloseTo(1.1 * (1 + 2 ** -30 * Math.sqrt(d)), 15);
    expect(out.every((v) => Number.isInteger(v / granularity))).toBe(true);
    expect(Math.abs(stdOf(out, values) / chargedStddev - 1)).toBeLessThan(6 * Math.sqrt(1 / (2 * d)));
  });

  it("negative control: continuous noise is off the grid, and a wrong stddev is caught by the same check", () => {
    const d = 200_000;
    const values = new Float64Array(d);
    const out = addGaussianNoise(values, { stddev: 1.1, sensitivity: 1, noise: "continuous", rng: new SeededRng(2) });
    const g = exactNoiseGrid(1.1, 1, d).granularity;
    expect(out.every((v) => Number.isInteger(v / g))).toBe(false);
    expect(Math.abs(stdOf(out, values) / 1.1 - 1)).toBeLessThan(6 * Math.sqrt(1 / (2 * d)));
    const exact = addGaussianNoise(values, { stddev: 1.1, sensitivity: 1, rng: new SeededRng(3) });
    expect(Math.abs(stdOf(exact, values) / 1.15 - 1)).toBeGreaterThan(6 * Math.sqrt(1 / (2 * d)));
  });

  it("is reproducible under a seeded source; zero stddev returns a copy; bad options are DpErrors naming the option", () => {
    const v = [0.5, -1.25, 3];
    expect(Array.from(addGaussianNoise(v, { stddev: 2, sensitivity: 1, rng: new SeededRng(5) }))).toEqual(
      Array.from(addGaussianNoise(v, { stddev: 2, sensitivity: 1, rng: new SeededRng(5) })),
    );
    expect(Array.from(addGaussianNoise(v, { stddev: 0, sensitivity: 1 }))).toEqual(v);
    const named = (f: () => unknown, arg: string): void => {
      try {
        f();
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(DpError);
        expect((e as DpError).argument).toBe(arg);
      }
    };
    named(() => addGaussianNoise(v, { stddev: 1, sensitivity: 1, noise: "fast" as never }), "noise");
    named(() => addGaussianNoise(v, { stddev: -1, sensitivity: 1 }), "stddev");
    named(() => addGaussianNoise(v, { stddev: 1, sensitivity: 0 }), "sensitivity");
    named(() => addGaussianNoise([NaN], { stddev: 1, sensitivity: 1 }), "values[0]");
  });

  it("DP-SGD's privatizeClippedSum uses it (exact by default, continuous on request)", () => {
    const sum = Float32Array.from({ length: 1000 }, (_, i) => Math.cos(i));
    const o = { clippedSum: sum, l2NormClip: 0.5, noiseMultiplier: 1.3, expectedBatchSize: 64, allowInsecureRng: true };
    for (const noise of ["exact", "continuous"] as const) {
      const expected = addGaussianNoise(sum, { stddev: 1.3 * 0.5, sensitivity: 0.5, noise, rng: new SeededRng(9) });
      const got = privatizeClippedSum({ ...o, rng: new SeededRng(9), ...(noise === "exact" ? {} : { noise }) });
      expect(Array.from(got)).toEqual(Array.from(Float32Array.from(expected, (x) => x / 64)));
    }
  });

  it("clip-local client noise is exact by default (uploads on the grid before float32 rounding of small values)", () => {
    const delta = new Float32Array(64); // zero update: the upload is the noise itself
    const { upload } = privatizeUpdate(delta, { kind: "clip-local", l2NormClip: 1, noiseMultiplier: 1 }, new SeededRng(4), true);
    const expected = addGaussianNoise(delta, { stddev: 1, sensitivity: 1, rng: new SeededRng(4) });
    expect(Array.from(upload)).toEqual(Array.from(Float32Array.from(expected)));
    const cont = privatizeUpdate(delta, { kind: "clip-local", l2NormClip: 1, noiseMultiplier: 1 }, new SeededRng(4), true, "continuous");
    expect(Array.from(cont.upload)).not.toEqual(Array.from(upload));
  });
});
