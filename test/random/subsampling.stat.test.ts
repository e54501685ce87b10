/**
 * Poisson sampler: batch sizes follow Binomial(N, q) (Pearson chi-square against the exact PMF,
 * tails pooled to expected counts >= 5, critical value df + 6·sqrt(2·df)), each index joins with
 * probability q, and the negative controls (a fixed-size sampler, a slightly wrong q) fail the
 * same check.
 */
import { describe, expect, it } from "vitest";
import { poissonSampleIndices, SeededRng, uniformSampleIndices, type Rng } from "../../src/random/index.js";
import { logGamma } from "../helpers/audit.js";

function binomialPmf(n: number, q: number, k: number): number {
  return Math.exp(logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1) + k * Math.log(q) + (n - k) * Math.log1p(-q));
}

/** Pearson chi-square of observed batch sizes against Binomial(n, q); returns [statistic, critical]. */
function chiSquare(sizes: number[], n: number, q: number): [number, number] {
  const draws = sizes.length;
  const counts = new Array<number>(n + 1).fill(0);
  for (const s of sizes) counts[s]++;
  // Pool from both ends until every bin expects >= 5.
  const bins: { obs: number; exp: number }[] = [];
  let cur = { obs: 0, exp: 0 };
  for (let k = 0; k <= n; k++) {
    cur.obs += counts[k];
    cur.exp += draws * binomialPmf(n, q, k);
    if (cur.exp >= 5) {
      bins.push(cur);
      cur = { obs: 0, exp: 0 };
    }
  }
  if (cur.exp > 0 || cur.obs > 0) {
    bins[bins.length - 1].obs += cur.obs;
    bins[bins.length - 1].exp += cur.exp;
  }
  const stat = bins.reduce((a, b) => a + (b.obs - b.exp) ** 2 / b.exp, 0);
  const df = bins.length - 1;
  return [stat, df + 6 * Math.sqrt(2 * df)];
}

function sizes(sampler: () => number, draws: number): number[] {
  return Array.from({ length: draws }, sampler);
}

describe("poissonSampleIndices", () => {
  const N = 200;
  const q = 0.1;
  const draws = 20_000;
  const poisson = (rng?: Rng) => () => poissonSampleIndices({ datasetSize: N, samplingProbability: q, rng }).length;

  it("batch sizes follow Binomial(N, q) (seeded)", () => {
    const [stat, crit] = chiSquare(sizes(poisson(new SeededRng(5)), draws), N, q);
    expect(stat).toBeLessThan(crit);
  });

  it("batch sizes follow Binomial(N, q) (secure source)", () => {
    const [stat, crit] = chiSquare(sizes(poisson(), draws), N, q);
    expect(stat).toBeLessThan(crit);
  });

  it("a q that is not a short binary fraction (1/3) and a tiny q (1e-3) are sampled exactly in distribution", () => {
    const r = new SeededRng(6);
    const [s1, c1] = chiSquare(
      sizes(() => poissonSampleIndices({ datasetSize: 30, samplingProbability: 1 / 3, rng: r }).length, draws),
      30,
      1 / 3,
    );
    expect(s1).toBeLessThan(c1);
    const [s2, c2] = chiSquare(
      sizes(() => poissonSampleIndices({ datasetSize: 5000, samplingProbability: 1e-3, rng: r }).length, 5000),
      5000,
      1e-3,
    );
    expect(s2).toBeLessThan(c2);
  });

  it("negative controls: fixed-size batches and a 10% wrong q fail the same check", () => {
    const r = new SeededRng(7);
    const fixed = sizes(() => uniformSampleIndices({ datasetSize: N, sampleSize: N * q, rng: r }).length, draws);
    expect(chiSquare(fixed, N, q)[0]).toBeGreaterThan(chiSquare(fixed, N, q)[1]);
    const wrongQ = sizes(() => poissonSampleIndices({ datasetSize: N, samplingProbability: q * 1.1, rng: r }).length, draws);
    const [stat, crit] = chiSquare(wrongQ, N, q);
    expect(stat).toBeGreaterThan(crit);
  });

  it("every index is included with probability q, independently of its position", () => {
    const r = new SeededRng(8);
    const hits = new Array<number>(N).fill(0);
    const runs = 5000;
    for (let i = 0; i < runs; i++) for (const j of poissonSampleIndices({ datasetSize: N, samplingProbability: q, rng: r })) hits[j]++;
    // Wilson-like z = 6 band on each index's inclusion rate.
    const sd = Math.sqrt((q * (1 - q)) / runs);
    for (const h of hits) expect(Math.abs(h / runs - q)).toBeLessThan(6 * sd);
  });

  it("returns sorted, distinct indices; edge cases q = 0, q = 1, N = 0", () => {
    const idx = poissonSampleIndices({ datasetSize: 1000, samplingProbability: 0.3, rng: new SeededRng(9) });
    for (let i = 1; i < idx.length; i++) expect(idx[i]).toBeGreaterThan(idx[i - 1]);
    expect(poissonSampleIndices({ datasetSize: 10, samplingProbability: 0 }).length).toBe(0);
    expect(Array.from(poissonSampleIndices({ datasetSize: 4, samplingProbability: 1 }))).toEqual([0, 1, 2, 3]);
    expect(poissonSampleIndices({ datasetSize: 0, samplingProbability: 0.5 }).length).toBe(0);
  });

  it("refuses bad parameters", () => {
    expect(() => poissonSampleIndices({ datasetSize: 10, samplingProbability: 1.5 })).toThrow(/samplingProbability/);
    expect(() => poissonSampleIndices({ datasetSize: 10, samplingProbability: NaN })).toThrow(/samplingProbability/);
    expect(() => poissonSampleIndices({ datasetSize: -1, samplingProbability: 0.5 })).toThrow(/datasetSize/);
    expect(() => uniformSampleIndices({ datasetSize: 10, sampleSize: 11 })).toThrow(/sampleSize/);
  });
});

describe("uniformSampleIndices", () => {
  it("draws exactly sampleSize distinct indices, each with probability m/N", () => {
    const r = new SeededRng(10);
    const N = 50;
    const m = 10;
    const hits = new Array<number>(N).fill(0);
    const runs = 5000;
    for (let i = 0; i < runs; i++) {
      const idx = uniformSampleIndices({ datasetSize: N, sampleSize: m, rng: r });
      expect(new Set(idx).size).toBe(m);
      for (const j of idx) hits[j]++;
    }
    const p = m / N;
    const sd = Math.sqrt((p * (1 - p)) / runs);
    for (const h of hits) expect(Math.abs(h / runs - p)).toBeLessThan(6 * sd);
  });
});
