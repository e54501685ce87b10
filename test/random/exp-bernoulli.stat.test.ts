/**
 * The fast exact Bernoulli(exp(-x)) (src/random/exp-bernoulli.ts) decides almost every draw from
 * a double enclosure and refines with bigint arithmetic only inside it. These tests widen the
 * enclosure (margin 1/2) so that the bigint refinement decides a large share of the draws, and
 * check the samplers against their exact PMFs on that path too. Negative control: a wrong
 * parameter fails the same chi-square.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expNegEnclosure, setExpEnclosureMarginForTesting } from "../../src/random/exp-bernoulli.js";
import { bernoulliExp, discreteGaussian, discreteLaplace, SeededRng } from "../../src/random/index.js";
import { chiSquare, discreteGaussianPmf, discreteLaplacePmf, draw } from "./stat.js";

const N = 30_000;

describe("bigint enclosure of e^{-x}", () => {
  it("contains e^{-x} and is a few units wide", () => {
    for (const [n, d] of [
      [0n, 1n],
      [1n, 1n],
      [7n, 10n],
      [123n, 7n],
      [1n, 3n],
    ] as [bigint, bigint][]) {
      for (const q of [53, 85, 200]) {
        const [lo, hi] = expNegEnclosure(n, d, q);
        expect(hi - lo).toBeLessThanOrEqual(4n);
        // Math.exp of the rounded argument: relative error up to about x·2^-52 (plus ±1 unit).
        const x = Number(n) / Number(d);
        const approx = Math.exp(-x) * 2 ** q;
        const tol = approx * (1e-15 + x * 4e-16) + 1;
        expect(Number(lo)).toBeLessThanOrEqual(approx + tol);
        expect(Number(hi)).toBeGreaterThanOrEqual(approx - tol);
        expect(Number(lo)).toBeGreaterThanOrEqual(approx - tol - 4);
      }
    }
  });
});

describe("huge exponents", () => {
  it("Bernoulli(exp(-x)) for x = 40, 1e6, 1e300 returns false without a long refinement", () => {
    const rng = new SeededRng(902);
    for (const x of [40, 1e6, 1e300]) for (let i = 0; i < 2000; i++) expect(bernoulliExp(x, rng)).toBe(false);
  });
});

describe("samplers on the forced bigint-refinement path", () => {
  let old = 0;
  beforeAll(() => {
    old = setExpEnclosureMarginForTesting(0.5);
  });
  afterAll(() => {
    setExpEnclosureMarginForTesting(old);
  });
  it("Bernoulli(exp(-0.3)) and Bernoulli(exp(-2.5))", () => {
    const rng = new SeededRng(900);
    for (const x of [0.3, 2.5]) {
      const s = draw(N, () => (bernoulliExp(x, rng) ? 1 : 0));
      const p = Math.exp(-x);
      const chi = chiSquare(s, (k) => (k === 1 ? p : k === 0 ? 1 - p : 0), 0, 1);
      expect(chi.statistic).toBeLessThanOrEqual(chi.critical);
    }
    const s = draw(N, () => (bernoulliExp(0.3, rng) ? 1 : 0));
    const wrong = Math.exp(-0.35);
    expect(chiSquare(s, (k) => (k === 1 ? wrong : k === 0 ? 1 - wrong : 0), 0, 1).pass).toBe(false);
  });
  it("discrete Laplace(3.5) (inversion) and discrete Gaussian(3)", () => {
    const rng = new SeededRng(901);
    for (const scale of [3.5, 3]) {
      // 3.5: the general inversion; 3: the tight integer-scale loop of the grid mechanisms.
      const l = draw(N, () => discreteLaplace(scale, rng));
      const chiL = chiSquare(l, discreteLaplacePmf(scale), -150, 150);
      expect(chiL.statistic).toBeLessThanOrEqual(chiL.critical);
    }
    const g = draw(N, () => discreteGaussian(3, rng));
    const chiG = chiSquare(g, discreteGaussianPmf(3), -45, 45);
    expect(chiG.statistic).toBeLessThanOrEqual(chiG.critical);
    expect(chiSquare(g, discreteGaussianPmf(3.3), -45, 45).pass).toBe(false);
  });
});
