/**
 * The accounting spine: the pure-DP accountant (basic composition), the ledger that merges
 * repeats, the one sampled-Gaussian step constructor, and the one "how many more fit" search
 * shared by PrivacyBudget and stepsForBudget.
 */
import { describe, expect, it } from "vitest";
import {
  composedEvent,
  DpEventBuilder,
  epsilonDeltaEvent,
  gaussianEvent,
  laplaceEvent,
  makeAccountant,
  noOpEvent,
  PldAccountant,
  poissonSampledEvent,
  PrivacyBudget,
  PureDpAccountant,
  randomizedResponseEvent,
  RdpAccountant,
  sampledGaussianStep,
  sampledWithoutReplacementEvent,
  selfComposedEvent,
  stepsForBudget,
  type PrivacyAccountant,
} from "../../src/accounting/index.js";
import { largestFitting } from "../../src/accounting/calibrate.js";

describe("PureDpAccountant (basic composition)", () => {
  it("pure epsilon by basic composition of events", () => {
    const rr = randomizedResponseEvent(0.5, 2); // ln(1 + 2 * 0.5 / 0.5) = ln 3
    const acc = new PureDpAccountant({ neighboringRelation: "replaceOne" });
    expect(acc.compose(selfComposedEvent(composedEvent([rr, epsilonDeltaEvent(0.25, 0)]), 4)).getEpsilon(1e-9)).toBeCloseTo(
      4 * (Math.log(3) + 0.25),
      12,
    );
    expect(() => acc.compose(epsilonDeltaEvent(1, 1e-5))).toThrow(/pure/);
  });
  it("Laplace follows the relation; Gaussian and RR under add/remove are refused; a refused event spends nothing", () => {
    expect(new PureDpAccountant().compose(laplaceEvent(2), 3).getEpsilon(1e-5)).toBeCloseTo(1.5, 15);
    expect(new PureDpAccountant({ neighboringRelation: "replaceOne" }).compose(laplaceEvent(2)).getEpsilon(1e-5)).toBeCloseTo(1, 15);
    const acc = new PureDpAccountant().compose(laplaceEvent(1));
    expect(() => acc.compose(composedEvent([laplaceEvent(1), gaussianEvent(1)]))).toThrowError(
      expect.objectContaining({ code: "unsupported_event" }),
    );
    expect(acc.supports(randomizedResponseEvent(0.5, 2))).toBe(false);
    expect(acc.getEpsilon(1e-5)).toBe(1);
    expect(acc.ledger).toEqual([laplaceEvent(1)]);
  });
  it("Poisson sampling amplifies: ln(1 + q(e^ε − 1)); nonPrivate is infinite, noOp free", () => {
    const eps = new PureDpAccountant().compose(poissonSampledEvent(0.1, laplaceEvent(0.5))).getEpsilon(1e-5);
    expect(eps).toBeCloseTo(Math.log1p(0.1 * Math.expm1(2)), 14);
    expect(eps).toBeLessThan(2);
    expect(new PureDpAccountant().compose({ kind: "nonPrivate" }).getEpsilon(1e-5)).toBe(Infinity);
    expect(new PureDpAccountant().compose(noOpEvent(), 5).getDelta(0)).toBe(0);
  });
  it("is never below RDP's epsilon for a pure event (both are upper bounds; basic composition is the loose one)", () => {
    const e = laplaceEvent(1);
    expect(new PureDpAccountant().compose(e, 20).getEpsilon(1e-5)).toBeGreaterThanOrEqual(
      new RdpAccountant().compose(e, 20).getEpsilon(1e-5),
    );
  });
});

describe("one PrivacyAccountant interface", () => {
  const all: [string, () => PrivacyAccountant][] = [
    ["rdp", () => new RdpAccountant()],
    ["pld", () => new PldAccountant({ valueDiscretizationInterval: 1e-3 })],
    ["pure", () => new PureDpAccountant()],
    ["makeAccountant", () => makeAccountant("rdp")],
  ];
  for (const [name, make] of all) {
    it(`${name}: compose, clone, ledger, refusal composes nothing`, () => {
      const acc = make().compose(laplaceEvent(2), 2);
      const copy = acc.clone().compose(laplaceEvent(2));
      expect(acc.ledger).toEqual([selfComposedEvent(laplaceEvent(2), 2)]);
      expect(copy.ledger).toEqual([selfComposedEvent(laplaceEvent(2), 3)]);
      expect(copy.getEpsilon(1e-5)).toBeGreaterThan(acc.getEpsilon(1e-5));
      const before = acc.getEpsilon(1e-5);
      expect(acc.supports(sampledWithoutReplacementEvent(10, 2, gaussianEvent(1)))).toBe(false);
      expect(() => acc.compose(composedEvent([laplaceEvent(1), sampledWithoutReplacementEvent(10, 2, gaussianEvent(1))]))).toThrow();
      expect(acc.getEpsilon(1e-5)).toBe(before);
      expect(acc.ledger).toHaveLength(1);
    });
  }
});

describe("DpEventBuilder (the ledger)", () => {
  it("merges repeats, also non-adjacent ones, and drops noOp and count 0", () => {
    const b = new DpEventBuilder()
      .compose(gaussianEvent(1))
      .compose(laplaceEvent(1), 2)
      .compose(gaussianEvent(1), 3)
      .compose(noOpEvent())
      .compose(laplaceEvent(9), 0);
    expect(b.events).toEqual([selfComposedEvent(gaussianEvent(1), 4), selfComposedEvent(laplaceEvent(1), 2)]);
    expect(b.build()).toEqual(composedEvent(b.events));
    expect(new DpEventBuilder().build()).toEqual(noOpEvent());
    expect(new DpEventBuilder().compose(gaussianEvent(2)).build()).toEqual(gaussianEvent(2));
  });
  it("its built event gives the same epsilon as composing one at a time", () => {
    const b = new DpEventBuilder();
    const acc = new RdpAccountant();
    for (let i = 0; i < 30; i++) {
      const e = i % 3 === 0 ? laplaceEvent(4) : poissonSampledEvent(0.01, gaussianEvent(1.1));
      b.compose(e);
      acc.compose(e);
    }
    expect(new RdpAccountant().compose(b.build()).getEpsilon(1e-5)).toBeCloseTo(acc.getEpsilon(1e-5), 12);
  });
  it("control: a malformed event is refused", () => {
    expect(() => new DpEventBuilder().compose({ kind: "gaussian", noiseMultiplier: -1 } as never)).toThrow(/noiseMultiplier/);
  });
});

describe("sampledGaussianStep", () => {
  it("returns the event with the relation it is accounted under", () => {
    expect(sampledGaussianStep(1.1, { kind: "poisson", samplingProbability: 0.01 })).toEqual({
      event: poissonSampledEvent(0.01, gaussianEvent(1.1)),
      neighboringRelation: "addOrRemoveOne",
    });
    const fixed = sampledGaussianStep(2, { kind: "fixed", datasetSize: 100, sampleSize: 10 });
    expect(fixed).toEqual({ event: sampledWithoutReplacementEvent(100, 10, gaussianEvent(2)), neighboringRelation: "replaceOne" });
    expect(sampledGaussianStep(0, { kind: "fixed", datasetSize: 100, sampleSize: 10 }).event).toEqual({ kind: "nonPrivate" });
    expect(sampledGaussianStep(3).event).toEqual(gaussianEvent(3));
    // The relation it names is one the accountant can bound the event under; the other is refused.
    expect(new RdpAccountant({ neighboringRelation: fixed.neighboringRelation }).supports(fixed.event)).toBe(true);
    expect(new RdpAccountant({ neighboringRelation: "addOrRemoveOne" }).supports(fixed.event)).toBe(false);
    expect(() => sampledGaussianStep(-1)).toThrow(/noiseMultiplier/);
  });
});

describe("one search for 'how many more fit'", () => {
  it("largestFitting finds the boundary of a monotone predicate, with or without trying max first", () => {
    for (const boundary of [0, 1, 2, 7, 64, 999, 1000]) {
      let calls = 0;
      const fits = (k: number): boolean => (calls++, k <= boundary);
      expect(largestFitting(fits, 1000)).toBe(boundary);
      expect(largestFitting(fits, 1000, { tryMaxFirst: true })).toBe(boundary);
      expect(calls).toBeLessThan(60);
    }
    expect(largestFitting(() => true, 0)).toBe(0);
  });
  it("PrivacyBudget.maxCount agrees with stepsForBudget and with the budget's own refusal", () => {
    const step = poissonSampledEvent(256 / 60000, gaussianEvent(1.1));
    const k = stepsForBudget({ targetEpsilon: 1, targetDelta: 1e-5, samplingProbability: 256 / 60000, noiseMultiplier: 1.1 });
    const budget = new PrivacyBudget({ epsilon: 1, delta: 1e-5 });
    expect(budget.maxCount(step, 1e7)).toBe(k);
    expect(budget.wouldExceed(step, k)).toBe(false);
    expect(budget.wouldExceed(step, k + 1)).toBe(true);
    budget.spend(step, 100);
    expect(budget.maxCount(step, 1e7)).toBe(k - 100);
    expect(budget.maxCount(step, 5)).toBe(5);
    expect(budget.maxCount(sampledWithoutReplacementEvent(10, 2, gaussianEvent(1)), 5)).toBe(0);
  });
  it("a budget over a given accountant uses its relation and restores spent events unchecked", () => {
    const acc = new RdpAccountant({ neighboringRelation: "replaceOne" });
    const b = new PrivacyBudget({ epsilon: 1, delta: 1e-5, accountant: acc, spent: [laplaceEvent(10)] });
    expect(b.neighboringRelation).toBe("replaceOne");
    expect(b.spent().epsilon).toBeGreaterThan(0);
    expect(
      () => new PrivacyBudget({ epsilon: 1, delta: 1e-5, accountant: new RdpAccountant(), neighboringRelation: "replaceOne" }),
    ).toThrow(/neighboringRelation/);
    expect(() => JSON.stringify(new PrivacyBudget({ epsilon: 1, delta: 1e-5, accountant: new PureDpAccountant() }))).toThrow(/serialised/);
  });
});
