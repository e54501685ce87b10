import { describe, expect, it } from "vitest";
import { RdpAccountant } from "../../../src/accounting/rdp/accountant.js";
import { DpError } from "../../../src/errors.js";
import {
  clipModelUpdate,
  distance,
  localDpEvent,
  localDpModNoiseMultiplier,
  localDpUpdate,
} from "../../../src/federated/flower/privacy.js";
import { SeededRng } from "../../../src/random/index.js";

const rng = new SeededRng(11);
const randomVector = (n: number, scale: number): Float32Array =>
  Float32Array.from({ length: n }, () => (rng.nextUint32() / 2 ** 32 - 0.5) * scale);

describe("clipModelUpdate (Flower's compute_clip_model_update)", () => {
  it("the sent update's norm never exceeds the clip, over random sizes and scales", () => {
    for (let t = 0; t < 300; t++) {
      const n = 1 + (rng.nextUint32() % 2000);
      const received = randomVector(n, 10 ** ((rng.nextUint32() % 7) - 2));
      const trained = Float32Array.from(received, (w) => w + (rng.nextUint32() / 2 ** 32 - 0.5) * 3);
      const clip = 10 ** ((rng.nextUint32() % 6) - 4);
      const r = clipModelUpdate(trained, received, clip);
      expect(distance(r.weights, received)).toBeLessThanOrEqual(clip);
      // and it is not shrunk more than float32 rounding of the weights forces
      const ulps = Math.sqrt(n) * 2 ** -23 * received.reduce((m, w) => Math.max(m, Math.abs(w) + 3), 0);
      if (r.clipped) expect(distance(r.weights, received)).toBeGreaterThan(clip * (1 - 1e-4) - ulps);
    }
  });
  it("an update within the clip is returned unchanged, bit for bit, with norm_bit false", () => {
    const received = randomVector(100, 1);
    const trained = Float32Array.from(received, (w, i) => w + (i % 2 ? 1e-3 : -1e-3));
    const r = clipModelUpdate(trained, received, 1);
    expect(r.clipped).toBe(false);
    expect(r.weights).toEqual(trained);
  });
  it("[3, 4] clipped to 1 is [0.6, 0.8] (the direction is kept)", () => {
    const r = clipModelUpdate(new Float32Array([3, 4]), new Float32Array([0, 0]), 1);
    expect(r.norm).toBe(5);
    expect(r.weights[0]).toBeCloseTo(0.6, 5);
    expect(r.weights[1]).toBeCloseTo(0.8, 5);
  });
  it("refuses a bad clip, unequal lengths and non-finite updates", () => {
    expect(() => clipModelUpdate(new Float32Array(2), new Float32Array(2), 0)).toThrow(DpError);
    expect(() => clipModelUpdate(new Float32Array(2), new Float32Array(3), 1)).toThrow(/length/);
    expect(() => clipModelUpdate(new Float32Array([NaN, 0]), new Float32Array(2), 1)).toThrow(/not finite/);
  });
});

describe("local DP parameters", () => {
  it("LocalDpMod's (sensitivity, epsilon, delta) map to a noise multiplier with the same sigma", () => {
    const z = localDpModNoiseMultiplier({ clippingNorm: 2, sensitivity: 2, epsilon: 1, delta: 1e-5 });
    expect(z * 2).toBeCloseTo(2 * Math.sqrt(2 * Math.log(1.25 / 1e-5)), 12);
    expect(() => localDpModNoiseMultiplier({ clippingNorm: 1, sensitivity: 1, epsilon: 0, delta: 1e-5 })).toThrow(/epsilon/);
  });
  it("each fit is gaussian(z/2); z = 0 is non-private", () => {
    expect(localDpEvent(3)).toEqual({ kind: "gaussian", noiseMultiplier: 1.5 });
    expect(localDpEvent(0)).toEqual({ kind: "nonPrivate" });
    const acc = new RdpAccountant();
    acc.compose(localDpEvent(4));
    expect(acc.getEpsilon(1e-5)).toBeGreaterThan(0);
  });
  it("noise has standard deviation z·C per coordinate around the clipped update", () => {
    const n = 200_000;
    const r = localDpUpdate(new Float32Array(n).fill(10), new Float32Array(n), {
      l2NormClip: 2,
      noiseMultiplier: 0.5,
      rng: new SeededRng(3),
      allowInsecureRng: true,
    });
    const mean0 = 2 / Math.sqrt(n); // the clipped update spreads C over n equal coordinates
    let s = 0;
    let s2 = 0;
    for (const v of r.weights) {
      s += v - mean0;
      s2 += (v - mean0) ** 2;
    }
    expect(Math.abs(s / n)).toBeLessThan(6 * (1 / Math.sqrt(n)));
    expect(Math.sqrt(s2 / n)).toBeCloseTo(1, 2);
    expect(r.clipped).toBe(true);
  });
});
