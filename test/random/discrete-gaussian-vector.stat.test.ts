/**
 * The bulk discrete Gaussian sampler (one tight loop over a typed array, random words read in
 * blocks) draws exactly the discrete Gaussian, never carries randomness from one call or source to
 * another, and stays exact on its bigint fallback (forced by widening the double enclosure).
 */
import { afterEach, describe, expect, it } from "vitest";
import { standardNormalCdf } from "../../src/math/normal.js";
import { discreteGaussianSampler, discreteGaussianVectorSampler } from "../../src/random/discrete-gaussian.js";
import { setExpEnclosureMarginForTesting } from "../../src/random/exp-bernoulli.js";
import { SeededRng } from "../../src/random/rng.js";
import { allClean, chiSquare, discreteGaussianPmf, wilsonContains } from "./stat.js";

const N = 120_000;

function fill(sigma: number, seed: number, n = N): Float64Array {
  const out = new Float64Array(n);
  discreteGaussianVectorSampler(sigma)(out, new SeededRng(seed));
  return out;
}

/** Chi-square of samples / sigma in 40 bins of width 1/4 against the normal CDF. */
function normalBinsPass(s: Float64Array, sigma: number): boolean {
  const binned = Array.from(s, (x) => Math.max(-20, Math.min(19, Math.floor((x / sigma) * 4))));
  const cdf = (z: number): number => standardNormalCdf(z / 4);
  return chiSquare(binned, (k) => (k <= -20 ? cdf(-19) : k >= 19 ? 1 - cdf(19) : cdf(k + 1) - cdf(k)), -20, 19).pass;
}

describe("bulk discrete Gaussian sampler", () => {
  let oldMargin: number | undefined;
  afterEach(() => {
    if (oldMargin !== undefined) setExpEnclosureMarginForTesting(oldMargin);
    oldMargin = undefined;
  });

  for (const [name, sigma, seed] of [
    ["sigma 0.8", 0.8, 401],
    ["sigma 3", 3, 402],
    ["sigma 12.5", 12.5, 403],
  ] as const) {
    it(`${name}: chi-square against the exact PMF, P[0] and the tail`, () => {
      const s = fill(sigma, seed);
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
  }

  it("sigma = 1.7·2^30 (the grid mechanisms' range [2^30, 2^31)): binned normal CDF and P[|X| <= sigma]; 2% off fails", () => {
    const sigma = 1.7 * 2 ** 30;
    const s = fill(sigma, 404);
    expect(allClean(s)).toBe(true);
    expect(s.every((x) => Number.isInteger(x))).toBe(true);
    expect(wilsonContains(s.filter((x) => Math.abs(x) <= sigma).length, N, 1 - 2 * standardNormalCdf(-1))).toBe(true);
    expect(normalBinsPass(s, sigma)).toBe(true);
    // Power: the same samples against a sigma 2% larger are rejected.
    expect(normalBinsPass(s, sigma * 1.02)).toBe(false);
  });

  it("negative control: sigma 3 samples fail against sigma 3.15", () => {
    expect(chiSquare(fill(3, 405), discreteGaussianPmf(3.15), -45, 45).pass).toBe(false);
  });

  it("stays exact on the bigint fallback (enclosure widened so most comparisons take it)", () => {
    oldMargin = setExpEnclosureMarginForTesting(2 ** -6);
    const s = fill(3, 406, 30_000);
    const chi = chiSquare(s, discreteGaussianPmf(3), -45, 45);
    expect(chi.statistic).toBeLessThanOrEqual(chi.critical);
    expect(chiSquare(s, discreteGaussianPmf(3.3), -45, 45).pass).toBe(false);
  });

  it("reads its own words: a call's output depends only on its source (nothing carried between calls or sources)", () => {
    const sigma = 1.7 * 2 ** 30;
    // Same seed, fresh sampler or a sampler used before with another source: identical output.
    const used = discreteGaussianVectorSampler(sigma);
    used(new Float64Array(1000), new SeededRng(1));
    const a = new Float64Array(5000);
    used(a, new SeededRng(7));
    expect(Array.from(a)).toEqual(Array.from(fill(sigma, 7, 5000)));
    // The scalar form hands out a block drawn from one source, and drops it when the source changes.
    const scalar = discreteGaussianSampler(3);
    scalar(new SeededRng(1));
    const b = new SeededRng(8);
    const fromB = Array.from({ length: 100 }, () => scalar(b));
    const fresh = discreteGaussianSampler(3);
    const c = new SeededRng(8);
    expect(fromB).toEqual(Array.from({ length: 100 }, () => fresh(c)));
  });
});
