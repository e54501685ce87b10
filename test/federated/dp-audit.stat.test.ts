/**
 * docs/testing.md section 4 with clients in place of examples: one DP-FedAvg round, canary client
 * present or absent, coordinate 1 of the aggregated update, empirical epsilon against the
 * accountant's epsilon for that round. Negative controls (broken aggregators) must be flagged.
 */
import { describe, expect, it } from "vitest";
import { RdpAccountant, gaussianEvent, poissonSampledEvent, sampledWithoutReplacementEvent } from "../../src/accounting/index.js";
import type { AggregationContext, ClientUpdate, FederatedAggregator } from "../../src/federated/index.js";
import { DpFedAvgAggregator, clipToL2Norm, selectClientsFixed, selectClientsPoisson } from "../../src/federated/index.js";
import type { Rng } from "../../src/random/index.js";
import { SeededRng, fillGaussian } from "../../src/random/index.js";
import { auditSamplers, thresholdEvents } from "../helpers/audit.js";
import { privatizeUpload } from "../../src/federated/client/privatize.js";
import type { ClientPrivatizer } from "../../src/federated/core/fedavg.js";
import type { ClientPrivacyPlan } from "../../src/federated/protocol/messages.js";

const N = 10; // clients (Poisson case); the canary is one more
const Q = 0.5; // client sampling probability
const K = N * Q; // expected clients per round
const Z = 1; // noise multiplier
const C = 1; // clip
const D = 8; // model dimension
const DELTA = 1e-5;
const n = 100_000;
// Fixed-size selection (replace-one neighbours): K_F of N_F, the canary 1000·e1 replaced by its
// opposite −1000·e1 (after clipping the two differ by 2C, the replace-one sensitivity).
const N_F = 16;
const K_F = 8;
const Z_F = 2;

const zeros = (id: string): ClientUpdate => ({ clientId: id, delta: new Float32Array(D), numExamples: 10 });
const spike = (id: string, v: number): ClientUpdate => {
  const d = new Float32Array(D);
  d[0] = v;
  return { clientId: id, delta: d, numExamples: 10 };
};
const canary = spike("canary", 1000);
const others = Array.from({ length: N_F }, (_, i) => zeros(`c${i}`));

/** Which neighbouring relation / selection to audit. */
interface Setting {
  fixed: boolean;
}
const ctx = (noiseRng: Rng | undefined, fixed: boolean): AggregationContext => ({
  round: 0,
  dimension: D,
  totalClients: fixed ? N_F : N,
  selectedClients: 0,
  expectedClients: fixed ? K_F : K,
  selection: fixed ? { kind: "fixed", sampleSize: K_F } : { kind: "poisson", samplingProbability: Q },
  rng: noiseRng,
});

/**
 * One round through the library's real pipeline: selection, client preparation, aggregation.
 * Poisson (add/remove neighbours): N others plus the canary, or the N others alone. Fixed K_F
 * of N_F (replace-one neighbours): the last client is the canary or its opposite.
 */
function round(
  agg: FederatedAggregator,
  withCanary: boolean,
  rng: Rng,
  noiseRng: Rng | undefined,
  { fixed }: Setting,
  privatize: ClientPrivatizer = privatizeUpload,
): number {
  let population: ClientUpdate[];
  let selected: number[];
  if (fixed) {
    population = [...others.slice(0, N_F - 1), withCanary ? canary : spike("anti-canary", -1000)];
    selected = selectClientsFixed(N_F, K_F, rng);
  } else {
    population = withCanary ? [...others.slice(0, N), canary] : others.slice(0, N);
    selected = selectClientsPoisson(N + 1, Q, rng);
  }
  const chosen = selected.filter((i) => i < population.length).map((i) => population[i]);
  const expectedClients = fixed ? K_F : K;
  // Each client applies the aggregator's client plan in client code (clip, noise share).
  const uploads = chosen.map((u) => {
    const c = { round: 0, dimension: D, expectedClients, rng: noiseRng };
    return { ...u, delta: privatize(u.delta, agg.clientPlan(c), noiseRng) };
  });
  return agg.aggregate(uploads, ctx(noiseRng, fixed)).delta[0];
}

const claimedEpsilon = new RdpAccountant().compose(poissonSampledEvent(Q, gaussianEvent(Z))).getEpsilon(DELTA);
const claimedFixed = new RdpAccountant({ neighboringRelation: "replaceOne" })
  .compose(sampledWithoutReplacementEvent(N_F, K_F, gaussianEvent(Z_F)))
  .getEpsilon(DELTA);
// Thresholds in units of the canary's clipped contribution to the mean, C/K.
const thresholds = (k: number): ((y: number) => boolean)[] =>
  thresholdEvents([-2, -1, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 7, 10].map((t) => (t * C) / k));

/** Empirical epsilon lower bound; `noiseRng` undefined means the secure source. */
function audit(
  agg: () => FederatedAggregator,
  rng: Rng,
  noiseRng: Rng | undefined,
  fixed = false,
  privatize: ClientPrivatizer = privatizeUpload,
): number {
  const a0 = agg();
  const a1 = agg();
  const r = auditSamplers({
    sample0: () => round(a0, true, rng, noiseRng, { fixed }, privatize),
    sample1: () => round(a1, false, rng, noiseRng, { fixed }, privatize),
    events: thresholds(fixed ? K_F : K),
    n,
    delta: DELTA,
  });
  if (process.env.DPKIT_AUDIT_VERBOSE) process.stderr.write(`eps_LB ${r.epsilonLowerBound} (${r.worst.name}, ${r.worst.direction})\n`);
  return r.epsilonLowerBound;
}

/** Broken variant 1: forgets to clip (the canary's 1000·e1 goes through). */
class NoClipAggregator implements FederatedAggregator {
  readonly name = "broken-no-clip";
  readonly noisePlacement = "server" as const;
  clientPlan(): ClientPrivacyPlan {
    return { kind: "none" };
  }
  aggregate(updates: readonly ClientUpdate[], context: AggregationContext) {
    const sum = new Float64Array(D);
    for (const u of updates) for (let i = 0; i < D; i++) sum[i] += u.delta[i];
    const noise = fillGaussian(new Float64Array(D), Z * C, context.rng);
    const delta = Float32Array.from(sum, (s, i) => (s + noise[i]) / K);
    return { delta, event: poissonSampledEvent(Q, gaussianEvent(Z)), accepted: updates.length, rejected: [] };
  }
}

/** Broken variant 2: clips, but scales the noise by the wrong count (σ = zC/K on the sum). */
class WrongCountAggregator extends NoClipAggregator {
  override aggregate(updates: readonly ClientUpdate[], context: AggregationContext) {
    const sum = new Float64Array(D);
    for (const u of updates) {
      const { clipped } = clipToL2Norm(u.delta, C);
      for (let i = 0; i < D; i++) sum[i] += clipped[i];
    }
    const noise = fillGaussian(new Float64Array(D), (Z * C) / K, context.rng);
    const delta = Float32Array.from(sum, (s, i) => (s + noise[i]) / K);
    return { delta, event: poissonSampledEvent(Q, gaussianEvent(Z)), accepted: updates.length, rejected: [] };
  }
}

describe("DP-FedAvg round audit (client level, canary present/absent)", () => {
  it("the claimed epsilons are sensible one-round values", () => {
    expect(claimedEpsilon).toBeGreaterThan(0.5);
    expect(claimedEpsilon).toBeLessThan(10);
    expect(claimedFixed).toBeGreaterThan(claimedEpsilon * 0.5);
  });

  it("server-side noise, Poisson selection: empirical epsilon <= accountant epsilon (secure noise)", () => {
    const eps = audit(
      () => new DpFedAvgAggregator({ noiseMultiplier: Z, l2NormClip: C, allowInsecureRng: true }),
      new SeededRng(1),
      undefined,
    );
    expect(eps).toBeLessThanOrEqual(claimedEpsilon);
  });

  it("distributed client-side noise, fixed K of N (replace-one): empirical epsilon <= accountant epsilon (seeded)", () => {
    const make = (): FederatedAggregator =>
      new DpFedAvgAggregator({ noiseMultiplier: Z_F, l2NormClip: C, noisePlacement: "client-distributed", allowInsecureRng: true });
    const eps = audit(make, new SeededRng(2), new SeededRng(22), true);
    expect(eps).toBeLessThanOrEqual(claimedFixed);
  });

  it("negative control: no clipping is flagged", () => {
    const eps = audit(() => new NoClipAggregator(), new SeededRng(3), new SeededRng(33));
    expect(eps).toBeGreaterThan(claimedEpsilon);
  });

  it("negative control: noise scaled by the wrong count is flagged", () => {
    const eps = audit(() => new WrongCountAggregator(), new SeededRng(4), new SeededRng(44));
    expect(eps).toBeGreaterThan(claimedEpsilon);
  });

  it("negative control: distributed clients that add their share without clipping are flagged", () => {
    const make = (): FederatedAggregator =>
      new DpFedAvgAggregator({ noiseMultiplier: Z_F, l2NormClip: C, noisePlacement: "client-distributed", allowInsecureRng: true });
    // The bug, in the client: it adds its correctly sized share to the raw, unclipped delta.
    const brokenClient: ClientPrivatizer = (delta, plan, rng) => {
      if (plan.kind !== "clip-distributed") throw new Error("unexpected plan");
      const share = fillGaussian(new Float64Array(D), plan.noiseStddev, rng);
      return Float32Array.from(delta, (v, i) => v + share[i]);
    };
    const eps = audit(make, new SeededRng(5), new SeededRng(55), true, brokenClient);
    expect(eps).toBeGreaterThan(claimedFixed);
  });
});
