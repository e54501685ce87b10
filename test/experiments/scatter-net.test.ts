import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { prepareBackend } from "../../src/backend/index.js";
import { makePrivate } from "../../src/dpsgd/index.js";
import { DpError } from "../../src/errors.js";
import { loadMnist } from "../../src/data/index.js";
import { groupNormalize, Scattering2D, scatterHeadModel } from "../../src/experiments/scatter-net.js";

beforeAll(async () => {
  await prepareBackend({ backend: "cpu", announce: false });
});

const scat = new Scattering2D(); // J = 2, L = 8 on 28×28
const per = 7 * 7 * 81;

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}
function dist(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}
/** Energy of each channel of one example's channels-last features. */
function channelEnergy(f: Float32Array, channels = 81): number[] {
  const e = new Array<number>(channels).fill(0);
  for (let i = 0; i < f.length; i++) e[i % channels] += f[i] * f[i];
  return e;
}
/** The image shifted by (dr, dc) pixels, zeros entering (MNIST digits have empty borders). */
function shift(img: Float32Array, dr: number, dc: number): Float32Array {
  const out = new Float32Array(784);
  for (let r = 0; r < 28; r++)
    for (let c = 0; c < 28; c++) {
      const rr = r - dr;
      const cc = c - dc;
      if (rr >= 0 && rr < 28 && cc >= 0 && cc < 28) out[r * 28 + c] = img[rr * 28 + cc];
    }
  return out;
}

describe("Scattering2D (Kymatio's Morlet filter bank, J = 2, L = 8)", () => {
  const digits = loadMnist({ split: "test", count: 20 });
  const image = (i: number): Float32Array => digits.images.slice(i * 784, (i + 1) * 784);

  it("gives 81 channels at 7×7 (1 + J·L + L²·J(J−1)/2), channels last", () => {
    expect(scat.channels).toBe(81);
    expect(scat.outSize).toBe(7);
    expect(scat.padded).toBe(32);
    const f = scat.transform(digits.images.slice(0, 3 * 784), 3);
    expect(f.length).toBe(3 * per);
    expect(f.every(Number.isFinite)).toBe(true);
    // each image is transformed on its own: image 1 alone gives the same coefficients
    expect(dist(scat.transform(image(1), 1), f.subarray(per, 2 * per))).toBe(0);
    expect(new Scattering2D({ J: 1, L: 4 }).channels).toBe(5);
    expect(new Scattering2D({ J: 3, L: 8 }).channels).toBe(1 + 24 + 64 * 3);
  });

  it("has zero-mean wavelets and a unit-gain low pass (ψ̂(0) = 0, φ̂(0) ≈ 1)", () => {
    for (let j = 0; j < 2; j++) for (let t = 0; t < 8; t++) expect(Math.abs(scat.waveletHat(j, t)[0])).toBeLessThan(1e-12);
    // Kymatio normalises the Gaussian by 2·3.1415·σ², not 2π·σ², hence the 3e-5
    expect(scat.lowPassHat()[0]).toBeCloseTo(1, 4);
    // negative control: away from 0 the wavelet's spectrum is not zero
    expect(Math.max(...scat.waveletHat(0, 3).map(Math.abs))).toBeGreaterThan(0.5);
  });

  it("maps a constant image to its low pass only (S1 = S2 = 0), a digit to non-zero S1 and S2", () => {
    const f = scat.transform(new Float32Array(784).fill(0.5), 1);
    const e = channelEnergy(f);
    for (let c = 1; c < 81; c++) expect(e[c]).toBeLessThan(1e-20);
    for (let p = 0; p < 49; p++) expect(f[p * 81]).toBeCloseTo(0.5, 4);
    // negative control: a digit has energy in every first-order channel and in second order
    const d = channelEnergy(scat.transform(image(0), 1));
    for (let c = 1; c <= 16; c++) expect(d[c]).toBeGreaterThan(1e-3);
    expect(d.slice(17).reduce((a, b) => a + b, 0)).toBeGreaterThan(1e-3);
  });

  it("is selective to orientation: horizontal and vertical stripes peak 90° (L/2 angles) apart", () => {
    const stripes = (alongRows: boolean): Float32Array => {
      const img = new Float32Array(784);
      for (let r = 0; r < 28; r++)
        for (let c = 0; c < 28; c++) img[r * 28 + c] = 0.5 + 0.5 * Math.cos((3 * Math.PI * (alongRows ? r : c)) / 4);
      return img;
    };
    const peak = (img: Float32Array): number => {
      const e = channelEnergy(scat.transform(img, 1)).slice(1, 9); // S1, j = 0, θ = 0..7
      return e.indexOf(Math.max(...e));
    };
    const a = peak(stripes(true));
    const b = peak(stripes(false));
    expect((a - b + 8) % 8).toBe(4);
  });

  it("is stable to a one-pixel translation, unlike the pixels; different digits stay far apart", () => {
    const rel: number[] = [];
    const relPixels: number[] = [];
    const relOther: number[] = [];
    for (let i = 0; i < 10; i++) {
      const x = image(i);
      const fx = scat.transform(x, 1);
      const moved = shift(x, 1, 0);
      rel.push(dist(fx, scat.transform(moved, 1)) / norm(fx));
      relPixels.push(dist(x, moved) / norm(x));
      // negative control: another digit of another class
      const j = [...Array(20).keys()].find((k) => digits.labels[k] !== digits.labels[i]) as number;
      relOther.push(dist(fx, scat.transform(image(j), 1)) / norm(fx));
    }
    const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;
    // measured on these 10 digits: features 0.215, pixels 0.532, another digit 0.895
    expect(mean(relPixels)).toBeGreaterThan(0.45);
    expect(mean(rel)).toBeLessThan(0.3);
    expect(mean(rel)).toBeLessThan(mean(relPixels) / 2);
    expect(mean(relOther)).toBeGreaterThan(3 * mean(rel));
  });

  it("refuses input of the wrong length and bad parameters with a DpError", () => {
    expect(() => scat.transform(new Float32Array(783), 1)).toThrow(DpError);
    expect(() => new Scattering2D({ J: 0 })).toThrow(DpError);
    expect(() => new Scattering2D({ L: 2.5 })).toThrow(DpError);
  });
});

describe("groupNormalize", () => {
  it("normalises each group of each example to mean 0, variance 1, from that example alone", () => {
    const count = 3;
    const f = new Float32Array(count * 49 * 81);
    for (let i = 0; i < f.length; i++) f[i] = Math.sin(i * 0.37) * (1 + (i % 81)) + (i % 7);
    const changed = Float32Array.from(f);
    for (let i = 2 * 49 * 81; i < 3 * 49 * 81; i++) changed[i] = 100 * Math.cos(i); // only example 2 differs
    groupNormalize(f, count, 81, 27);
    groupNormalize(changed, count, 81, 27);
    for (let e = 0; e < count; e++)
      for (let g = 0; g < 27; g++) {
        let s = 0;
        let q = 0;
        for (let p = 0; p < 49; p++)
          for (let c = 0; c < 3; c++) {
            const v = f[e * 49 * 81 + p * 81 + g * 3 + c];
            s += v;
            q += v * v;
          }
        expect(Math.abs(s / 147)).toBeLessThan(1e-4);
        expect(q / 147).toBeCloseTo(1, 3);
      }
    // no statistic crosses examples: examples 0 and 1 are unchanged when example 2 changes
    expect(dist(f.subarray(0, 2 * 49 * 81), changed.subarray(0, 2 * 49 * 81))).toBe(0);
    // negative control: example 2 itself does change
    expect(dist(f.subarray(2 * 49 * 81), changed.subarray(2 * 49 * 81))).toBeGreaterThan(1);
  });

  it("refuses a group count that does not divide the channels", () => {
    expect(() => groupNormalize(new Float32Array(81), 1, 81, 10)).toThrow(DpError);
    expect(() => groupNormalize(new Float32Array(80), 1, 81, 27)).toThrow(DpError);
  });
});

describe("scatterHeadModel", () => {
  it("builds Tramèr & Boneh's linear and CNN heads on 7×7×81 features", () => {
    expect(scatterHeadModel("linear").countParams()).toBe(39700);
    const cnn = scatterHeadModel("cnn");
    expect(cnn.countParams()).toBe(33066);
    expect(cnn.outputs[0].shape).toEqual([null, 10]);
    expect(() => scatterHeadModel("mlp" as never)).toThrow(DpError);
  });

  it("trains privately through makePrivate (per-example rules for every layer of both heads)", async () => {
    const f = groupNormalize(scat.transform(loadMnist({ split: "train", count: 64 }).images, 64), 64, 81, 27);
    const labels = loadMnist({ split: "train", count: 64 }).labels;
    for (const kind of ["linear", "cnn"] as const) {
      const model = scatterHeadModel(kind);
      const before = model.getWeights().map((w) => w.dataSync().slice());
      const priv = makePrivate(model, {
        l2NormClip: 0.1,
        noiseMultiplier: 1,
        targetDelta: 1e-5,
        batchSize: 16,
        optimizer: tf.train.sgd(1),
        loss: "sparseCategoricalCrossentropy",
      });
      const x = tf.tensor(f, [64, 7, 7, 81]);
      const y = tf.tensor1d(labels, "float32");
      const h = await priv.fit(x, y, { epochs: 1, verbose: 0 });
      expect(priv.steps).toBe(4);
      expect(h.epsilon).toBeGreaterThan(0);
      const after = model.getWeights().map((w) => w.dataSync());
      // every weight tensor moved (noise reaches every parameter)
      for (let i = 0; i < after.length; i++) expect(dist(before[i], after[i])).toBeGreaterThan(0);
      tf.dispose([x, y]);
    }
  });
});
