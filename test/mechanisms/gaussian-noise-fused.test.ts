/**
 * The fused in-place exact noise of DP-SGD and DP-FedAvg (addGaussianNoiseInPlace, under
 * privatizeInPlace): bit for bit the reference computation done the long way (round every entry
 * onto the grid, one vector of exact noise for the whole length, fromGridUnits, divide, round to
 * float32 once), over several parts whose lengths cross the noise pieces, for divisors that are and
 * are not powers of two, with ties, zeros, subnormals, huge values, the overflow clamp of a huge
 * stddev and the check path of a tiny one; and a non-finite entry anywhere is refused with nothing
 * written and no randomness drawn.
 */
import { describe, expect, it } from "vitest";
import { privatizeInPlace } from "../../src/dpsgd/privatize.js";
import { DpError } from "../../src/errors.js";
import { addGaussianNoise, addGaussianNoiseInPlace, exactNoiseGrid } from "../../src/mechanisms/gaussian-noise.js";
import { fromGridUnits, toGridUnits } from "../../src/mechanisms/grid.js";
import { discreteGaussianVectorSampler } from "../../src/random/discrete-gaussian.js";
import { fillGaussian } from "../../src/random/gaussian.js";
import { SeededRng } from "../../src/random/rng.js";

/** The bits of a float32 vector (so -0 and +0, and NaNs, are told apart). */
function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

/** The reference, unfused: grid units in doubles, one noise vector of the total length, scale back, divide, float32. */
function referenceExact(parts: Float32Array[], stddev: number, sensitivity: number, b: number, seed: number): Float32Array[] {
  const total = parts.reduce((s, p) => s + p.length, 0);
  const { granularity: g, gridSigma } = exactNoiseGrid(stddev, sensitivity, total);
  const z = new Float64Array(total);
  discreteGaussianVectorSampler(gridSigma)(z, new SeededRng(seed));
  let at = 0;
  return parts.map((p) => {
    const o = Float32Array.from(p, (v, i) => fromGridUnits(toGridUnits("v", v, g), z[at + i], g) / b);
    at += p.length;
    return o;
  });
}

/** Parts crossing the 4096-entry noise pieces, with ties, zeros, -0, subnormals and large values. */
function testParts(g: number): Float32Array[] {
  const lengths = [5000, 1, 0, 9000, 4096, 37];
  return lengths.map((n, pi) =>
    Float32Array.from({ length: n }, (_, i) => {
      switch ((i + pi) % 9) {
        case 0:
          return Math.sin(i + pi) * 0.05;
        case 1:
          return (Math.floor(i / 9) + 0.5) * g; // a tie: exactly half a grid step
        case 2:
          return -(Math.floor(i / 9) + 0.5) * g;
        case 3:
          return 0;
        case 4:
          return -0;
        case 5:
          return 1e-45 * (i % 3); // float32 subnormals
        case 6:
          return (i % 2 ? -1 : 1) * 1e30;
        case 7:
          return -3e38;
        default:
          return Math.cos(i) * 0.3;
      }
    }),
  );
}

describe("fused in-place exact noise", () => {
  it("is bit for bit the unfused reference (several parts, divisors 256, 100, 3, 0.75, 1; ties, zeros, subnormals, huge entries)", () => {
    const stddev = 0.11;
    const sensitivity = 0.1;
    const g = exactNoiseGrid(stddev, sensitivity, 1).granularity;
    for (const [b, seed] of [
      [256, 1],
      [100, 2],
      [3, 3],
      [0.75, 4],
      [1, 5],
    ] as const) {
      const parts = testParts(g);
      const expected = referenceExact(parts, stddev, sensitivity, b, seed);
      addGaussianNoiseInPlace(parts, { stddev, sensitivity, divisor: b, name: "clippedSum", rng: new SeededRng(seed) });
      for (let i = 0; i < parts.length; i++) expect(bits(parts[i])).toEqual(bits(expected[i]));
      // privatizeInPlace is this call (noise multiplier 1.1, clip 0.1).
      const viaDpSgd = testParts(g);
      privatizeInPlace(viaDpSgd, {
        l2NormClip: sensitivity,
        noiseMultiplier: stddev / sensitivity,
        expectedBatchSize: b,
        rng: new SeededRng(seed),
        allowInsecureRng: true,
      });
      const expected2 = referenceExact(testParts(g), (stddev / sensitivity) * sensitivity, sensitivity, b, seed);
      for (let i = 0; i < parts.length; i++) expect(bits(viaDpSgd[i])).toEqual(bits(expected2[i]));
    }
  });

  it("negative controls: another seed, per-part noise streams, or a float32 rounding before the division all differ", () => {
    const g = exactNoiseGrid(0.11, 0.1, 1).granularity;
    const run = (seed: number): Float32Array[] => {
      const parts = testParts(g);
      addGaussianNoiseInPlace(parts, { stddev: 0.11, sensitivity: 0.1, divisor: 100, name: "x", rng: new SeededRng(seed) });
      return parts;
    };
    const a = run(7);
    expect(bits(run(8)[0])).not.toEqual(bits(a[0]));
    // Each part noised on its own (a fresh stream per part) is not the one-vector release.
    const ref = referenceExact(testParts(g), 0.11, 0.1, 100, 7);
    const separate = testParts(g).map((p) => referenceExact([p], 0.11, 0.1, 100, 7)[0]);
    expect(bits(separate[3])).not.toEqual(bits(ref[3]));
    // One rounding to float32 matters: rounding the noisy sum to float32 before dividing differs.
    const total = testParts(g).reduce((s, p) => s + p.length, 0);
    const { gridSigma } = exactNoiseGrid(0.11, 0.1, total);
    const z = new Float64Array(total);
    discreteGaussianVectorSampler(gridSigma)(z, new SeededRng(7));
    const twice = Float32Array.from(testParts(g)[0], (v, i) => Math.fround(fromGridUnits(toGridUnits("v", v, g), z[i], g)) / 100);
    expect(bits(twice)).not.toEqual(bits(a[0]));
    expect(bits(ref[0])).toEqual(bits(a[0]));
  });

  it("matches the reference where the grid output overflows (clamped; stddev 1e308) and where the grid is finer than 2^-895 (stddev 2^-880)", () => {
    for (const [stddev, b] of [
      [1e308, 1],
      [1e308, 2],
      [2 ** -880, 256],
    ] as const) {
      const g = exactNoiseGrid(stddev, stddev, 1).granularity;
      const parts =
        stddev > 1
          ? [Float32Array.from({ length: 3000 }, (_, i) => (i % 2 ? 3e38 : -1e30))]
          : [Float32Array.from({ length: 3000 }, (_, i) => (i % 3 ? 1e30 : Math.sin(i) * 1e-3))];
      const expected = referenceExact(parts, stddev, stddev, b, 11);
      addGaussianNoiseInPlace(parts, { stddev, sensitivity: stddev, divisor: b, name: "x", rng: new SeededRng(11) });
      expect(bits(parts[0])).toEqual(bits(expected[0]));
      if (stddev > 1) expect(g).toBeGreaterThan(2 ** 900);
      else expect(g).toBeLessThan(2 ** -895);
    }
  });

  it("continuous noise in place: bit for bit fillGaussian over the whole length, added, divided, float32", () => {
    const parts = [Float32Array.from({ length: 3000 }, (_, i) => Math.sin(i)), Float32Array.from({ length: 5 }, (_, i) => i)];
    const noise = fillGaussian(new Float64Array(3005), 0.7, new SeededRng(3));
    const expected = [
      Float32Array.from(parts[0], (v, i) => (noise[i] + v) / 9),
      Float32Array.from(parts[1], (v, i) => (noise[3000 + i] + v) / 9),
    ];
    addGaussianNoiseInPlace(parts, { stddev: 0.7, sensitivity: 1, noise: "continuous", divisor: 9, name: "x", rng: new SeededRng(3) });
    expect(bits(parts[0])).toEqual(bits(expected[0]));
    expect(bits(parts[1])).toEqual(bits(expected[1]));
  });

  it("addGaussianNoise (one pass into its output) is bit for bit the unfused reference in doubles, overflow clamp included", () => {
    for (const [stddev, seed, values] of [
      [1.1, 21, Float64Array.from({ length: 10_000 }, (_, i) => (i % 5 === 0 ? (i + 0.5) * 2 ** -30 : Math.sin(i) * 3))],
      [1e307, 22, Float64Array.from({ length: 2000 }, (_, i) => (i % 2 ? 1.7e308 : -1.7e308) * (i % 3 ? 1 : 1e-3))],
    ] as const) {
      const sensitivity = stddev / 1.1;
      const { granularity: g, gridSigma } = exactNoiseGrid(stddev, sensitivity, values.length);
      const z = new Float64Array(values.length);
      discreteGaussianVectorSampler(gridSigma)(z, new SeededRng(seed));
      const expected = Float64Array.from(values, (v, i) => fromGridUnits(toGridUnits("v", v, g), z[i], g));
      const got = addGaussianNoise(values, { stddev, sensitivity, rng: new SeededRng(seed) });
      expect(Array.from(new Uint32Array(got.buffer))).toEqual(Array.from(new Uint32Array(expected.buffer)));
      if (stddev > 1e300) expect(got.some((x) => Math.abs(x) === Math.floor(Number.MAX_VALUE / g) * g)).toBe(true); // clamped entries
    }
  });

  it("refuses a non-finite entry anywhere, in any part, with nothing written and no randomness drawn", () => {
    const fresh = (): Float32Array[] => [
      Float32Array.from({ length: 3000 }, (_, i) => Math.sin(i)),
      Float32Array.from({ length: 5000 }, (_, i) => Math.cos(i)),
      Float32Array.from({ length: 10 }, (_, i) => i),
    ];
    const before = fresh().map(bits);
    const o = { l2NormClip: 1, noiseMultiplier: 1.1, expectedBatchSize: 64, allowInsecureRng: true };
    for (const bad of [NaN, Infinity, -Infinity]) {
      for (const [part, at] of [
        [0, 0],
        [1, 2500],
        [2, 9],
      ] as const) {
        for (const noise of ["exact", "continuous"] as const) {
          const parts = fresh();
          parts[part][at] = bad;
          const rng = new SeededRng(5);
          let err: unknown;
          try {
            privatizeInPlace(parts, { ...o, noise, rng });
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(DpError);
          expect((err as DpError).code).toBe("non_finite");
          expect((err as DpError).argument).toBe("clippedSum");
          parts[part][at] = fresh()[part][at];
          expect(parts.map(bits)).toEqual(before);
          expect(rng.nextUint32()).toBe(new SeededRng(5).nextUint32()); // nothing drawn
        }
      }
    }
    // An entry too large for a grid finer than 2^-895 (3e38 / 2^-910 overflows) is refused the same way.
    const parts = fresh();
    parts[1][7] = 3e38;
    const copy = parts.map(bits);
    expect(() =>
      addGaussianNoiseInPlace(parts, { stddev: 2 ** -880, sensitivity: 1, divisor: 1, name: "update", rng: new SeededRng(1) }),
    ).toThrow(/update/);
    expect(parts.map(bits)).toEqual(copy);
    // Control: the same parts with finite entries are accepted, and then every part changes.
    const ok = fresh();
    privatizeInPlace(ok, { ...o, rng: new SeededRng(5) });
    for (let i = 0; i < ok.length; i++) expect(bits(ok[i])).not.toEqual(before[i]);
  });
});
