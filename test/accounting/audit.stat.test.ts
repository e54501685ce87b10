// Empirical audit of the accountants (docs/testing.md section 3): a Poisson-subsampled Gaussian
// mechanism is simulated exactly, an empirical lower bound on its epsilon is computed from
// pre-registered threshold events, and it must not exceed what the accountants claim. Negative
// control: the same audit on a pipeline that includes the example at EVERY step (the wrong
// sampling assumption: accounted as Poisson with q = 0.1, run with q = 1) must exceed the claim.
import { describe, expect, it } from "vitest";
import {
  PldAccountant,
  RdpAccountant,
  SeededRng,
  fillGaussian,
  gaussianEvent,
  poissonSampledEvent,
  uniform01,
  type Rng,
} from "../../src/index.js";
import { auditSamplers, thresholdEvents } from "../helpers/audit.js";

const Q = 0.1;
const SIGMA = 2;
const T = 10;
const DELTA = 1e-5;
const N = 50_000;

/** n outputs of T steps of the one-record sum query (the record adds 1 when sampled), summed over steps. */
function simulate(present: boolean, inclusionProbability: number, rng: Rng | undefined): () => number {
  const noise = new Float64Array(N * T);
  fillGaussian(noise, SIGMA, rng);
  const out = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    let s = 0;
    for (let t = 0; t < T; t++) {
      s += noise[i * T + t];
      if (present && (inclusionProbability === 1 || uniform01(rng) < inclusionProbability)) s += 1;
    }
    out[i] = s;
  }
  let k = 0;
  return () => out[k++];
}

const events = thresholdEvents(Array.from({ length: 16 }, (_, j) => ((j + 1) * T) / 8));
const claimedPld = new PldAccountant({ valueDiscretizationInterval: 1e-3 })
  .compose(poissonSampledEvent(Q, gaussianEvent(SIGMA)), T)
  .getEpsilon(DELTA);
const claimedRdp = new RdpAccountant().compose(poissonSampledEvent(Q, gaussianEvent(SIGMA)), T).getEpsilon(DELTA);

describe("accountants are upper bounds on measured leakage", () => {
  it("Poisson sampling (seeded): empirical lower bound <= PLD epsilon <= RDP epsilon", () => {
    const rng = new SeededRng(20261128);
    const r = auditSamplers({ sample0: simulate(true, Q, rng), sample1: simulate(false, Q, rng), events, n: N, delta: DELTA });
    expect(claimedPld).toBeLessThanOrEqual(claimedRdp);
    expect(r.epsilonLowerBound).toBeLessThanOrEqual(claimedPld);
  });

  it("Poisson sampling (secure source): empirical lower bound <= PLD epsilon", () => {
    const r = auditSamplers({ sample0: simulate(true, Q, undefined), sample1: simulate(false, Q, undefined), events, n: N, delta: DELTA });
    expect(r.epsilonLowerBound).toBeLessThanOrEqual(claimedPld);
  });

  it("negative control: the record in every batch, accounted as Poisson q = 0.1, is caught", () => {
    const rng = new SeededRng(99);
    const r = auditSamplers({ sample0: simulate(true, 1, rng), sample1: simulate(false, 1, rng), events, n: N, delta: DELTA });
    expect(r.epsilonLowerBound).toBeGreaterThan(claimedRdp);
    // ...while the correct accounting for q = 1 covers it
    const correct = new PldAccountant({ valueDiscretizationInterval: 1e-3 }).compose(gaussianEvent(SIGMA), T).getEpsilon(DELTA);
    expect(r.epsilonLowerBound).toBeLessThanOrEqual(correct);
  });
});
