/**
 * The statistics of dpkit/audit against hand-computed values.
 */
import { describe, expect, it } from "vitest";
import {
  DpError,
  attackAdvantage,
  attackMetrics,
  auc,
  binomialUpperTail,
  bootstrapInterval,
  clopperPearson,
  epsilonFromCounts,
  epsilonLowerBound,
  gdpEpsilon,
  gdpMuFromRates,
  oneRunAudit,
  oneRunCeiling,
  oneRunEpsilonLowerBound,
  oneRunPValue,
  rocCurve,
  rocPlot,
  tprAtFpr,
} from "../../src/audit/index.js";
import { SeededRng, fillGaussian } from "../../src/random/index.js";

describe("Clopper–Pearson", () => {
  it("matches closed forms at k = 0 and k = n", () => {
    expect(clopperPearson(0, 10, 0.05).upper).toBeCloseTo(1 - 0.05 ** (1 / 10), 10);
    expect(clopperPearson(10, 10, 0.05).lower).toBeCloseTo(0.05 ** (1 / 10), 10);
    expect(clopperPearson(0, 10, 0.05).lower).toBe(0);
    expect(clopperPearson(10, 10, 0.05).upper).toBe(1);
  });

  it("matches the textbook 95% interval for 5/10 and 100/1000", () => {
    const a = clopperPearson(5, 10, 0.025);
    expect(a.lower).toBeCloseTo(0.187086, 5);
    expect(a.upper).toBeCloseTo(0.812914, 5);
    const b = clopperPearson(100, 1000, 0.025);
    expect(b.lower).toBeCloseTo(0.0821, 4);
    expect(b.upper).toBeCloseTo(0.12028, 4);
  });

  it("refuses bad counts with a DpError naming the argument", () => {
    expect(() => clopperPearson(11, 10, 0.05)).toThrow(DpError);
    expect(() => clopperPearson(1, 10, 0)).toThrow(/alpha/);
  });

  it("binomial tails: 2^-10 and 1 − 2^-10", () => {
    expect(binomialUpperTail(10, 10, 0.5)).toBeCloseTo(2 ** -10, 15);
    expect(binomialUpperTail(1, 10, 0.5)).toBeCloseTo(1 - 2 ** -10, 12);
    expect(binomialUpperTail(0, 10, 0.3)).toBe(1);
    expect(binomialUpperTail(11, 10, 0.3)).toBe(0);
    // Tiny tail keeps its relative accuracy: P[Bin(100, 0.1) >= 100] = 1e-100.
    expect(binomialUpperTail(100, 100, 0.1) / 1e-100).toBeCloseTo(1, 8);
  });
});

describe("ε from counts", () => {
  it("900/1000 true positives against 100/1000 false positives, δ = 0: ln(0.87972/0.12028)", () => {
    const r = epsilonFromCounts({ truePositives: 900, positives: 1000, falsePositives: 100, negatives: 1000, delta: 0, alpha: 0.05 });
    const tprLo = clopperPearson(900, 1000, 0.025).lower;
    const fprHi = clopperPearson(100, 1000, 0.025).upper;
    expect(r.tprLower).toBe(tprLo);
    expect(r.fprUpper).toBe(fprHi);
    expect(r.epsilonLowerBound).toBeCloseTo(Math.log(tprLo / fprHi), 12);
    expect(r.epsilonLowerBound).toBeCloseTo(1.9896, 3);
    expect(r.confidence).toBe(0.95);
  });

  it("subtracts δ, and takes the other direction when it is larger", () => {
    const r = epsilonFromCounts({ truePositives: 900, positives: 1000, falsePositives: 100, negatives: 1000, delta: 0.5, alpha: 0.05 });
    expect(r.epsilonLowerBound).toBeCloseTo(Math.log((0.87972 - 0.5) / 0.12028), 3);
    // TNR/FNR direction: few false negatives, many false positives.
    const s = epsilonFromCounts({ truePositives: 999, positives: 1000, falsePositives: 500, negatives: 1000, delta: 0, alpha: 0.05 });
    expect(s.direction).toBe("tnr/fnr");
    const fnrHi = 1 - clopperPearson(999, 1000, 0.025).lower;
    expect(s.epsilonLowerBound).toBeCloseTo(Math.log((1 - clopperPearson(500, 1000, 0.025).upper) / fnrHi), 12);
  });

  it("an attack no better than chance gives 0", () => {
    expect(
      epsilonFromCounts({ truePositives: 500, positives: 1000, falsePositives: 500, negatives: 1000, delta: 1e-5 }).epsilonLowerBound,
    ).toBe(0);
  });

  it("GDP reading: μ = 2Φ⁻¹(0.9) for rates 0.1 / 0.9; μ = 0.5 is the Gaussian mechanism with σ = 2", () => {
    expect(gdpMuFromRates(0.1, 0.9)).toBeCloseTo(2 * 1.2815515655446004, 9);
    expect(gdpMuFromRates(0.5, 0.5)).toBe(0);
    expect(gdpEpsilon(0.5, 1e-5)).toBeCloseTo(1.9931, 3);
    expect(gdpEpsilon(0, 1e-5)).toBe(0);
  });
});

describe("threshold choice", () => {
  const n = 4000;
  const out = Array.from({ length: n }, (_, i) => i / n);
  const inn = out.map((s) => s + 0.25);

  it("one pre-registered threshold equals the count bound at that threshold; two cost a Bonferroni factor", () => {
    const one = epsilonLowerBound({
      scoresIn: inn,
      scoresOut: out,
      delta: 0,
      alpha: 0.05,
      strategy: { kind: "preregistered", thresholds: [0.9] },
    });
    const tp = inn.filter((s) => s >= 0.9).length;
    const fp = out.filter((s) => s >= 0.9).length;
    expect(one.epsilonLowerBound).toBe(
      epsilonFromCounts({ truePositives: tp, positives: n, falsePositives: fp, negatives: n, delta: 0, alpha: 0.05 }).epsilonLowerBound,
    );
    const two = epsilonLowerBound({
      scoresIn: inn,
      scoresOut: out,
      delta: 0,
      alpha: 0.05,
      strategy: { kind: "preregistered", thresholds: [0.9, 0.95] },
    });
    const at = (t: number): number =>
      epsilonFromCounts({
        truePositives: inn.filter((s) => s >= t).length,
        positives: n,
        falsePositives: out.filter((s) => s >= t).length,
        negatives: n,
        delta: 0,
        alpha: 0.025,
      }).epsilonLowerBound;
    expect(two.epsilonLowerBound).toBe(Math.max(at(0.9), at(0.95)));
    expect(at(0.9)).toBeLessThan(one.epsilonLowerBound);
    expect(two.confidence).toBe(0.95);
  });

  it("split: the selection part never enters the bound (negative control: separation only in the selection part)", () => {
    // First 20% perfectly separated, the rest identically distributed: an honest split reports ~0.
    const rng = new SeededRng(1);
    const a = fillGaussian(new Float64Array(10_000), 1, rng);
    const b = fillGaussian(new Float64Array(10_000), 1, rng);
    for (let i = 0; i < 2000; i++) {
      a[i] = 100 + i;
      b[i] = -100 - i;
    }
    const r = epsilonLowerBound({ scoresIn: a, scoresOut: b, delta: 0, strategy: { kind: "split", selectionFraction: 0.2 } });
    expect(r.trialsIn).toBe(8000);
    expect(r.epsilonLowerBound).toBeLessThan(0.1);
    // Whereas reusing the data for selection and bound (the mistake) would report a large ε.
    const cheat = epsilonLowerBound({
      scoresIn: a,
      scoresOut: b,
      delta: 0,
      strategy: { kind: "preregistered", thresholds: [r.threshold] },
    });
    expect(cheat.epsilonLowerBound).toBeGreaterThan(r.epsilonLowerBound);
  });

  it("split: finds a real gap (power)", () => {
    const r = epsilonLowerBound({ scoresIn: inn, scoresOut: out, delta: 0 });
    expect(r.strategy).toBe("split");
    expect(r.epsilonLowerBound).toBeGreaterThan(1);
  });
});

describe("ROC, AUC, TPR at FPR, advantage", () => {
  const roc = rocCurve([0.9, 0.8, 0.3], [0.1, 0.4, 0.2]);

  it("hand-computed curve", () => {
    expect(Array.from(roc.tpr)).toEqual([0, 1 / 3, 2 / 3, 2 / 3, 1, 1, 1]);
    expect(Array.from(roc.fpr)).toEqual([0, 0, 0, 1 / 3, 1 / 3, 2 / 3, 1]);
    expect(auc(roc)).toBeCloseTo(8 / 9, 12);
    expect(tprAtFpr(roc, 0)).toBeCloseTo(2 / 3, 12);
    expect(tprAtFpr(roc, 0.34)).toBe(1);
    expect(attackAdvantage(roc)).toBeCloseTo(2 / 3, 12);
  });

  it("ties count one half; identical scores give AUC 0.5 and advantage 0", () => {
    const t = rocCurve([1, 1], [1, 1]);
    expect(auc(t)).toBe(0.5);
    expect(attackAdvantage(t)).toBe(0);
    expect(attackMetrics([2, 3], [0, 1])).toMatchObject({ auc: 1, tprAt0_1PctFpr: 1, tprAt1PctFpr: 1, advantage: 1 });
  });

  it("NaN scores are refused", () => {
    expect(() => rocCurve([NaN], [1])).toThrow(DpError);
  });

  it("bootstrap interval brackets the estimate and is reproducible with a seed", () => {
    const rng = new SeededRng(3);
    const a = fillGaussian(new Float64Array(300), 1, rng).map((v) => v + 1);
    const b = fillGaussian(new Float64Array(300), 1, rng);
    const stat = (i: Float64Array, o: Float64Array): number => auc(rocCurve(i, o));
    const r1 = bootstrapInterval({ scoresIn: a, scoresOut: b, statistic: stat, resamples: 100, rng: new SeededRng(9) });
    const r2 = bootstrapInterval({ scoresIn: a, scoresOut: b, statistic: stat, resamples: 100, rng: new SeededRng(9) });
    expect(r1).toEqual(r2);
    expect(r1.lower).toBeLessThan(r1.estimate);
    expect(r1.upper).toBeGreaterThan(r1.estimate);
    // AUC of N(1,1) vs N(0,1) is Φ(1/√2) ≈ 0.760.
    expect(r1.lower).toBeLessThan(0.76);
    expect(r1.upper).toBeGreaterThan(0.76);
  });

  it("the ROC plot is an SVG on log axes", () => {
    const svg = rocPlot({ curves: [{ name: "loss", roc }] });
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("chance");
  });
});

describe("one-run audit (Steinke, Nasr & Jagielski 2023)", () => {
  it("p-value: 2^-100 for 100 of 100 at ε = 0, δ = 0", () => {
    expect(oneRunPValue({ canaries: 1000, guesses: 100, correct: 100 }, 0, 0) / 2 ** -100).toBeCloseTo(1, 9);
  });

  it("p-value with δ: β + 2mδ·max_i P[v−i <= W < v]/i by hand (r = v = 2, m = 10)", () => {
    // W ~ Bin(2, ½): β = ¼; i = 1: (¾ − ¼)/1 = ½; i = 2: (1 − ¼)/2 = 3/8; p = ¼ + ½·2·10·δ.
    expect(oneRunPValue({ canaries: 10, guesses: 2, correct: 2 }, 0, 0.01)).toBeCloseTo(0.25 + 0.5 * 2 * 10 * 0.01, 12);
  });

  it("ε bound for 100 of 100 at β = 0.05, δ = 0: the ceiling ln(q/(1−q)), q = 0.05^(1/100)", () => {
    const q = 0.05 ** (1 / 100);
    const expected = Math.log(q / (1 - q));
    expect(oneRunEpsilonLowerBound({ canaries: 1000, guesses: 100, correct: 100, delta: 0, beta: 0.05 })).toBeCloseTo(expected, 6);
    expect(oneRunCeiling({ canaries: 1000, guesses: 100, delta: 0, beta: 0.05 })).toBeCloseTo(expected, 6);
    // δ > 0 lowers the ceiling; more guesses raise it.
    expect(oneRunCeiling({ canaries: 1000, guesses: 100, delta: 1e-5, beta: 0.05 })).toBeLessThan(expected);
    expect(oneRunCeiling({ canaries: 10000, guesses: 1000, delta: 1e-5, beta: 0.05 })).toBeGreaterThan(expected);
  });

  it("the bound is monotone in correct guesses and 0 at chance", () => {
    const b = (v: number): number => oneRunEpsilonLowerBound({ canaries: 1000, guesses: 200, correct: v, delta: 1e-5 });
    expect(b(100)).toBe(0);
    expect(b(150)).toBeGreaterThan(0);
    expect(b(180)).toBeGreaterThan(b(150));
  });

  it("from scores: a perfect attack reaches the ceiling of its guesses; scores independent of the coins give ~0", () => {
    const rng = new SeededRng(8);
    const m = 1000;
    const coins = Array.from({ length: m }, () => rng.nextUint32() % 2 === 1);
    const perfect = oneRunAudit({ scores: coins.map((c) => (c ? 1 : 0) + 0), included: coins, delta: 1e-5 });
    expect(perfect.epsilonLowerBound).toBeGreaterThan(2);
    expect(perfect.epsilonLowerBound).toBeLessThanOrEqual(perfect.ceiling + 1e-9);
    const noise = fillGaussian(new Float64Array(m), 1, rng);
    const blind = oneRunAudit({ scores: noise, included: coins, delta: 1e-5 });
    expect(blind.epsilonLowerBound).toBeLessThan(0.3);
    expect(blind.tried.length).toBe(4);
  });
});
