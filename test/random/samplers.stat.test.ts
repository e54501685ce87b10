/**
 * Exact-PMF tests of the samplers (docs/testing.md section 1): 120,000 draws each, Pearson
 * chi-square with pooled tails against the conservative critical value df + 6·sqrt(2·df)
 * (false alarm about 1e-6), Wilson intervals at z = 6, and no NaN / ±Infinity / -0. Fixed seeds
 * keep CI deterministic; one block repeats the checks on the secure source. Every check has a
 * negative control: the same check on a deliberately wrong parameter must fail.
 */
import { describe, expect, it } from "vitest";
import {
  bernoulli,
  bernoulliExp,
  bernoulliExpRational,
  binomial,
  discreteGaussian,
  discreteGaussianRational,
  discreteLaplace,
  discreteLaplaceRational,
  fillGaussian,
  gaussianVector,
  geometric,
  geometricExp,
  secureRng,
  SeededRng,
  type Rng,
} from "../../src/random/index.js";
import { standardNormalCdf } from "../../src/math/normal.js";
import { allClean, binomialPmf, chiSquare, discreteGaussianPmf, discreteLaplacePmf, draw, wilsonContains } from "./stat.js";

const N = 120_000;

function bernoulliPmf(p: number): (k: number) => number {
  return (k) => (k === 1 ? p : k === 0 ? 1 - p : 0);
}

describe("Bernoulli(exp(-x)) matches its exact PMF", () => {
  const settings: [string, number, (r: Rng) => boolean][] = [
    ["x = 0.05", Math.exp(-0.05), (r) => bernoulliExp(0.05, r)],
    ["x = 1", Math.exp(-1), (r) => bernoulliExp(1, r)],
    ["x = 3.7", Math.exp(-3.7), (r) => bernoulliExp(3.7, r)],
    ["x = 7/3 (rational)", Math.exp(-7 / 3), (r) => bernoulliExpRational(7n, 3n, r)],
  ];
  settings.forEach(([name, p, f], i) => {
    it(name, () => {
      const rng = new SeededRng(100 + i);
      const s = draw(N, () => (f(rng) ? 1 : 0));
      const chi = chiSquare(s, bernoulliPmf(p), 0, 1);
      expect(chi.statistic).toBeLessThanOrEqual(chi.critical);
      const k = s.reduce((a, b) => a + b, 0);
      expect(wilsonContains(k, N, p)).toBe(true);
      expect(allClean(s)).toBe(true);
    });
  });
  it("negative control: x = 1 samples fail against exp(-1.03)", () => {
    const rng = new SeededRng(7);
    const s = draw(N, () => (bernoulliExp(1, rng) ? 1 : 0));
    expect(chiSquare(s, bernoulliPmf(Math.exp(-1.03)), 0, 1).pass).toBe(false);
    expect(
      wilsonContains(
        s.reduce((a, b) => a + b, 0),
        N,
        Math.exp(-1.05),
      ),
    ).toBe(false);
  });
  it("plain Bernoulli(p) is exact for dyadic and non-dyadic p", () => {
    const rng = new SeededRng(8);
    for (const p of [0.5, 0.1, 1 - 2 ** -40]) {
      const s = draw(N, () => (bernoulli(p, rng) ? 1 : 0));
      expect(chiSquare(s, bernoulliPmf(p), 0, 1).pass).toBe(true);
    }
  });
});

describe("discrete Laplace matches its exact PMF", () => {
  const settings: [string, number, (r: Rng) => number][] = [
    ["scale 1 (integer scale: the grid mechanisms' loop)", 1, (r) => discreteLaplace(1, r)],
    ["scale 3.5", 3.5, (r) => discreteLaplace(3.5, r)],
    ["scale 1/3 (bigint path)", 1 / 3, (r) => discreteLaplace(1 / 3, r)],
    ["scale 10/3 (rational)", 10 / 3, (r) => Number(discreteLaplaceRational(10n, 3n, r))],
  ];
  settings.forEach(([name, scale, f], i) => {
    it(name, () => {
      const rng = new SeededRng(200 + i);
      const s = draw(N, () => f(rng));
      const pmf = discreteLaplacePmf(scale);
      const chi = chiSquare(s, pmf, -Math.ceil(40 * scale) - 5, Math.ceil(40 * scale) + 5);
      expect(chi.statistic).toBeLessThanOrEqual(chi.critical);
      const zeros = s.filter((x) => x === 0).length;
      expect(wilsonContains(zeros, N, pmf(0))).toBe(true);
      // Tail P[|X| >= 2·scale + 1]
      const m = Math.ceil(2 * scale) + 1;
      const tailP = (2 * Math.exp(-m / scale)) / (1 + Math.exp(-1 / scale));
      expect(wilsonContains(s.filter((x) => Math.abs(x) >= m).length, N, tailP)).toBe(true);
      expect(allClean(s)).toBe(true);
    });
  });
  it("scale 2^31 + 5 (integer, large: the grid regime): tail masses", () => {
    const t = 2 ** 31 + 5;
    const rng = new SeededRng(250);
    const s = draw(N, () => discreteLaplace(t, rng));
    expect(allClean(s)).toBe(true);
    // P[Y >= m] = e^{-m/t} / (1 + e^{-1/t}) for m >= 1; check m = t/2, t, 3t on each side.
    for (const m of [Math.round(t / 2), t, 3 * t]) {
      const p = Math.exp(-m / t) / (1 + Math.exp(-1 / t));
      expect(wilsonContains(s.filter((y) => y >= m).length, N, p)).toBe(true);
      expect(wilsonContains(s.filter((y) => y <= -m).length, N, p)).toBe(true);
    }
    // Negative control: the same check with the scale 5% off fails.
    const wrong = Math.exp(-t / (1.05 * t)) / (1 + Math.exp(-1 / t));
    expect(wilsonContains(s.filter((y) => y >= t).length, N, wrong)).toBe(false);
  });
  it("negative control: scale 3.5 samples fail against scale 3.75", () => {
    const rng = new SeededRng(9);
    const s = draw(N, () => discreteLaplace(3.5, rng));
    expect(chiSquare(s, discreteLaplacePmf(3.75), -200, 200).pass).toBe(false);
  });
});

describe("discrete Gaussian matches its exact PMF", () => {
  const settings: [string, number, (r: Rng) => number][] = [
    ["sigma 0.8", 0.8, (r) => discreteGaussian(0.8, r)],
    ["sigma 3", 3, (r) => discreteGaussian(3, r)],
    ["sigma 12.5", 12.5, (r) => discreteGaussian(12.5, r)],
    ["sigma² = 9/4 (rational)", 1.5, (r) => Number(discreteGaussianRational(9n, 4n, r))],
  ];
  settings.forEach(([name, sigma, f], i) => {
    it(name, () => {
      const rng = new SeededRng(300 + i);
      const s = draw(N, () => f(rng));
      const pmf = discreteGaussianPmf(sigma);
      const r = Math.ceil(12 * sigma) + 5;
      const chi = chiSquare(s, pmf, -r, r);
      expect(chi.statistic).toBeLessThanOrEqual(chi.critical);
      expect(wilsonContains(s.filter((x) => x === 0).length, N, pmf(0))).toBe(true);
      const m = Math.ceil(2 * sigma);
      let tailP = 0;
      for (let k = m; k <= r + 200; k++) tailP += 2 * pmf(k);
      expect(wilsonContains(s.filter((x) => Math.abs(x) >= m).length, N, tailP)).toBe(true);
      expect(allClean(s)).toBe(true);
    });
  });
  it("sigma = 1.3·2^40 (the grid mechanisms' regime): variance and P[|X| <= sigma]", () => {
    const sigma = 1.3 * 2 ** 40;
    const rng = new SeededRng(310);
    const s = draw(N, () => discreteGaussian(sigma, rng));
    expect(allClean(s)).toBe(true);
    // P[|X| <= sigma] = erf(1/√2) up to O(1/sigma).
    const inside = s.filter((x) => Math.abs(x) <= sigma).length;
    expect(wilsonContains(inside, N, 1 - 2 * standardNormalCdf(-1))).toBe(true);
    // Binned chi-square against the normal CDF (discretisation error ~1e-12).
    const binned = Array.from(s, (x) => Math.max(-20, Math.min(19, Math.floor((x / sigma) * 4))));
    const cdf = (z: number): number => standardNormalCdf(z / 4);
    const chi = chiSquare(binned, (k) => (k <= -20 ? cdf(-19) : k >= 19 ? 1 - cdf(19) : cdf(k + 1) - cdf(k)), -20, 19);
    expect(chi.statistic).toBeLessThanOrEqual(chi.critical);
  });
  it("negative control: sigma 3 samples fail against sigma 3.15", () => {
    const rng = new SeededRng(11);
    const s = draw(N, () => discreteGaussian(3, rng));
    expect(chiSquare(s, discreteGaussianPmf(3.15), -45, 45).pass).toBe(false);
  });
});

describe("binomial and geometric match their exact PMFs", () => {
  const binSettings: [number, number][] = [
    [20, 0.3],
    [64, 0.5],
    [1001, 0.5],
  ];
  binSettings.forEach(([n, p], i) => {
    it(`binomial(${n}, ${p})`, () => {
      const rng = new SeededRng(400 + i);
      const s = draw(N, () => binomial(n, p, rng));
      const chi = chiSquare(s, binomialPmf(n, p), 0, n);
      expect(chi.statistic).toBeLessThanOrEqual(chi.critical);
      expect(allClean(s)).toBe(true);
    });
  });
  it("negative control: binomial(20, 0.3) fails against p = 0.31", () => {
    const rng = new SeededRng(12);
    const s = draw(N, () => binomial(20, 0.3, rng));
    expect(chiSquare(s, binomialPmf(20, 0.31), 0, 20).pass).toBe(false);
  });
  it("geometric(0.3) and geometricExp(2.5)", () => {
    const rng = new SeededRng(410);
    const g = draw(N, () => geometric(0.3, rng));
    const chi = chiSquare(g, (k) => (k >= 0 ? 0.7 ** k * 0.3 : 0), 0, 80);
    expect(chi.statistic).toBeLessThanOrEqual(chi.critical);
    const q = Math.exp(-1 / 2.5);
    const h = draw(N, () => geometricExp(2.5, rng));
    const chi2 = chiSquare(h, (k) => (k >= 0 ? (1 - q) * q ** k : 0), 0, 120);
    expect(chi2.statistic).toBeLessThanOrEqual(chi2.critical);
    expect(allClean(g) && allClean(h)).toBe(true);
    // negative control
    expect(chiSquare(g, (k) => (k >= 0 ? 0.68 ** k * 0.32 : 0), 0, 80).pass).toBe(false);
  });
});

describe("vector Gaussian noise (fillGaussian) is N(0, sigma²)", () => {
  const binnedNormal = (s: ArrayLike<number>, sigma: number) => {
    const binned = Array.from(s, (x) => Math.max(-24, Math.min(23, Math.floor((x / sigma) * 4))));
    const cdf = (z: number): number => standardNormalCdf(z / 4);
    return chiSquare(binned, (k) => (k <= -24 ? cdf(-23) : k >= 23 ? 1 - cdf(23) : cdf(k + 1) - cdf(k)), -24, 23);
  };
  it("Float64Array, seeded", () => {
    const s = fillGaussian(new Float64Array(N), 2.5, new SeededRng(500));
    const chi = binnedNormal(s, 2.5);
    expect(chi.statistic).toBeLessThanOrEqual(chi.critical);
    expect(allClean(s)).toBe(true);
    expect(binnedNormal(s, 2.6).pass).toBe(false); // negative control
  });
  it("the tail beyond the ziggurat's base layer (3.65 sigma) has the right mass (2M draws)", () => {
    const n = 2_000_000;
    const s = fillGaussian(new Float64Array(n), 1, new SeededRng(504));
    const tail = (samples: Float64Array, z: number) => samples.filter((x) => Math.abs(x) > z).length;
    for (const z of [3, 3.7, 4.2]) expect(wilsonContains(tail(s, z), n, 2 * standardNormalCdf(-z))).toBe(true);
    // Negative control: a sampler that lost its tail (values clamped at 3.65) is caught.
    const clipped = s.map((x) => Math.max(-3.65, Math.min(3.65, x)));
    expect(wilsonContains(tail(clipped, 3.7), n, 2 * standardNormalCdf(-3.7))).toBe(false);
    // Mean and variance
    let m = 0;
    let v = 0;
    for (const x of s) {
      m += x;
      v += x * x;
    }
    expect(Math.abs(m / n)).toBeLessThan(6 / Math.sqrt(n));
    expect(Math.abs(v / n - 1)).toBeLessThan(6 * Math.sqrt(2 / n));
  });
  it("Float32Array and gaussianVector; tiny sigma never yields -0 in float32", () => {
    const s = fillGaussian(new Float32Array(N), 1, new SeededRng(501));
    expect(binnedNormal(s, 1).pass).toBe(true);
    expect(allClean(gaussianVector(1001, 1, new SeededRng(502)))).toBe(true);
    const tiny = fillGaussian(new Float32Array(N), 1e-44, new SeededRng(503));
    expect(allClean(tiny)).toBe(true);
  });
});

describe("the same checks on the secure source", () => {
  const rng = secureRng();
  it("Bernoulli(exp(-1)), discrete Laplace(3.5), discrete Gaussian(3), fillGaussian", () => {
    const b = draw(N, () => (bernoulliExp(1, rng) ? 1 : 0));
    expect(chiSquare(b, bernoulliPmf(Math.exp(-1)), 0, 1).pass).toBe(true);
    const l = draw(N, () => discreteLaplace(3.5, rng));
    expect(chiSquare(l, discreteLaplacePmf(3.5), -150, 150).pass).toBe(true);
    const g = draw(N, () => discreteGaussian(3, rng));
    expect(chiSquare(g, discreteGaussianPmf(3), -45, 45).pass).toBe(true);
    expect(allClean(b) && allClean(l) && allClean(g)).toBe(true);
    const f = fillGaussian(new Float64Array(N), 1);
    let inside = 0;
    for (const x of f) if (Math.abs(x) <= 1) inside++;
    expect(wilsonContains(inside, N, 1 - 2 * standardNormalCdf(-1))).toBe(true);
  });
});
