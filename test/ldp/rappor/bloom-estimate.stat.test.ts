/**
 * The first decoding step on real encoder output: per-bit estimates of the true Bloom-bit share
 * are unbiased and their standard errors match the spread over repetitions. This pins that the
 * encoder applies f, p and q as the decoder inverts them (IRR: 1 with probability q when the
 * PRR bit is 1, p when it is 0). Negative control: inverting with the wrong f is flagged.
 */
import { describe, expect, it } from "vitest";
import { SeededRng } from "../../../src/index.js";
import {
  createRapporEncoder,
  estimateRapporBloomCounts,
  rapporBloomFilter,
  sumRapporBits,
  type RapporParams,
} from "../../../src/ldp/index.js";

const params: RapporParams = { numBits: 8, numHashes: 2, numCohorts: 1, probPrr: 0.5, probIrr0: 0.25, probIrr1: 0.75 };
const R = 150;
const n = 400;
const values = ["a", "b"];
const shares = [0.6, 0.4];

describe("Bloom-bit estimates from encoded reports", () => {
  const rng = new SeededRng(77);
  const runs: { counts: ReturnType<typeof sumRapporBits> }[] = [];
  for (let r = 0; r < R; r++) {
    const reports = [];
    for (let i = 0; i < n; i++) {
      const client = createRapporEncoder({ params, rng, allowInsecureRng: true, cohort: 0 });
      reports.push(client.encode(i < shares[0] * n ? values[0] : values[1]));
    }
    runs.push({ counts: sumRapporBits(reports, params) });
  }
  const blooms = values.map((v) => rapporBloomFilter(v, 0, 2, 8));
  const truth = Array.from({ length: 8 }, (_, i) => shares.reduce((s, w, j) => s + ((blooms[j] >>> i) & 1 ? w : 0), 0));

  function summarise(p: RapporParams): { bias: number[]; ratio: number[] } {
    const sum = new Float64Array(8);
    const sq = new Float64Array(8);
    const se2 = new Float64Array(8);
    for (const { counts } of runs) {
      const e = estimateRapporBloomCounts(p, counts);
      for (let i = 0; i < 8; i++) {
        sum[i] += e.estimates[i];
        sq[i] += e.estimates[i] ** 2;
        se2[i] += e.standardErrors[i] ** 2;
      }
    }
    const bias: number[] = [];
    const ratio: number[] = [];
    for (let i = 0; i < 8; i++) {
      const mean = sum[i] / R;
      const variance = (sq[i] - R * mean * mean) / (R - 1);
      const meanSe2 = se2[i] / R;
      bias.push((mean - truth[i]) / Math.sqrt(meanSe2 / R)); // in standard errors of the mean
      ratio.push(variance / meanSe2);
    }
    return { bias, ratio };
  }

  it("are unbiased with the stated standard errors", () => {
    const { bias, ratio } = summarise(params);
    for (let i = 0; i < 8; i++) {
      expect(Math.abs(bias[i])).toBeLessThan(5);
      expect(Math.abs(ratio[i] - 1)).toBeLessThan(5 * Math.sqrt(2 / (R - 1)));
    }
  });

  it("negative control: inverting with f = 0.25 is flagged as biased", () => {
    const { bias } = summarise({ ...params, probPrr: 0.25 });
    expect(Math.max(...bias.map(Math.abs))).toBeGreaterThan(5);
  });
});
