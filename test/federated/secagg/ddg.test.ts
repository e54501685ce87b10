import { describe, expect, it } from "vitest";
import {
  ddgClientShare,
  ddgEvent,
  ddgLocalStddevFor,
  ddgModulusCheck,
  ddgPrivacy,
  ddgRoundedL2Bound,
  DistributedDiscreteGaussianAggregator,
  SecureAggregator,
} from "../../../src/federated/secagg/index.js";
import { DpFedAvgAggregator } from "../../../src/federated/core/dp-aggregator.js";
import type { AggregationContext, ClientUpdate } from "../../../src/federated/core/aggregator.js";
import { SeededRng } from "../../../src/random/index.js";
import { privatizeUpload } from "../../../src/federated/client/privatize.js";
import type { ClientUploadContext } from "../../../src/federated/core/aggregator.js";
import type { ClientPrivacyPlan } from "../../../src/federated/protocol/messages.js";

/** The client half of an aggregator, as a client applies it (client/privatize.ts). */
function prepare(agg: { clientPlan(c: ClientUploadContext): ClientPrivacyPlan }, u: ClientUpdate, c: ClientUploadContext): ClientUpdate {
  return { ...u, delta: privatizeUpload(u.delta, agg.clientPlan(c), c.rng) };
}

const base = { l2NormClip: 1, granularity: 2 ** -6, dimension: 16 };

describe("distributed discrete Gaussian privacy (Kairouz, Liu & Steinke 2021, Prop. 14)", () => {
  it("tau matches a hand computation: n = 2, sigma = 1/2 gives 10 exp(-pi^2/4)", () => {
    expect(ddgPrivacy({ ...base, localNoiseStddev: 0.5 }, 2).tau).toBeCloseTo(10 * Math.exp(-(Math.PI ** 2) / 4), 12);
  });

  it("the rounded L2 bound is min(c' + sqrt d, sqrt(c'^2 + d/4 + sqrt(2 ln 1/beta)(c' + sqrt(d)/2)))", () => {
    const c = 64;
    const d = 16;
    const b2 = Math.sqrt(c * c + d / 4 + Math.sqrt(2 * 0.5) * (c + Math.sqrt(d) / 2));
    expect(ddgRoundedL2Bound({ ...base, localNoiseStddev: 1 })).toBeCloseTo(Math.min(c + 4, b2), 12);
  });

  it("the effective multiplier is never better than the continuous Gaussian of the same variance, and tends to it", () => {
    for (const sigma of [0.5, 1, 2, 8, 64]) {
      for (const n of [2, 10, 100]) {
        const p = ddgPrivacy({ ...base, localNoiseStddev: sigma }, n);
        expect(p.noiseMultiplier).toBeLessThanOrEqual(p.continuousNoiseMultiplier * (1 + 1e-12));
        expect(p.rho).toBeGreaterThanOrEqual((p.l2Sensitivity ** 2 / (2 * n * sigma * sigma)) * (1 - 1e-12));
      }
    }
    const big = ddgPrivacy({ ...base, localNoiseStddev: 64 }, 10);
    expect(big.noiseMultiplier / big.continuousNoiseMultiplier).toBeGreaterThan(1 - 1e-9);
    const small = ddgPrivacy({ ...base, localNoiseStddev: 0.5, dimension: 10_000 }, 100);
    expect(small.noiseMultiplier / small.continuousNoiseMultiplier).toBeLessThan(0.9); // tau matters there
  });

  it("the Gaussian event reproduces the zCDP curve: RDP alpha/(2 z^2) = alpha rho at every order", () => {
    const params = { ...base, localNoiseStddev: 3 };
    const { rho } = ddgPrivacy(params, 20);
    const e = ddgEvent(params, 20);
    for (const alpha of [1.5, 2, 8, 64]) expect(alpha / (2 * e.noiseMultiplier ** 2)).toBeCloseTo(alpha * rho, 12);
  });

  it("more clients or more noise: more privacy", () => {
    const z = (s: number, n: number) => ddgPrivacy({ ...base, localNoiseStddev: s }, n).noiseMultiplier;
    expect(z(4, 20)).toBeGreaterThan(z(4, 10));
    expect(z(8, 10)).toBeGreaterThan(z(4, 10));
  });

  it("ddgLocalStddevFor reaches the target and not less", () => {
    const s = ddgLocalStddevFor(base, 25, 1.2);
    expect(ddgPrivacy({ ...base, localNoiseStddev: s }, 25).noiseMultiplier).toBeGreaterThanOrEqual(1.2);
    expect(ddgPrivacy({ ...base, localNoiseStddev: s * 0.99 }, 25).noiseMultiplier).toBeLessThan(1.2);
  });

  it("rejects sigma < 1/2 grid step, non-power-of-two granularity, and moduli the noisy sum could overflow", () => {
    expect(() => ddgPrivacy({ ...base, localNoiseStddev: 0.4 }, 5)).toThrow(/>= 0.5 grid steps/);
    expect(() => ddgPrivacy({ ...base, granularity: 0.3, localNoiseStddev: 1 }, 5)).toThrow(/power of two/);
    expect(() => ddgModulusCheck({ ...base, localNoiseStddev: 8 }, { clients: 100, modulusBits: 12 })).toThrow(
      /could overflow the modulus 2\^12/,
    );
    expect(ddgModulusCheck({ ...base, localNoiseStddev: 8 }, { clients: 100, modulusBits: 16 })).toBeLessThanOrEqual(2 ** 15 - 1);
  });
});

describe("client shares", () => {
  it("are integers, clipped to c (mean of many shares ≈ clipped input / gamma)", () => {
    const params = { l2NormClip: 1, granularity: 2 ** -4, localNoiseStddev: 2, dimension: 2 };
    const rng = new SeededRng(12);
    const draws = 4000;
    const mean = [0, 0];
    for (let k = 0; k < draws; k++) {
      const z = ddgClientShare([30, 40], params, rng); // norm 50, clipped to 1: (0.6, 0.8) -> (9.6, 12.8) steps
      expect(Number.isInteger(z[0]) && Number.isInteger(z[1])).toBe(true);
      mean[0] += z[0] / draws;
      mean[1] += z[1] / draws;
    }
    // sd of one share coordinate <= sqrt(4 + 1/4); 6 standard errors
    const tol = (6 * Math.sqrt(4.25)) / Math.sqrt(draws);
    expect(Math.abs(mean[0] - 9.6)).toBeLessThan(tol + 0.05); // conditional rounding: tiny bias allowed
    expect(Math.abs(mean[1] - 12.8)).toBeLessThan(tol + 0.05);
  });
});

function context(dimension: number, expectedClients: number): AggregationContext {
  return {
    round: 0,
    dimension,
    totalClients: 100,
    selectedClients: expectedClients,
    expectedClients,
    selection: { kind: "poisson", samplingProbability: expectedClients / 100 },
  };
}

function updates(n: number, d: number, seed: number): ClientUpdate[] {
  const rng = new SeededRng(seed);
  return Array.from({ length: n }, (_, k) => ({
    clientId: `c${k}`,
    delta: Float32Array.from({ length: d }, () => ((rng.nextUint32() % 2001) - 1000) / 4000),
    numExamples: 10,
  }));
}

describe("SecureAggregator", () => {
  it("with the discrete Gaussian: the securely summed delta equals the plain sum of the same noisy shares", () => {
    const d = 12;
    const n = 8;
    const ddg = new DistributedDiscreteGaussianAggregator({
      l2NormClip: 1,
      granularity: 2 ** -10,
      localNoiseStddev: 32,
      allowInsecureRng: true,
    });
    const secure = new SecureAggregator({ aggregator: ddg, rng: new SeededRng(4) });
    const ctx = context(d, n);
    const prepared = updates(n, d, 1).map((u) =>
      prepare(secure, u, { round: 0, dimension: d, expectedClients: n, rng: new SeededRng(u.clientId.length + 7) }),
    );
    const viaSecAgg = secure.aggregate(prepared, ctx);
    const plain = ddg.aggregate(prepared, ctx);
    expect(Array.from(viaSecAgg.delta)).toEqual(Array.from(plain.delta));
    expect(viaSecAgg.event).toEqual(plain.event);
    expect(viaSecAgg.event.kind).toBe("gaussian");
    expect(viaSecAgg.info?.secAggSurvivors).toBe(n);
  });

  it("dropouts: only the survivors' shares are summed and the event is computed for them", () => {
    const d = 6;
    const n = 10;
    const ddg = new DistributedDiscreteGaussianAggregator({
      l2NormClip: 1,
      granularity: 2 ** -10,
      localNoiseStddev: 32,
      allowInsecureRng: true,
    });
    const secure = new SecureAggregator({ aggregator: ddg, simulatedDropoutRate: 0.3, rng: new SeededRng(5) });
    const r = secure.aggregate(
      updates(n, d, 2).map((u) => prepare(ddg, u, { round: 0, dimension: d, expectedClients: n, rng: new SeededRng(1) })),
      context(d, n),
    );
    expect(r.accepted).toBe(7);
    expect(r.event).toEqual(ddg.finalizeSum(new Float64Array(d), 7, context(d, n)).event);
    expect((r.event as { noiseMultiplier: number }).noiseMultiplier).toBeLessThan(
      (ddg.plannedEvent(context(d, n)) as { noiseMultiplier: number }).noiseMultiplier,
    );
  });

  it("an aborted round releases nothing (zero delta, noOp event)", () => {
    const ddg = new DistributedDiscreteGaussianAggregator({
      l2NormClip: 1,
      granularity: 2 ** -10,
      localNoiseStddev: 32,
      allowInsecureRng: true,
    });
    const secure = new SecureAggregator({ aggregator: ddg, simulatedDropoutRate: 0.6, rng: new SeededRng(6) });
    const r = secure.aggregate(updates(5, 4, 3), context(4, 5));
    expect(r.event).toEqual({ kind: "noOp" });
    expect(Array.from(r.delta)).toEqual([0, 0, 0, 0]);
    expect(r.info?.secAggAborted).toBe(1);
  });

  it("wraps DP-FedAvg with client-distributed Gaussian noise (quantised sum within n/scale of the plain sum), SecAgg+ graph", () => {
    const d = 5;
    const n = 12;
    const inner = new DpFedAvgAggregator({
      noiseMultiplier: 1,
      l2NormClip: 0.5,
      noisePlacement: "client-distributed",
      allowInsecureRng: true,
    });
    const secure = new SecureAggregator({ aggregator: inner, clipRange: 4, graph: "secagg+", rng: new SeededRng(7) });
    const prepared = updates(n, d, 4).map((u) => prepare(secure, u, { round: 0, dimension: d, expectedClients: n, rng: new SeededRng(9) }));
    const ctx = context(d, n);
    const viaSecAgg = secure.aggregate(prepared, ctx);
    const plain = inner.aggregate(prepared, ctx);
    const scale = 2 ** Math.floor(Math.log2((2 ** 31 - 1) / n / 4));
    for (let i = 0; i < d; i++) expect(Math.abs(viaSecAgg.delta[i] - plain.delta[i])).toBeLessThanOrEqual(n / scale / n + 1e-6);
    expect(viaSecAgg.event).toEqual(plain.event);
    expect(secure.name).toBe("secagg(dp-fedavg(client-distributed))");
  });
});
