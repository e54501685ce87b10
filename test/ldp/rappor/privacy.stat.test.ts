/**
 * Empirical epsilon of the RAPPOR PRR and of one full report (docs/testing.md section 3): two values
 * whose Bloom bits differ in 2h positions, secrets drawn fresh for every output (the PRR is a
 * deterministic function of the secret), n = 200,000 outputs per value, events = single values
 * of the 2h differing bits read as a 4-bit number. Power check: the same audit on a PRR with
 * half the noise (f/2) must exceed the claimed epsilon.
 */
import { describe, expect, it } from "vitest";
import { SeededRng, bernoulli, type Rng } from "../../../src/index.js";
import {
  DEFAULT_RAPPOR_PARAMS,
  rapporBloomBits,
  rapporBloomFilter,
  rapporPermanentEpsilon,
  rapporPermanentResponse,
  rapporReportEpsilon,
} from "../../../src/ldp/index.js";
import { auditSamplers, valueEvents } from "../../helpers/audit.js";

const P = { ...DEFAULT_RAPPOR_PARAMS };
const N = 200_000;
// In cohort 0 (k = 16, h = 2): "alpha" sets bits {2, 12}, "zeta" sets {7, 9}.
const B0 = rapporBloomFilter("alpha", 0, 2, 16);
const B1 = rapporBloomFilter("zeta", 0, 2, 16);
const DIFF = [2, 12, 7, 9];
const read = (bits: number): number => DIFF.reduce((acc, b, i) => acc | (((bits >>> b) & 1) << i), 0);
const events = valueEvents(Array.from({ length: 16 }, (_, i) => i));

/** n PRRs of `bloom` (all 16 bits), each with a fresh random secret. */
function drawPrrs(bloom: number, f: number, rng: Rng, n: number): Uint32Array {
  const secret = new Uint8Array(32);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    rng.fillBytes(secret);
    out[i] = rapporPermanentResponse(secret, bloom, f, 16);
  }
  return out;
}

function fromArray(values: Uint32Array, map: (x: number) => number): () => number {
  let i = 0;
  return () => map(values[i++]);
}

describe("RAPPOR empirical epsilon", () => {
  const rng = new SeededRng(41);
  const prr0 = drawPrrs(B0, P.probPrr, rng, N);
  const prr1 = drawPrrs(B1, P.probPrr, rng, N);

  it("the two values' Bloom filters differ in 2h = 4 bits", () => {
    expect(rapporBloomBits("alpha", 0, 2, 16).sort((a, b) => a - b)).toEqual([2, 12]);
    expect(rapporBloomBits("zeta", 0, 2, 16).sort((a, b) => a - b)).toEqual([7, 9]);
    expect(B0 & B1).toBe(0);
  });

  it("PRR stays within 2h ln((1-f/2)/(f/2)); a PRR with f/2 is caught", () => {
    const claimed = rapporPermanentEpsilon(P);
    const audit = auditSamplers({ sample0: fromArray(prr0, read), sample1: fromArray(prr1, read), events, n: N, delta: 0 });
    expect(audit.epsilonLowerBound).toBeLessThanOrEqual(claimed);
    expect(audit.epsilonLowerBound).toBeGreaterThan(0.8 * claimed);
    const half0 = drawPrrs(B0, P.probPrr / 2, rng, N);
    const half1 = drawPrrs(B1, P.probPrr / 2, rng, N);
    const power = auditSamplers({ sample0: fromArray(half0, read), sample1: fromArray(half1, read), events, n: N, delta: 0 });
    expect(power.epsilonLowerBound).toBeGreaterThan(claimed);
  });

  it("one report (PRR with a fresh secret, then IRR on the secure source) stays within epsilon_1; an IRR with less noise is caught", () => {
    const claimed = rapporReportEpsilon(P);
    const irr =
      (p: number, q: number) =>
      (prr: number): number => {
        let out = 0;
        for (const b of DIFF) if (bernoulli((prr >>> b) & 1 ? q : p)) out |= 1 << b;
        return read(out);
      };
    const audit = auditSamplers({
      sample0: fromArray(prr0, irr(0.5, 0.75)),
      sample1: fromArray(prr1, irr(0.5, 0.75)),
      events,
      n: N,
      delta: 0,
    });
    expect(audit.epsilonLowerBound).toBeLessThanOrEqual(claimed);
    // Power: an IRR with p = 0.25 (less noise than claimed) must be caught against the same claim.
    const power = auditSamplers({
      sample0: fromArray(prr0, irr(0.25, 0.75)),
      sample1: fromArray(prr1, irr(0.25, 0.75)),
      events,
      n: N,
      delta: 0,
    });
    expect(power.epsilonLowerBound).toBeGreaterThan(claimed);
  });
});
