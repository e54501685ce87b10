import { describe, expect, it } from "vitest";
import {
  DpError,
  PldAccountant,
  RdpAccountant,
  composedEvent,
  epsilonDeltaEvent,
  gaussianEpsilonForDelta,
  gaussianEvent,
  laplaceEvent,
  nonPrivateEvent,
  noOpEvent,
  poissonSampledEvent,
  randomizedResponseEvent,
  sampledWithoutReplacementEvent,
  selfComposedEvent,
  type DpEvent,
} from "../../src/index.js";
import { PrivacyLossPmf } from "../../src/accounting/pld/pmf.js";
import { sections } from "./reference.js";

const dpsgd = (q: number, sigma: number): DpEvent => poissonSampledEvent(q, gaussianEvent(sigma));

describe("PLD accountant: DP-SGD against dp_accounting", () => {
  // The grid points with few steps are fast; the 14,063-step ones take ~0.3 s each.
  const grid = (sections.b_pld_dpsgd_grid as any[]).filter((e) => e.inputs.steps <= 1000 || e.inputs.noise_multiplier === 1.1);
  it.each(grid.map((e) => [e.id, e]))("%s: never below the finer-grid value, equal to dp_accounting at the same grid", (_id, e: any) => {
    const { noise_multiplier: s, sampling_rate_q: q, steps, delta, value_discretization_interval: d } = e.inputs;
    const eps = new PldAccountant({ valueDiscretizationInterval: d }).compose(dpsgd(q, s), steps).getEpsilon(delta);
    const fine = e.output["epsilon_vdi_1e-5"] as number; // itself >= the exact value
    expect(eps).toBeGreaterThanOrEqual(fine);
    // Stated tolerance: within steps × interval of the exact value (observed: far tighter).
    expect(eps - fine).toBeLessThan(steps * d);
    expect(Math.abs(eps - e.output.epsilon) / e.output.epsilon).toBeLessThan(1e-6);
    // and much tighter than RDP
    expect(eps).toBeLessThan(e.output.rdp_epsilon_same_point);
  });

  it("MNIST setting at 1e-3: 2.3906 as dp_accounting", () => {
    const ref = (sections.b_pld_mnist_discretization as any[]).find((e) => e.id === "pld_mnist_vdi0.001");
    const eps = new PldAccountant({ valueDiscretizationInterval: 1e-3 }).compose(dpsgd(256 / 60000, 1.1), 14063).getEpsilon(1e-5);
    expect(Math.abs(eps - ref.output.epsilon_pessimistic)).toBeLessThan(1e-6);
  });
});

describe("PLD closed forms", () => {
  it("k-fold Gaussian is one Gaussian with sigma/sqrt(k) (analytic Gaussian), never below it", () => {
    // (sigma 0.5 with k = 100 spans ±2,000 in loss after composition: slow, left to the bench.)
    for (const c of (sections.c_gaussian_composition as any[]).filter(
      (x) => x.inputs.k_compositions * x.inputs.noise_multiplier ** -2 <= 25,
    )) {
      const { noise_multiplier: s, k_compositions: k, delta } = c.inputs;
      const exact = c.results.find((r: any) => r.accountant.startsWith("analytic Gaussian")).output.epsilon as number;
      const lib = c.results.find((r: any) => r.accountant.startsWith("dp_accounting.pld")).output.epsilon as number;
      const eps = new PldAccountant().compose(gaussianEvent(s), k).getEpsilon(delta);
      expect(eps, c.id).toBeGreaterThanOrEqual(exact);
      expect(eps - exact, c.id).toBeLessThan(k * 1e-4);
      expect(Math.abs(eps - lib) / lib, c.id).toBeLessThan(1e-6);
      // our own analytic Gaussian agrees with the reference's
      expect(Math.abs(gaussianEpsilonForDelta(s / Math.sqrt(k), delta) - exact) / exact).toBeLessThan(1e-9);
    }
  });

  it("Laplace: one mechanism gives 1/b + 2 ln(1 - delta) (exact), k-fold stays below basic composition k/b", () => {
    for (const b of [0.5, 1, 2]) {
      const exact = 1 / b + 2 * Math.log1p(-1e-6);
      const one = new PldAccountant().compose(laplaceEvent(b)).getEpsilon(1e-6);
      expect(one).toBeGreaterThanOrEqual(exact);
      expect(one - exact).toBeLessThan(2e-4);
      const ten = new PldAccountant().compose(laplaceEvent(b), 10).getEpsilon(1e-6);
      expect(ten).toBeLessThanOrEqual(10 / b + 1e-9);
      expect(ten).toBeGreaterThan(one);
    }
  });

  it("randomized response (replace-one): epsilon of RR with parameter eps is eps (rounded up by < d)", () => {
    for (const c of sections.e_randomized_response as any[]) {
      const acc = new PldAccountant({ neighboringRelation: "replaceOne" }).compose(
        randomizedResponseEvent(c.output.dp_accounting_noise_parameter, c.inputs.k),
      );
      const eps = acc.getEpsilon(1e-12);
      expect(eps, c.id).toBeGreaterThanOrEqual(c.inputs.epsilon - 1e-9);
      expect(eps - c.inputs.epsilon, c.id).toBeLessThan(1e-4 + 1e-9);
    }
  });

  it("RAPPOR: self-composed RR counts every repetition (dp_accounting 0.6.0 ignores the count)", () => {
    for (const c of sections.e_rappor as any[]) {
      const acc = new PldAccountant({ neighboringRelation: "replaceOne" });
      acc.compose(selfComposedEvent(randomizedResponseEvent(c.inputs.f, 2), 2 * c.inputs.h));
      const eps = acc.getEpsilon(1e-12);
      expect(eps, c.id).toBeGreaterThanOrEqual(c.output.epsilon_inf - 1e-9);
      expect(eps - c.output.epsilon_inf, c.id).toBeLessThan(2 * c.inputs.h * 1e-4 + 1e-9);
      // Negative control: the library bug's value is caught.
      if (c.inputs.h > 1) expect(c.library_bug_observed.epsilon).toBeLessThan(c.output.epsilon_inf - 1e-3);
    }
  });
});

describe("PLD properties", () => {
  it("monotone in steps, sampling rate and noise; epsilon > 0", () => {
    const eps = (q: number, s: number, t: number): number =>
      new PldAccountant({ valueDiscretizationInterval: 1e-3 }).compose(dpsgd(q, s), t).getEpsilon(1e-5);
    let prev = 0;
    for (const t of [1, 10, 100, 1000]) {
      const e = eps(0.01, 1, t);
      expect(e).toBeGreaterThan(prev);
      prev = e;
    }
    prev = 0;
    for (const q of [0.001, 0.01, 0.1, 1]) {
      const e = eps(q, 1, 50);
      expect(e).toBeGreaterThan(prev);
      prev = e;
    }
    prev = Infinity;
    for (const s of [0.6, 1, 2, 4]) {
      const e = eps(0.01, s, 50);
      expect(e).toBeLessThan(prev);
      expect(e).toBeGreaterThan(0);
      prev = e;
    }
  });

  it("is never above RDP by more than the grid (both are upper bounds; PLD is the tighter)", () => {
    for (const [q, s, t] of [
      [0.01, 1, 100],
      [0.05, 0.8, 30],
      [1, 2, 5],
    ] as const) {
      const p = new PldAccountant().compose(dpsgd(q, s), t).getEpsilon(1e-5);
      const r = new RdpAccountant().compose(dpsgd(q, s), t).getEpsilon(1e-5);
      expect(p).toBeLessThan(r);
    }
  });

  it("getDelta and getEpsilon are inverse", () => {
    const acc = new PldAccountant().compose(dpsgd(0.01, 1.1), 500);
    const eps = acc.getEpsilon(1e-6);
    expect(acc.getDelta(eps)).toBeLessThanOrEqual(1e-6 * (1 + 1e-6));
    expect(acc.getDelta(eps - 0.01)).toBeGreaterThan(1e-6);
  });

  it("composition forms agree: count, selfComposed, composed, chained compose", () => {
    const e = dpsgd(0.02, 1.2);
    const opts = { valueDiscretizationInterval: 1e-3 };
    const a = new PldAccountant(opts).compose(e, 8).getEpsilon(1e-5);
    const b = new PldAccountant(opts).compose(selfComposedEvent(selfComposedEvent(e, 2), 4)).getEpsilon(1e-5);
    const c = new PldAccountant(opts).compose(composedEvent([e, e, e, e, noOpEvent(), e, e, e, e])).getEpsilon(1e-5);
    const d = new PldAccountant(opts);
    for (let i = 0; i < 8; i++) d.compose(e);
    // events are grouped before composing, so every form gives the same distribution
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(d.getEpsilon(1e-5)).toBe(a);
    expect(d.ledger).toEqual([selfComposedEvent(e, 8)]); // the ledger merges repeats
  });

  it("nonPrivate is infinite; noOp and q = 0 spend nothing; epsilonDelta carries its delta", () => {
    expect(new PldAccountant().compose(nonPrivateEvent()).getEpsilon(0.5)).toBe(Infinity);
    expect(new PldAccountant().compose(noOpEvent()).getEpsilon(1e-5)).toBe(0);
    expect(new PldAccountant().compose(dpsgd(0, 1), 10).getEpsilon(1e-5)).toBe(0);
    const acc = new PldAccountant().compose(epsilonDeltaEvent(1, 1e-6), 3);
    expect(acc.getEpsilon(2e-6)).toBe(Infinity);
    const e = acc.getEpsilon(1e-5);
    expect(e).toBeLessThanOrEqual(3 + 3e-4);
    expect(e).toBeGreaterThan(1);
  });

  it("refuses what it cannot bound and names the argument", () => {
    const ar = new PldAccountant();
    expect(() => ar.compose(randomizedResponseEvent(0.5, 2))).toThrowError(expect.objectContaining({ code: "unsupported_event" }));
    expect(() => ar.compose(sampledWithoutReplacementEvent(100, 10, gaussianEvent(1)))).toThrowError(DpError);
    expect(() => ar.compose(poissonSampledEvent(0.1, laplaceEvent(1)))).toThrowError(DpError);
    expect(() => new PldAccountant({ neighboringRelation: "replaceOne" }).compose(dpsgd(0.1, 1))).toThrowError(DpError);
    expect(ar.supports(dpsgd(0.1, 1))).toBe(true);
    expect(ar.supports(randomizedResponseEvent(0.5, 2))).toBe(false);
    expect(() => ar.getEpsilon(0)).toThrowError(expect.objectContaining({ argument: "targetDelta" }));
    expect(() => ar.getDelta(-1)).toThrowError(expect.objectContaining({ argument: "targetEpsilon" }));
    expect(() => new PldAccountant({ valueDiscretizationInterval: 0 })).toThrowError(
      expect.objectContaining({ argument: "valueDiscretizationInterval" }),
    );
  });
});

describe("the pessimism check has teeth (negative control)", () => {
  it("an optimistic (rounded-down) Gaussian PLD is flagged by the never-below check", () => {
    // Shift the pessimistic single-step PMF one grid step down: rounding down instead of up.
    const acc = new PldAccountant();
    acc.compose(gaussianEvent(2), 1);
    const good = acc.getEpsilon(1e-5);
    const exact = gaussianEpsilonForDelta(2, 1e-5);
    expect(good).toBeGreaterThanOrEqual(exact);
    const pmf = (acc as any).pld.remove as PrivacyLossPmf;
    const shifted = new PrivacyLossPmf(pmf.discretization, pmf.lowerIndex - 1, pmf.probs, pmf.infinityMass);
    expect(shifted.epsilonForDelta(1e-5)).toBeLessThan(exact);
  });
});
