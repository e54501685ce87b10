import { describe, expect, it } from "vitest";
import {
  LowRankCompressor,
  NoCompression,
  RandomSubsampler,
  StochasticQuantizer,
  inverseRandomizedHadamard,
  l2NormOf,
  randomizedHadamard,
} from "../../src/federated/index.js";
import type { UpdateCompressor } from "../../src/federated/index.js";
import { SeededRng, fillGaussian, secureRng } from "../../src/random/index.js";
import type { Rng } from "../../src/random/index.js";

const vec = (n: number, seed: number): Float32Array => Float32Array.from(fillGaussian(new Float64Array(n), 1, new SeededRng(seed)));

/**
 * Unbiasedness: over T independent encodings, every coordinate's mean is within 6 standard
 * errors of the input (the standard error estimated from the same draws), and the max
 * standardised deviation is reported for the negative control.
 */
function maxStandardisedBias(c: UpdateCompressor, v: Float32Array, T: number, rng: Rng): number {
  const n = v.length;
  const s = new Float64Array(n);
  const s2 = new Float64Array(n);
  for (let t = 0; t < T; t++) {
    const d = c.decode(c.encode(v, rng), n);
    for (let i = 0; i < n; i++) {
      s[i] += d[i];
      s2[i] += d[i] * d[i];
    }
  }
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const mean = s[i] / T;
    const se = Math.sqrt(Math.max(s2[i] / T - mean * mean, 1e-30) / T);
    worst = Math.max(worst, Math.abs(mean - v[i]) / se);
  }
  return worst;
}

describe("randomised Hadamard rotation", () => {
  it("round-trips exactly and preserves the norm", () => {
    for (const n of [1, 5, 64, 1000]) {
      const v = vec(n, n);
      const r = randomizedHadamard(v, 1234);
      expect(r.length).toBe(2 ** Math.ceil(Math.log2(Math.max(n, 1))));
      expect(l2NormOf(r)).toBeCloseTo(l2NormOf(v), 9);
      const back = inverseRandomizedHadamard(r, n, 1234);
      for (let i = 0; i < n; i++) expect(back[i]).toBeCloseTo(v[i], 12);
    }
  });
});

describe("stochastic quantisation", () => {
  it("is unbiased (1 and 2 bits, with and without rotation; seeded and secure)", () => {
    const v = vec(40, 1);
    for (const [c, rng] of [
      [new StochasticQuantizer({ bits: 1 }), new SeededRng(1)],
      [new StochasticQuantizer({ bits: 2, rotate: true }), new SeededRng(2)],
      [new StochasticQuantizer({ bits: 1, rotate: true }), secureRng()],
    ] as const) {
      expect(maxStandardisedBias(c, v, 4000, rng)).toBeLessThan(6);
    }
  });

  it("negative control: deterministic rounding to the nearest level is flagged as biased", () => {
    const q = new StochasticQuantizer({ bits: 1 });
    // An rng whose uniforms are always 0.5: rounding becomes deterministic (nearest level).
    const half: Rng = { secure: false, nextUint32: () => 0x80000000, fillBytes: () => {} };
    const v = vec(40, 1);
    const n = v.length;
    const d = q.decode(q.encode(v, half), n);
    // The bias test statistic degenerates (zero variance), so check the bias directly.
    let maxErr = 0;
    for (let i = 0; i < n; i++) maxErr = Math.max(maxErr, Math.abs(d[i] - v[i]));
    expect(maxErr).toBeGreaterThan(0.1);
    expect(maxStandardisedBias(q, v, 200, half)).toBeGreaterThan(6);
  });

  it("uses exactly the bytes it claims", () => {
    const v = vec(1000, 3);
    for (const bits of [1, 2, 3, 8]) {
      const plain = new StochasticQuantizer({ bits });
      expect(plain.encode(v).length).toBe(16 + Math.ceil((1000 * bits) / 8));
      expect(plain.encodedBytes(1000)).toBe(16 + Math.ceil((1000 * bits) / 8));
      const rot = new StochasticQuantizer({ bits, rotate: true });
      expect(rot.encode(v).length).toBe(20 + Math.ceil((1024 * bits) / 8));
    }
    expect(new NoCompression().encode(v).length).toBe(4000);
    expect(Array.from(new NoCompression().decode(new NoCompression().encode(v), 1000))).toEqual(Array.from(v));
  });

  it("rotation lowers the quantisation error on a spiky vector (Konečný et al.)", () => {
    const v = new Float32Array(256);
    v[3] = 10;
    v[100] = -4;
    const err = (c: UpdateCompressor): number => {
      let e = 0;
      const rng = new SeededRng(8);
      for (let t = 0; t < 50; t++) {
        const d = c.decode(c.encode(v, rng), v.length);
        for (let i = 0; i < v.length; i++) e += (d[i] - v[i]) ** 2;
      }
      return e;
    };
    expect(err(new StochasticQuantizer({ bits: 2, rotate: true }))).toBeLessThan(err(new StochasticQuantizer({ bits: 2 })));
  });
});

describe("subsampling and structured updates", () => {
  it("rescaled subsampling is unbiased and uses 4 + 4k bytes", () => {
    const v = vec(30, 4);
    const s = new RandomSubsampler({ fraction: 0.3 });
    expect(s.encode(v).length).toBe(4 + 4 * 9);
    expect(maxStandardisedBias(s, v, 4000, new SeededRng(5))).toBeLessThan(6);
  });

  it("negative control: the random mask without rescaling is biased toward zero", () => {
    const v = vec(30, 4);
    expect(maxStandardisedBias(new RandomSubsampler({ fraction: 0.3, rescale: false }), v, 4000, new SeededRng(5))).toBeGreaterThan(6);
  });

  it("low rank: bytes as claimed, a projection (never longer), exact for biases", () => {
    const shapes = [[60, 40], [40], [40, 10], [10]];
    const n = 60 * 40 + 40 + 40 * 10 + 10;
    const c = new LowRankCompressor({ shapes, rank: 5 });
    const v = vec(n, 6);
    const bytes = c.encode(v, new SeededRng(1));
    expect(bytes.length).toBe(4 + 4 * (5 * 40 + 40 + 5 * 10 + 10));
    expect(bytes.length).toBe(c.encodedBytes(n));
    const d = c.decode(bytes, n);
    expect(l2NormOf(d)).toBeLessThanOrEqual(l2NormOf(v) * (1 + 1e-6));
    for (let i = 2400; i < 2440; i++) expect(d[i]).toBe(v[i]);
    // Projecting twice with the same A changes nothing: decode(encode(d)) = d for the same seed.
    const again = c.decode(c.encode(d, new SeededRng(1)), n);
    for (let i = 0; i < n; i++) expect(again[i]).toBeCloseTo(d[i], 4);
  });
});
