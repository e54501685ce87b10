/**
 * The RAPPOR decoder on simulated populations: every candidate above the detection floor is
 * found, decoys (candidates nobody reported) are detected no more often than the stated
 * family-wise rate, and estimates lie within their standard errors of the truth. Negative
 * control: decoding with the wrong f is caught by the same checks.
 */
import { describe, expect, it } from "vitest";
import { SeededRng } from "../../../src/index.js";
import {
  DEFAULT_RAPPOR_PARAMS,
  decodeRappor,
  estimateRapporBloomCounts,
  hashRapporCandidates,
  rapporSimulationCounts,
  simulateRapporCounts,
  simulateRapporReports,
  sumRapporBits,
  type RapporDecodeResult,
  type RapporParams,
} from "../../../src/ldp/index.js";

const P: RapporParams = { ...DEFAULT_RAPPOR_PARAMS }; // k=16, h=2, m=64, p=0.5, q=0.75, f=0.5

interface Check {
  missed: string[];
  falsePositives: number;
  worstZ: number;
}

/**
 * "Above the detection floor" = at least 4 standard errors above the significance threshold,
 * i.e. a share > detectionFrequency * (1 + 4 / zCritical): missed with probability < 1e-4.
 */
function check(res: RapporDecodeResult, names: string[], truth: number[]): Check {
  const N = truth.reduce((a, b) => a + b, 0);
  const index = new Map(names.map((s, j) => [s, j]));
  const found = new Set(res.detected.map((d) => d.candidate));
  const floor = res.detectionFrequency * (1 + 4 / res.zCritical);
  const missed = names.filter((s, j) => truth[j] / N > floor && !found.has(s));
  let falsePositives = 0;
  let worstZ = 0;
  for (const d of res.detected) {
    const t = truth[index.get(d.candidate)!] / N;
    if (t === 0) falsePositives++;
    worstZ = Math.max(worstZ, Math.abs(d.proportion - t) / d.proportionStandardError);
  }
  return { missed, falsePositives, worstZ };
}

describe("RAPPOR decoder", () => {
  const S = 100;
  const decoys = 100;
  const names = Array.from({ length: S + decoys }, (_, j) => (j < S ? `value-${j}` : `decoy-${j - S}`));
  const truth = [
    ...rapporSimulationCounts({ numCandidates: S, numReports: 1_000_000, distribution: "exponential" }),
    ...new Array(decoys).fill(0),
  ];
  const map = hashRapporCandidates(names, P);

  it("1,000,000 reports, 100 candidates (exponential) + 100 decoys: finds all above the floor, estimates within 4 SE", () => {
    const counts = simulateRapporCounts({ params: P, map, trueCounts: truth, rng: new SeededRng(101) });
    const res = decodeRappor({ params: P, counts, map });
    const c = check(res, names, truth);
    expect(res.numReports).toBe(1_000_000);
    expect(res.detected.length).toBeGreaterThan(15);
    expect(c.missed).toEqual([]);
    expect(c.falsePositives).toBe(0);
    expect(c.worstZ).toBeLessThan(4);
    // The unexplained share is about the true mass of the undetected candidates.
    const found = new Set(res.detected.map((d) => d.candidate));
    const undetectedMass = names.reduce((s, n, j) => s + (found.has(n) ? 0 : truth[j]), 0) / 1_000_000;
    expect(Math.abs(res.unexplainedProportion - undetectedMass)).toBeLessThan(0.05);
    expect(res.privacy.permanentEpsilon).toBeCloseTo(4 * Math.log(3), 12);

    // Negative control: decoding with the wrong f (0.25) is flagged by the same checks.
    const wrong = decodeRappor({ params: { ...P, probPrr: 0.25 }, counts, map });
    const w = check(wrong, names, truth);
    expect(w.worstZ > 4 || w.missed.length > 0 || w.falsePositives > 0).toBe(true);
  });

  it("false positives stay within the stated family-wise rate (20 populations of 100,000 reports)", () => {
    const rng = new SeededRng(102);
    const small = [
      ...rapporSimulationCounts({ numCandidates: S, numReports: 100_000, distribution: "zipf" }),
      ...new Array(decoys).fill(0),
    ];
    let runsWithFalsePositive = 0;
    let uncorrectedRunsWithFalsePositive = 0;
    let worst = 0;
    const bh = { fp: 0, detected: 0 };
    for (let r = 0; r < 20; r++) {
      const counts = simulateRapporCounts({ params: P, map, trueCounts: small, rng });
      const res = decodeRappor({ params: P, counts, map, alpha: 0.05 });
      const c = check(res, names, small);
      if (c.falsePositives > 0) runsWithFalsePositive++;
      worst = Math.max(worst, c.worstZ);
      expect(c.missed).toEqual([]);
      const resBh = decodeRappor({ params: P, counts, map, alpha: 0.05, correction: "benjamini-hochberg" });
      bh.fp += check(resBh, names, small).falsePositives;
      bh.detected += resBh.detected.length;
      // Negative control: no multiple-testing correction.
      if (check(decodeRappor({ params: P, counts, map, alpha: 0.05, correction: "none" }), names, small).falsePositives > 0) {
        uncorrectedRunsWithFalsePositive++;
      }
    }
    expect(uncorrectedRunsWithFalsePositive).toBeGreaterThan(4);
    // Bonferroni at 0.05: P(5 or more of 20 runs with a false positive) < 0.003.
    expect(runsWithFalsePositive).toBeLessThanOrEqual(4);
    expect(worst).toBeLessThan(5);
    // Benjamini–Hochberg at 0.05: the share of false discoveries stays near 5%.
    expect(bh.fp / Math.max(1, bh.detected)).toBeLessThan(0.1);
  });

  it("end to end with the real encoder: 40,000 clients, encoded, summed and decoded", () => {
    const params: RapporParams = { ...P, numCohorts: 16 };
    const cands = ["apple", "banana", "cherry", "durian", "elderberry", "fig", "grape", "honeydew"];
    const counts = [16000, 10000, 7000, 4000, 2000, 1000, 0, 0];
    const values = cands.flatMap((c, j) => new Array(counts[j]).fill(c));
    const rows = simulateRapporReports({ params, values, rng: new SeededRng(103) });
    const summed = sumRapporBits(rows, params);
    const emap = hashRapporCandidates(cands, params);
    const res = decodeRappor({ params, counts: summed, map: emap });
    const c = check(res, cands, counts);
    expect(c.missed).toEqual([]);
    expect(c.falsePositives).toBe(0);
    expect(c.worstZ).toBeLessThan(4);
    expect(res.detected[0].candidate).toBe("apple");
    // The Bloom-count estimates are unbiased: the true share of "apple"'s bits is at least its own share.
    const est = estimateRapporBloomCounts(params, summed);
    expect(est.estimates.length).toBe(16 * 16);
  });

  it("rejects mismatched inputs and uninformative parameters", () => {
    const counts = simulateRapporCounts({ params: P, map, trueCounts: truth.map(() => 10), rng: new SeededRng(104) });
    expect(() => decodeRappor({ params: { ...P, numCohorts: 32 }, counts, map })).toThrow(/`counts`/);
    expect(() => decodeRappor({ params: P, counts, map: hashRapporCandidates(["a"], { ...P, numHashes: 3 }) })).toThrow(/`map`/);
    expect(() => decodeRappor({ params: { ...P, probPrr: 1 }, counts, map })).toThrow(/Information is lost/);
    expect(() => decodeRappor({ params: P, counts, map, alpha: 0 })).toThrow(/`alpha`/);
  });
});
