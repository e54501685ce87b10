/**
 * The white-box step audits of dpkit/audit on dpkit's real DP-SGD step and DP-FedAvg round, at
 * claimed ε = 2, δ = 1e-5. The real code must stay below the claim and the audit must be tight
 * (bound >= 1.0, half the claim); every built-in broken variant must be caught (bound above the
 * claim). Seeded, so the outcomes are deterministic.
 */
import { describe, expect, it } from "vitest";
import { auditDpFedAvgRound, auditDpSgdStep, type StepBreak } from "../../src/audit/index.js";
import { SeededRng } from "../../src/random/index.js";

const EPS = 2;

describe("DP-SGD step audit (dpkit/audit)", () => {
  it("the real step: bound >= 1.0 (tight: half the claim) and <= the claimed ε, with 1e6 trials per side", () => {
    // At 3e5 trials the bound scatters over 0.96–1.17 across seeds; at 1e6 it is about 1.2.
    const r = auditDpSgdStep({ epsilon: EPS, trials: 1_000_000, rng: new SeededRng(20261206) });
    expect(r.claimedEpsilon).toBeLessThanOrEqual(EPS);
    expect(r.claimedEpsilon).toBeGreaterThan(1.99);
    expect(r.epsilonLowerBound).toBeGreaterThanOrEqual(1.0);
    expect(r.epsilonLowerBound).toBeLessThanOrEqual(r.claimedEpsilon);
    expect(r.violation).toBe(false);
    expect(r.confidence).toBe(0.95);
  });

  it("the real step on the secure source stays below the claim", () => {
    const r = auditDpSgdStep({ epsilon: EPS, trials: 50_000 });
    expect(r.epsilonLowerBound).toBeLessThanOrEqual(r.claimedEpsilon);
  });

  const caught: [StepBreak, number][] = [
    ["clipping", 20_000],
    ["noise", 50_000],
    ["sampling", 200_000],
    ["division", 20_000],
  ];
  for (const [brk, trials] of caught) {
    it(`negative control: break "${brk}" is caught (bound above the claim)`, () => {
      const r = auditDpSgdStep({ epsilon: EPS, trials, break: brk, rng: new SeededRng(7) });
      expect(r.break).toBe(brk);
      expect(r.epsilonLowerBound).toBeGreaterThan(r.claimedEpsilon);
      expect(r.violation).toBe(true);
    });
  }

  it("refuses an unknown break with a DpError naming it", () => {
    expect(() => auditDpSgdStep({ epsilon: 2, trials: 100, break: "typo" as StepBreak })).toThrow(/break/);
  });
});

describe("DP-FedAvg round audit (dpkit/audit)", () => {
  it("server noise, Poisson selection: bound >= 0.7 and <= the claim", () => {
    const r = auditDpFedAvgRound({ epsilon: EPS, trials: 100_000, rng: new SeededRng(31) });
    expect(r.epsilonLowerBound).toBeGreaterThanOrEqual(0.7);
    expect(r.epsilonLowerBound).toBeLessThanOrEqual(r.claimedEpsilon);
  });

  for (const brk of ["clipping", "noise", "sampling", "division"] as const) {
    it(`server noise, negative control "${brk}" is caught`, () => {
      const r = auditDpFedAvgRound({ epsilon: EPS, trials: brk === "sampling" ? 100_000 : 40_000, break: brk, rng: new SeededRng(32) });
      expect(r.epsilonLowerBound).toBeGreaterThan(r.claimedEpsilon);
    });
  }

  it("distributed client noise (every client, replace-one): bound >= 0.9 and <= the claim", () => {
    const r = auditDpFedAvgRound({ epsilon: EPS, noisePlacement: "client-distributed", clients: 4, trials: 30_000, rng: new SeededRng(5) });
    expect(r.claimedEpsilon).toBeGreaterThan(1.99);
    expect(r.epsilonLowerBound).toBeGreaterThanOrEqual(0.9);
    expect(r.epsilonLowerBound).toBeLessThanOrEqual(r.claimedEpsilon);
  });

  for (const brk of ["clipping", "noise", "division"] as const) {
    it(`distributed client noise, negative control "${brk}" is caught`, () => {
      const r = auditDpFedAvgRound({
        epsilon: EPS,
        noisePlacement: "client-distributed",
        clients: 4,
        trials: 30_000,
        break: brk,
        rng: new SeededRng(5),
      });
      expect(r.epsilonLowerBound).toBeGreaterThan(r.claimedEpsilon);
    });
  }
});
