import { describe, expect, it } from "vitest";
import {
  DEFAULT_RDP_ORDERS,
  DpError,
  RdpAccountant,
  composedEvent,
  epsilonDeltaEvent,
  gaussianEvent,
  laplaceEvent,
  nonPrivateEvent,
  noOpEvent,
  poissonSampledEvent,
  randomizedResponseEvent,
  rdpToEpsilon,
  rdpToEpsilonClassic,
  sampledWithoutReplacementEvent,
  selfComposedEvent,
  type DpEvent,
} from "../../src/index.js";
import { poissonSubsampledGaussianRdpValue } from "../../src/accounting/rdp/subsampled-gaussian.js";
import { logAddExp } from "../../src/math/log-space.js";
import { logErfc } from "../../src/math/normal.js";
import { num, sections } from "./reference.js";

const dpsgd = (q: number, sigma: number): DpEvent => poissonSampledEvent(q, gaussianEvent(sigma));

describe("RDP reference orders", () => {
  it("equal dp_accounting's DEFAULT_RDP_ORDERS", () => {
    expect(DEFAULT_RDP_ORDERS).toEqual(sections.a_rdp_per_step_curves.orders);
  });
});

describe("Poisson-subsampled Gaussian RDP against the 40-digit ground truth", () => {
  const cases = sections.a_rdp_ground_truth_mpmath as any[];
  it(`matches all ${cases.length} values within 1e-6 relative and is never below them`, () => {
    for (const c of cases) {
      const { noise_multiplier: s, sampling_rate_q: q, order } = c.inputs;
      const truth = c.ground_truth_rdp as number;
      const v = poissonSubsampledGaussianRdpValue(q, s, order);
      expect(v, c.id).toBeGreaterThanOrEqual(truth);
      expect((v - truth) / truth, c.id).toBeLessThan(1e-6);
    }
  });

  // Negative control: dp_accounting 0.6.0's sign-dropped fractional series (a valid but loose
  // bound) must be told apart by the same check.
  it("negative control: the sign-dropped series fails the same check", () => {
    const signDropped = (q: number, sigma: number, alpha: number): number => {
      let a0 = -Infinity;
      let a1 = -Infinity;
      const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
      let logCoef = 0;
      for (let i = 0; i < 1000; i++) {
        if (i > 0) logCoef += Math.log(Math.abs(alpha - i + 1)) - Math.log(i);
        const j = alpha - i;
        const s0 =
          logCoef +
          i * Math.log(q) +
          j * Math.log1p(-q) +
          (i * i - i) / (2 * sigma * sigma) +
          logErfc((i - z0) / (Math.SQRT2 * sigma)) -
          Math.LN2;
        const s1 =
          logCoef +
          j * Math.log(q) +
          i * Math.log1p(-q) +
          (j * j - j) / (2 * sigma * sigma) +
          logErfc((z0 - j) / (Math.SQRT2 * sigma)) -
          Math.LN2;
        a0 = logAddExp(a0, s0);
        a1 = logAddExp(a1, s1);
        if (Math.max(s0, s1) < logAddExp(a0, a1) - 30 && i > alpha + 2) break;
      }
      return logAddExp(a0, a1) / (alpha - 1);
    };
    let flagged = 0;
    for (const c of cases) {
      const { noise_multiplier: s, sampling_rate_q: q, order } = c.inputs;
      if (Number.isInteger(order)) continue;
      const v = signDropped(q, s, order);
      if (!((v - c.ground_truth_rdp) / c.ground_truth_rdp < 1e-6)) flagged++;
    }
    expect(flagged).toBeGreaterThan(10);
  });
});

describe("RdpAccountant on the DP-SGD grid", () => {
  const grid = sections.a_rdp_dpsgd_grid as any[];
  it(`gives the tight epsilon (Opacus' signed series) for all ${grid.length} grid points, never below`, () => {
    for (const e of grid) {
      const { noise_multiplier: s, sampling_rate_q: q, steps, delta } = e.inputs;
      const acc = new RdpAccountant().compose(dpsgd(q, s), steps);
      const r = acc.getEpsilonAndOrder(delta);
      const tight = e.cross_check_opacus_same_orders.epsilon as number;
      // Opacus' own value carries ~1e-10 relative rounding (log of binomials); ours is rounded up.
      expect(r.epsilon, e.id).toBeGreaterThanOrEqual(tight * (1 - 1e-9));
      expect(Math.abs(r.epsilon - tight) / tight, e.id).toBeLessThan(1e-6);
      expect(r.order, e.id).toBe(e.cross_check_opacus_same_orders.optimal_order);
      // dp_accounting 0.6.0 is never tighter than the truth.
      expect(num(e.output.epsilon), e.id).toBeGreaterThanOrEqual(r.epsilon * (1 - 1e-6));
    }
  });

  it("per-step curves equal dp_accounting at integer orders (exact in every library)", () => {
    const orders = sections.a_rdp_per_step_curves.orders as number[];
    for (const c of sections.a_rdp_per_step_curves.curves as any[]) {
      const acc = new RdpAccountant().compose(dpsgd(c.q, c.noise_multiplier));
      const rdp = acc.rdp;
      orders.forEach((a, i) => {
        const ref = num(c.rdp[i]);
        if (Number.isInteger(a) && Number.isFinite(ref)) {
          expect(Math.abs(rdp[i] - ref) / ref, `q=${c.q} s=${c.noise_multiplier} a=${a}`).toBeLessThan(1e-9);
        }
        // At fractional orders dp_accounting's sign-dropped value is an upper bound of ours.
        // (Where both are tight they agree to within our upward rounding allowance.)
        if (!Number.isInteger(a)) expect(ref).toBeGreaterThanOrEqual(rdp[i] * (1 - 1e-6));
      });
    }
  });

  it("MNIST tutorial: 2.597 with the improved conversion, 3.009 with the classic one", () => {
    const acc = new RdpAccountant().compose(dpsgd(256 / 60000, 1.1), 14063);
    const r = acc.getEpsilonAndOrder(1e-5);
    const ref = (sections.f_cross_checks as any[]).find((x) => x.id === "mnist_dpaccounting_rdp");
    expect(r.epsilon).toBeCloseTo(ref.output.epsilon, 6);
    expect(r.order).toBe(8.1);
    expect(r.atEdge).toBe(false);
    const classic = rdpToEpsilonClassic(acc.orders, acc.rdp, 1e-5);
    expect(classic.value).toBeCloseTo(ref.output.derived_classic_mironov2017_epsilon, 5);
  });

  it("negative control: the classic conversion is caught by the reference check", () => {
    let caught = 0;
    for (const e of sections.a_rdp_dpsgd_grid as any[]) {
      const { noise_multiplier: s, sampling_rate_q: q, steps, delta } = e.inputs;
      const acc = new RdpAccountant().compose(dpsgd(q, s), steps);
      const classic = rdpToEpsilonClassic(acc.orders, acc.rdp, delta).value;
      const tight = e.cross_check_opacus_same_orders.epsilon as number;
      if (!(Math.abs(classic - tight) / tight < 1e-6)) caught++;
    }
    expect(caught).toBe((sections.a_rdp_dpsgd_grid as any[]).length);
  });
});

describe("closed forms", () => {
  it("Gaussian RDP = alpha / (2 sigma^2), and k Gaussians = one with sigma / sqrt(k)", () => {
    for (const sigma of [0.3, 1, 4.5]) {
      const acc = new RdpAccountant().compose(gaussianEvent(sigma));
      acc.rdp.forEach((r, i) => expect(r).toBeCloseTo(acc.orders[i] / (2 * sigma * sigma), 12));
      const k = 7;
      const a = new RdpAccountant().compose(gaussianEvent(sigma), k).getEpsilon(1e-6);
      const b = new RdpAccountant().compose(gaussianEvent(sigma / Math.sqrt(k))).getEpsilon(1e-6);
      expect(a).toBeCloseTo(b, 10);
    }
  });

  it("Gaussian epsilons match dp_accounting's RDP values", () => {
    for (const c of sections.c_gaussian_composition as any[]) {
      const rdpRes = c.results.find((r: any) => r.accountant.startsWith("dp_accounting.rdp"));
      const eps = new RdpAccountant().compose(gaussianEvent(c.inputs.noise_multiplier), c.inputs.k_compositions).getEpsilon(c.inputs.delta);
      expect(Math.abs(eps - rdpRes.output.epsilon) / rdpRes.output.epsilon, c.id).toBeLessThan(1e-9);
    }
  });

  it("q = 1 Poisson sampling is the plain Gaussian; q = 0 spends nothing", () => {
    const a = new RdpAccountant().compose(dpsgd(1, 1.3), 10).getEpsilon(1e-5);
    const b = new RdpAccountant().compose(gaussianEvent(1.3), 10).getEpsilon(1e-5);
    expect(a).toBe(b);
    expect(new RdpAccountant().compose(dpsgd(0, 1.3), 10).getEpsilon(1e-5)).toBe(0);
  });

  it("Laplace RDP tends to 1/b at high order and gives infinity at delta -> tiny for huge k", () => {
    const acc = new RdpAccountant({ orders: [1e6] }).compose(laplaceEvent(0.5));
    expect(acc.rdp[0]).toBeCloseTo(2, 5);
    const low = new RdpAccountant({ orders: [2] }).compose(laplaceEvent(2));
    // Mironov 2017 Prop. 6 at alpha = 2, eps = 0.5
    const e = 0.5;
    expect(low.rdp[0]).toBeCloseTo(Math.log((2 / 3) * Math.exp(e) + (1 / 3) * Math.exp(-2 * e)), 12);
  });

  it("randomized response (replace-one) reproduces dp_accounting's RAPPOR check", () => {
    for (const c of sections.e_rappor as any[]) {
      const acc = new RdpAccountant({ neighboringRelation: "replaceOne" });
      acc.compose(selfComposedEvent(randomizedResponseEvent(c.inputs.f, 2), 2 * c.inputs.h));
      const ref = c.rdp_check.epsilon_at_delta_1e_5 ?? c.rdp_check["epsilon_at_delta_1e-5"];
      expect(Math.abs(acc.getEpsilon(1e-5) - ref) / ref, c.id).toBeLessThan(1e-9);
    }
  });
});

describe("monotonicity", () => {
  it("epsilon rises with steps and sampling rate, falls with noise, and is > 0", () => {
    const eps = (q: number, s: number, t: number): number => new RdpAccountant().compose(dpsgd(q, s), t).getEpsilon(1e-5);
    let prev = 0;
    for (const t of [1, 10, 100, 1000, 10000]) {
      const e = eps(0.01, 1, t);
      expect(e).toBeGreaterThan(prev);
      prev = e;
    }
    prev = 0;
    for (const q of [0.001, 0.003, 0.01, 0.03, 0.1, 0.5, 1]) {
      const e = eps(q, 1, 100);
      expect(e).toBeGreaterThan(prev);
      prev = e;
    }
    prev = Infinity;
    for (const s of [0.5, 0.7, 1, 1.5, 3, 10]) {
      const e = eps(0.01, s, 100);
      expect(e).toBeLessThan(prev);
      expect(e).toBeGreaterThan(0);
      prev = e;
    }
  });

  it("epsilon > 0 for any finite sigma on any order list (moderate delta)", () => {
    for (const orders of [[2], [1.5, 3, 40], [...DEFAULT_RDP_ORDERS]]) {
      for (const s of [0.5, 5, 50, 500]) {
        expect(new RdpAccountant({ orders }).compose(gaussianEvent(s)).getEpsilon(1e-10)).toBeGreaterThan(0);
      }
    }
  });
});

describe("composition and the event algebra", () => {
  it("composed, selfComposed and count agree; noOp spends nothing; nonPrivate is infinite", () => {
    const e = dpsgd(0.01, 1.1);
    const a = new RdpAccountant().compose(e, 6).getEpsilon(1e-5);
    const b = new RdpAccountant().compose(selfComposedEvent(selfComposedEvent(e, 2), 3)).getEpsilon(1e-5);
    const c = new RdpAccountant().compose(composedEvent([e, e, e, noOpEvent(), e, e, e])).getEpsilon(1e-5);
    expect(b).toBeCloseTo(a, 12);
    expect(c).toBeCloseTo(a, 12);
    expect(new RdpAccountant().compose(nonPrivateEvent()).getEpsilon(1e-5)).toBe(Infinity);
    expect(new RdpAccountant().compose(noOpEvent()).getEpsilon(1e-5)).toBe(0);
  });

  it("a composition of Gaussians inside Poisson sampling is one Gaussian with the effective multiplier", () => {
    const a = new RdpAccountant().compose(poissonSampledEvent(0.01, selfComposedEvent(gaussianEvent(2), 4))).getEpsilon(1e-5);
    const b = new RdpAccountant().compose(dpsgd(0.01, 1)).getEpsilon(1e-5);
    expect(a).toBeCloseTo(b, 12);
  });

  it("epsilonDelta events add their delta", () => {
    const acc = new RdpAccountant().compose(epsilonDeltaEvent(1, 1e-6), 3);
    expect(acc.additionalDelta).toBeCloseTo(1 - (1 - 1e-6) ** 3, 15);
    // RDP is loose for pure DP: slightly above the basic-composition value 3.
    expect(acc.getEpsilon(1e-5)).toBeGreaterThan(2.5);
    expect(acc.getEpsilon(1e-5)).toBeLessThan(3.01);
    expect(acc.getEpsilon(2e-6)).toBe(Infinity);
  });

  it("ledger records what was composed", () => {
    const acc = new RdpAccountant().compose(gaussianEvent(1)).compose(laplaceEvent(2), 3);
    expect(acc.ledger).toEqual([gaussianEvent(1), selfComposedEvent(laplaceEvent(2), 3)]);
  });

  it("getDelta inverts getEpsilon", () => {
    const acc = new RdpAccountant().compose(dpsgd(256 / 60000, 1.1), 14063);
    const eps = acc.getEpsilon(1e-5);
    expect(acc.getDelta(eps)).toBeLessThanOrEqual(1e-5 * (1 + 1e-9));
    expect(acc.getDelta(eps * 0.99)).toBeGreaterThan(1e-5);
  });

  it("warns at the edge of the order grid", () => {
    const acc = new RdpAccountant({ orders: [2, 3, 4] }).compose(gaussianEvent(5));
    const r = acc.getEpsilonAndOrder(1e-5);
    expect(r.order).toBe(4);
    expect(r.atEdge).toBe(true);
  });
});

describe("neighbouring relations", () => {
  it("replace-one doubles the Gaussian and Laplace sensitivity", () => {
    const a = new RdpAccountant({ neighboringRelation: "replaceOne" }).compose(gaussianEvent(2)).getEpsilon(1e-5);
    const b = new RdpAccountant().compose(gaussianEvent(1)).getEpsilon(1e-5);
    expect(a).toBeCloseTo(b, 12);
    const c = new RdpAccountant({ neighboringRelation: "replaceOne" }).compose(laplaceEvent(2)).rdp;
    const d = new RdpAccountant().compose(laplaceEvent(1)).rdp;
    expect(Array.from(c)).toEqual(Array.from(d));
  });

  it("refuses Poisson sampling under replace-one, sampling without replacement and RR under add/remove", () => {
    const rr = new RdpAccountant({ neighboringRelation: "replaceOne" });
    expect(rr.supports(dpsgd(0.01, 1))).toBe(false);
    expect(() => rr.compose(dpsgd(0.01, 1))).toThrow(/replaceOne|addOrRemoveOne/);
    const ar = new RdpAccountant();
    expect(() => ar.compose(sampledWithoutReplacementEvent(1000, 10, gaussianEvent(1)))).toThrowError(DpError);
    expect(() => ar.compose(randomizedResponseEvent(0.5, 2))).toThrowError(expect.objectContaining({ code: "unsupported_event" }));
    expect(() => ar.compose(poissonSampledEvent(0.1, laplaceEvent(1)))).toThrowError(
      expect.objectContaining({ code: "unsupported_event" }),
    );
    // nothing was composed by the refused calls
    expect(ar.ledger).toEqual([]);
    expect(ar.getEpsilon(1e-5)).toBe(0);
  });

  it("sampling without replacement (replace-one, WBK19 Thm 9): bounded above by the non-subsampled Gaussian, integer orders only", () => {
    const acc = new RdpAccountant({ neighboringRelation: "replaceOne" }).compose(
      sampledWithoutReplacementEvent(60000, 256, gaussianEvent(1.1)),
      100,
    );
    const full = new RdpAccountant({ neighboringRelation: "replaceOne" }).compose(gaussianEvent(1.1), 100);
    const r = acc.getEpsilonAndOrder(1e-5);
    expect(r.epsilon).toBeLessThan(full.getEpsilon(1e-5));
    expect(Number.isInteger(r.order)).toBe(true);
    // And above the Poisson add/remove value at q = m/n with the replace-one (doubled) sensitivity is not required; it is above the add/remove value:
    const poisson = new RdpAccountant().compose(dpsgd(256 / 60000, 1.1), 100).getEpsilon(1e-5);
    expect(r.epsilon).toBeGreaterThan(poisson);
    expect(() =>
      new RdpAccountant({ orders: [1.5, 2.5], neighboringRelation: "replaceOne" }).compose(
        sampledWithoutReplacementEvent(100, 10, gaussianEvent(1)),
      ),
    ).toThrow(/integer orders/);
  });
});

describe("bad input", () => {
  it("names the argument", () => {
    const acc = new RdpAccountant();
    const arg = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(DpError);
        return (e as DpError).argument;
      }
      return "no error";
    };
    expect(arg(() => acc.getEpsilon(0))).toBe("targetDelta");
    expect(arg(() => acc.getEpsilon(1))).toBe("targetDelta");
    expect(arg(() => acc.getEpsilon(NaN))).toBe("targetDelta");
    expect(arg(() => acc.getDelta(-1))).toBe("targetEpsilon");
    expect(arg(() => acc.compose(gaussianEvent(1), 1.5))).toBe("count");
    expect(arg(() => acc.compose({ kind: "poissonSampled", samplingProbability: 1.5, event: gaussianEvent(1) } as DpEvent))).toBe(
      "event.samplingProbability",
    );
    expect(arg(() => acc.compose({ kind: "gaussian", noiseMultiplier: NaN } as DpEvent))).toBe("event.noiseMultiplier");
    expect(arg(() => acc.compose({ kind: "gaussian", noiseMultiplier: 0 } as DpEvent))).toBe("event.noiseMultiplier");
    expect(arg(() => acc.compose({ kind: "mystery" } as unknown as DpEvent))).toBe("event.kind");
    expect(arg(() => new RdpAccountant({ orders: [0.5] }))).toBe("orders[0]");
    expect(arg(() => new RdpAccountant({ neighboringRelation: "swap" as never }))).toBe("neighboringRelation");
  });
});

it("rdpToEpsilon follows dp_accounting's details (KL branch, alpha <= 1.01 skipped)", () => {
  // r tiny: delta > sqrt(1 - e^-r) gives epsilon 0
  expect(rdpToEpsilon([2], [1e-12], 1e-5).value).toBe(0);
  // alpha <= 1.01 is skipped
  expect(rdpToEpsilon([1.005], [0.1], 1e-5).value).toBe(Infinity);
});

it("a zero-count self-composition spends nothing, even of a non-private event", () => {
  const acc = new RdpAccountant().compose(composedEvent([selfComposedEvent(nonPrivateEvent(), 0), gaussianEvent(2)]));
  expect(acc.getEpsilon(1e-5)).toBe(new RdpAccountant().compose(gaussianEvent(2)).getEpsilon(1e-5));
});

describe("sampling without replacement: the bound covers a numerically exact divergence", () => {
  // One record's clipped contribution +1 replaced by -1 (noise multiplier relative to the clip
  // norm): with the record in the fixed-size sample with probability g, the outputs are
  // (1-g)N(0,s²) + gN(1,s²) against (1-g)N(0,s²) + gN(-1,s²). Their Rényi divergence, integrated
  // numerically (Simpson, 200,000 panels), must be below the accountant's bound.
  const renyi = (g: number, s: number, a: number): number => {
    const lo = -1 - 40 * s;
    const hi = 1 + 40 * s;
    const n = 200_000;
    const h = (hi - lo) / n;
    const mix = (la: number, lb: number): number => {
      const m = Math.max(la, lb);
      return m + Math.log((1 - g) * Math.exp(la - m) + g * Math.exp(lb - m));
    };
    const vals = new Float64Array(n + 1);
    let max = -Infinity;
    for (let i = 0; i <= n; i++) {
      const x = lo + i * h;
      const l0 = -(x * x) / (2 * s * s);
      const v =
        a * mix(l0, -((x - 1) ** 2) / (2 * s * s)) + (1 - a) * mix(l0, -((x + 1) ** 2) / (2 * s * s)) - 0.5 * Math.log(2 * Math.PI * s * s);
      vals[i] = v;
      if (v > max) max = v;
    }
    let sum = 0;
    for (let i = 0; i <= n; i++) sum += (i === 0 || i === n ? 1 : i % 2 ? 4 : 2) * Math.exp(vals[i] - max);
    return (max + Math.log((sum * h) / 3)) / (a - 1);
  };
  const configs: [number, number][] = [
    [0.1, 1],
    [0.1, 2],
    [0.5, 1.5],
  ];
  const orders = [2, 8, 32];

  it("the replace-one accountant (sensitivity doubled) is above the exact divergence", () => {
    for (const [g, s] of configs) {
      const acc = new RdpAccountant({ orders, neighboringRelation: "replaceOne" }).compose(
        sampledWithoutReplacementEvent(1000, 1000 * g, gaussianEvent(s)),
      );
      orders.forEach((a, i) => expect(acc.rdp[i], `g=${g} s=${s} a=${a}`).toBeGreaterThanOrEqual(renyi(g, s, a)));
    }
  });

  it("negative control: without doubling the sensitivity (noise multiplier taken as is) the bound falls below it", async () => {
    const { sampledWithoutReplacementGaussianRdpValue } = await import("../../src/accounting/rdp/mechanisms.js");
    let below = 0;
    for (const [g, s] of configs) for (const a of orders) if (sampledWithoutReplacementGaussianRdpValue(g, s, a) < renyi(g, s, a)) below++;
    expect(below).toBeGreaterThan(0);
  });
});
