import { describe, expect, it } from "vitest";
import type { AggregationContext, ClientUpdate } from "../../src/federated/index.js";
import {
  DpFedAvgAggregator,
  WeightedMeanAggregator,
  clipToL2Norm,
  createServerOptimizer,
  deltaNoiseMultiplier,
  dpFedAvgRoundEvent,
  isSumFinalizingAggregator,
  l2NormOf,
  validateClientUpdate,
} from "../../src/federated/index.js";
import { SeededRng } from "../../src/random/index.js";
import { privatizeUpload } from "../../src/federated/client/privatize.js";
import type { ClientUploadContext } from "../../src/federated/core/aggregator.js";
import type { ClientPrivacyPlan } from "../../src/federated/protocol/messages.js";

/** The client half of an aggregator, as a client applies it (client/privatize.ts). */
function prepare(agg: { clientPlan(c: ClientUploadContext): ClientPrivacyPlan }, u: ClientUpdate, c: ClientUploadContext): ClientUpdate {
  return { ...u, delta: privatizeUpload(u.delta, agg.clientPlan(c), c.rng) };
}

const ctx = (dimension: number, expected = 2): AggregationContext => ({
  round: 0,
  dimension,
  totalClients: 100,
  selectedClients: expected,
  expectedClients: expected,
  selection: { kind: "fixed", sampleSize: expected },
});
const up = (id: string, delta: number[], n: number): ClientUpdate => ({ clientId: id, delta: Float32Array.from(delta), numExamples: n });

describe("WeightedMeanAggregator", () => {
  it("is the exact example-weighted mean of known deltas", () => {
    const r = new WeightedMeanAggregator().aggregate([up("a", [1, -2, 0.5], 1), up("b", [4, 0, 0.5], 3), up("c", [0, 8, -1], 4)], ctx(3));
    // (1*[1,-2,.5] + 3*[4,0,.5] + 4*[0,8,-1]) / 8
    expect(Array.from(r.delta)).toEqual([13 / 8, 30 / 8, -2 / 8].map(Math.fround));
    expect(r.accepted).toBe(3);
    expect(r.event).toEqual({ kind: "nonPrivate" });
  });

  it("rejects malformed updates with a reason and leaves the others' mean unchanged", () => {
    const good = [up("a", [1, 2], 1), up("b", [3, 4], 3)];
    const base = new WeightedMeanAggregator().aggregate(good, ctx(2));
    const bad = [
      up("nan", [NaN, 1], 2),
      up("inf", [1, Infinity], 2),
      up("short", [1], 2),
      up("zero-n", [1, 1], 0),
      up("frac-n", [1, 1], 1.5),
      { clientId: "arr", delta: [1, 2] as unknown as Float32Array, numExamples: 1 },
      null as unknown as ClientUpdate,
      up("a", [100, 100], 100), // duplicate id
    ];
    const r = new WeightedMeanAggregator().aggregate([...good, ...bad], ctx(2));
    expect(Array.from(r.delta)).toEqual(Array.from(base.delta));
    expect(r.accepted).toBe(2);
    expect(r.rejected.map((x) => x.clientId)).toEqual(["nan", "inf", "short", "zero-n", "frac-n", "arr", "<unknown>", "a"]);
    for (const x of r.rejected) expect(x.reason.length).toBeGreaterThan(5);
  });

  it("gives a zero delta when nobody answered", () => {
    const r = new WeightedMeanAggregator().aggregate([], ctx(3));
    expect(Array.from(r.delta)).toEqual([0, 0, 0]);
  });

  it("validateClientUpdate names the problem", () => {
    expect(validateClientUpdate(up("a", [1, NaN], 1), 2)).toMatch(/coordinate 1/);
    expect(validateClientUpdate(up("a", [1, 2], 1), 3)).toMatch(/length 2, expected 3/);
    expect(validateClientUpdate(up("a", [1, 2], 1), 2)).toBeUndefined();
  });
});

describe("clipping", () => {
  it("never leaves the clipped norm above C (float32 rounding included)", () => {
    const rng = new SeededRng(3);
    for (let t = 0; t < 200; t++) {
      const v = Float32Array.from({ length: 50 }, () => (rng.nextUint32() / 2 ** 32 - 0.5) * 10 ** (t % 7));
      const { clipped } = clipToL2Norm(v, 0.37);
      expect(l2NormOf(clipped)).toBeLessThanOrEqual(0.37);
    }
    expect(Array.from(clipToL2Norm(Float32Array.from([NaN, 1]), 1).clipped)).toEqual([0, 0]);
  });
});

describe("DpFedAvgAggregator", () => {
  it("server mode with z=0 is the uniform mean of clipped updates divided by K", () => {
    const agg = new DpFedAvgAggregator({ noiseMultiplier: 0, l2NormClip: 1, allowInsecureRng: true });
    const r = agg.aggregate([up("a", [3, 4], 5), up("b", [0.3, 0.4], 100)], ctx(2, 4));
    expect(r.delta[0]).toBeCloseTo((0.6 + 0.3) / 4, 5);
    expect(r.delta[1]).toBeCloseTo((0.8 + 0.4) / 4, 5);
    expect(r.clippedFraction).toBe(0.5);
    expect(r.event).toEqual({ kind: "nonPrivate" });
  });

  it("server noise has standard deviation z·C/K on the mean", () => {
    const agg = new DpFedAvgAggregator({ noiseMultiplier: 2, l2NormClip: 0.5, rng: new SeededRng(11), allowInsecureRng: true });
    const d = 20000;
    const r = agg.aggregate([], ctx(d, 4));
    let s2 = 0;
    for (const v of r.delta) s2 += v * v;
    const sd = Math.sqrt(s2 / d);
    expect(sd).toBeGreaterThan(0.25 * 0.97);
    expect(sd).toBeLessThan(0.25 * 1.03);
  });

  it("distributed shares of K clients sum to the server-side noise", () => {
    const K = 5;
    const d = 20000;
    const agg = new DpFedAvgAggregator({
      noiseMultiplier: 1.5,
      l2NormClip: 2,
      noisePlacement: "client-distributed",
      allowInsecureRng: true,
    });
    const rng = new SeededRng(5);
    const ups = Array.from({ length: K }, (_, i) =>
      prepare(agg, up(`c${i}`, Array(d).fill(0), 1), { round: 0, dimension: d, expectedClients: K, rng }),
    );
    const r = agg.aggregate(ups, ctx(d, K));
    let s2 = 0;
    for (const v of r.delta) s2 += v * v;
    expect(Math.sqrt(s2 / d)).toBeGreaterThan(((1.5 * 2) / K) * 0.97);
    expect(Math.sqrt(s2 / d)).toBeLessThan(((1.5 * 2) / K) * 1.03);
    expect(r.event).toEqual(dpFedAvgRoundEvent(1.5, { totalClients: 100, selection: { kind: "fixed", sampleSize: K } }));
    expect(isSumFinalizingAggregator(agg)).toBe(true);
  });

  it("reports the weaker effective noise when distributed shares are missing", () => {
    const agg = new DpFedAvgAggregator({ noiseMultiplier: 2, l2NormClip: 1, noisePlacement: "client-distributed" });
    const p = prepare(agg, up("a", [1, 1], 1), { round: 0, dimension: 2, expectedClients: 4 });
    const r = agg.aggregate([p], { ...ctx(2, 4), selection: { kind: "poisson", samplingProbability: 0.04 } });
    expect(r.event).toEqual({ kind: "poissonSampled", samplingProbability: 0.04, event: { kind: "gaussian", noiseMultiplier: 1 } });
  });

  it("local mode adds the full noise per client and reports the local event gaussian(z/2)", () => {
    const agg = new DpFedAvgAggregator({ noiseMultiplier: 3, l2NormClip: 1, noisePlacement: "client-local", allowInsecureRng: true });
    const d = 20000;
    const p = prepare(agg, up("a", Array(d).fill(0), 1), { round: 0, dimension: d, expectedClients: 1, rng: new SeededRng(2) });
    expect(l2NormOf(p.delta) / Math.sqrt(d)).toBeCloseTo(3, 1);
    expect(agg.aggregate([p], ctx(d, 1)).event).toEqual({ kind: "gaussian", noiseMultiplier: 1.5 });
    expect(
      () => new DpFedAvgAggregator({ noiseMultiplier: 1, l2NormClip: 1, noisePlacement: "client-local", adaptiveClipping: true }),
    ).toThrow(/adaptiveClipping/);
  });

  it("adaptive clipping moves C toward the target quantile of update norms", () => {
    // All norms are 10: the median-tracking clip must grow from 0.1 toward 10.
    for (const noisePlacement of ["server", "client-distributed"] as const) {
      const agg = new DpFedAvgAggregator({
        noiseMultiplier: 0.5,
        l2NormClip: 0.1,
        noisePlacement,
        adaptiveClipping: { learningRate: 0.3, bitNoiseStddev: 1 },
        rng: new SeededRng(1),
        allowInsecureRng: true,
      });
      const rng = new SeededRng(9);
      const K = 50;
      for (let round = 0; round < 60; round++) {
        const ups = Array.from({ length: K }, (_, i) =>
          prepare(agg, up(`c${i}`, [6, 8], 1), { round, dimension: 2, expectedClients: K, rng }),
        );
        agg.aggregate(ups, { ...ctx(2, K), round, rng });
      }
      expect(agg.l2NormClip).toBeGreaterThan(5);
      expect(agg.l2NormClip).toBeLessThan(20);
    }
  });

  it("splits the noise budget as Andrew et al.: z_delta = (z^-2 - (2 sigma_b)^-2)^-1/2", () => {
    expect(deltaNoiseMultiplier(1, 5)).toBeCloseTo(1 / Math.sqrt(1 - 1 / 100), 12);
    expect(() => deltaNoiseMultiplier(2, 1)).toThrow(/bitNoiseStddev/);
  });

  it("validates its options", () => {
    expect(() => new DpFedAvgAggregator({ noiseMultiplier: -1, l2NormClip: 1 })).toThrow(/noiseMultiplier/);
    expect(() => new DpFedAvgAggregator({ noiseMultiplier: 1, l2NormClip: 0 })).toThrow(/l2NormClip/);
    expect(() => new DpFedAvgAggregator({ noiseMultiplier: 1, l2NormClip: 1, noisePlacement: "cloud" as never })).toThrow(/noisePlacement/);
  });
});

describe("server optimisers", () => {
  it("sgd(1) is FedAvg, momentum accumulates, adam normalises", () => {
    const w = new Float32Array([0, 0]);
    createServerOptimizer().apply(w, new Float32Array([1, -2]));
    expect(Array.from(w)).toEqual([1, -2]);
    const m = createServerOptimizer({ kind: "momentum", momentum: 0.5 });
    const w2 = new Float32Array([0]);
    m.apply(w2, new Float32Array([1]));
    m.apply(w2, new Float32Array([1]));
    expect(w2[0]).toBeCloseTo(1 + 1.5, 6);
    const a = createServerOptimizer({ kind: "adam", learningRate: 0.1, tau: 0 });
    const w3 = new Float32Array([0]);
    a.apply(w3, new Float32Array([1e-3]));
    expect(w3[0]).toBeCloseTo((0.1 * (0.1 * 1e-3)) / Math.sqrt(0.01 * 1e-6), 4);
  });
});

describe("secure-aggregation compatibility", () => {
  it("server placement refuses a sum-only server step (its uploads are unclipped)", () => {
    const agg = new DpFedAvgAggregator({ noiseMultiplier: 1, l2NormClip: 1, allowInsecureRng: true });
    expect(() => agg.finalizeSum(new Float64Array(2), 1, ctx(2))).toThrow(/client-distributed/);
    const dist = new DpFedAvgAggregator({
      noiseMultiplier: 1,
      l2NormClip: 1,
      noisePlacement: "client-distributed",
      adaptiveClipping: true,
      allowInsecureRng: true,
    });
    expect(dist.uploadLength(5)).toBe(6);
    expect(dist.finalizeSum(new Float64Array(3), 2, ctx(2)).delta.length).toBe(2);
  });
});
