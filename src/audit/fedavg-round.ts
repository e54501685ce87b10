/**
 * White-box audit of one DP-FedAvg round, run on dpkit's real aggregator
 * ({@link DpFedAvgAggregator}: client preparation, clipping, noise, division by the expected
 * number of clients) and client selection.
 *
 * Client-level neighbours: N clients whose updates are 0 and a canary client whose update is a
 * Dirac spike `canaryNorm·C·e₁`. With server noise the selection is Poisson at rate q and the
 * neighbours are add/remove (the canary present or absent); with distributed client noise the
 * selection is K of N and the neighbours are replace-one (the canary or its opposite), the
 * setting in which dpkit accounts that placement. The adversary reads coordinate 1 of the
 * aggregated update.
 *
 * tfjs-free.
 * @see https://arxiv.org/abs/1710.06963 (McMahan et al. 2018, DP-FedAvg)
 * @module
 */
import {
  RdpAccountant,
  calibrateNoiseMultiplier,
  computeDpSgdEpsilon,
  gaussianEpsilonForDelta,
  gaussianEvent,
  sampledWithoutReplacementEvent,
} from "../accounting/index.js";
import { DpError, requireInteger, requireOneOf, requirePositive, requireProbability } from "../errors.js";
import type { AggregationContext, ClientUpdate } from "../federated/core/aggregator.js";
import { DpFedAvgAggregator } from "../federated/core/dp-aggregator.js";
import { privatizeUpload } from "../federated/client/privatize.js";
import { selectClientsFixed, selectClientsPoisson } from "../federated/core/selection.js";
import {
  SAMPLING_MISREPORT,
  boundWhiteBoxAudit,
  checkWhiteBoxOptions,
  type WhiteBoxAuditOptions,
  type WhiteBoxAuditResult,
} from "./dpsgd-step.js";

/** Options for {@link auditDpFedAvgRound} (`trials`: rounds with each neighbour, default 100000). */
export interface DpFedAvgRoundAuditOptions extends WhiteBoxAuditOptions {
  /** "server" (Poisson selection, add/remove) or "client-distributed" (K of N, replace-one); default "server". */
  noisePlacement?: "server" | "client-distributed";
  /** N: clients besides the canary (server) or in total (distributed); default 16. */
  clients?: number;
  /** Server placement: Poisson rate q; default 0.25. */
  samplingProbability?: number;
  /**
   * Distributed placement: clients per round K (K of N without replacement); default N (every
   * client, no sampling: the round is one Gaussian mechanism, claimed exactly by the analytic
   * Gaussian). K < N is claimed by the RDP accountant (replace-one), which is looser.
   */
  clientsPerRound?: number;
}

/** Result of {@link auditDpFedAvgRound}. */
export interface DpFedAvgRoundAuditResult extends WhiteBoxAuditResult {
  /** What was audited. */
  mechanism: "dpfedavg-round";
  /** Noise placement audited. */
  noisePlacement: "server" | "client-distributed";
}

function calibrateGaussianReplaceOne(target: number, delta: number): { z: number; eps: number } {
  let lo = 1e-3;
  let hi = 1;
  while (gaussianEpsilonForDelta(hi / 2, delta) > target) hi *= 2;
  for (let i = 0; i < 80 && hi - lo > 1e-10 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (gaussianEpsilonForDelta(mid / 2, delta) <= target) hi = mid;
    else lo = mid;
  }
  return { z: hi, eps: gaussianEpsilonForDelta(hi / 2, delta) };
}

function calibrateReplaceOne(target: number, delta: number, n: number, k: number): { z: number; eps: number } {
  const epsOf = (z: number): number =>
    new RdpAccountant({ neighboringRelation: "replaceOne" })
      .compose(sampledWithoutReplacementEvent(n, k, gaussianEvent(z)))
      .getEpsilon(delta);
  let hi = 1;
  while (epsOf(hi) > target) {
    hi *= 2;
    if (hi > 1e6) throw new DpError("invalid_parameter", `No noise multiplier <= 1e6 meets \`epsilon\` ${target}.`, "epsilon");
  }
  let lo = 0;
  for (let i = 0; i < 60 && hi - lo > 1e-9 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (mid > 0 && epsOf(mid) <= target) hi = mid;
    else lo = mid;
  }
  return { z: hi, eps: epsOf(hi) };
}

/**
 * Audits one round of dpkit's DP-FedAvg (server noise or distributed client noise) against the
 * ε its accountant claims for that round, with a Dirac canary client and the coordinate test.
 *
 * @remarks See {@link auditDpSgdStep} for what the bound means. Distributed noise is audited
 * on the sum the server sees (every share arrives); secure aggregation is assumed, not tested.
 * @param options - claim, placement, sizes, trials, variant, rng
 * @returns the claim, the bound and attack metrics
 * @throws {@link DpError} `invalid_parameter` for bad options
 * @example
 * ```ts
 * import { auditDpFedAvgRound } from "dpkit/audit";
 * import { SeededRng } from "dpkit/random";
 * const r = auditDpFedAvgRound({ epsilon: 2, trials: 20000, rng: new SeededRng(1) });
 * console.log(r.claimedEpsilon, r.epsilonLowerBound);
 * ```
 * @see https://arxiv.org/abs/1710.06963
 */
export function auditDpFedAvgRound(options: DpFedAvgRoundAuditOptions): DpFedAvgRoundAuditResult {
  const { target, delta, d, trials, clip: C, canaryNorm, brk } = checkWhiteBoxOptions(options, 100_000);
  const placement = requireOneOf("noisePlacement", options.noisePlacement ?? "server", ["server", "client-distributed"] as const);
  const n = requireInteger("clients", options.clients ?? 16, { min: 2, max: 100_000 });
  const fixed = placement === "client-distributed";
  const q = requireProbability("samplingProbability", options.samplingProbability ?? 0.25);
  const K = requireInteger("clientsPerRound", options.clientsPerRound ?? n, { min: 1, max: n });
  let z: number;
  let claimed: number;
  if (fixed && K === n) {
    if (brk === "sampling") {
      throw new DpError(
        "invalid_parameter",
        '`break: "sampling"` needs `clientsPerRound` < `clients` (there is no sampling to misreport).',
        "break",
      );
    }
    // Replace-one changes one update by up to 2C: the Gaussian mechanism with multiplier z/2.
    ({ z, eps: claimed } = calibrateGaussianReplaceOne(target, delta));
  } else if (fixed) {
    ({ z, eps: claimed } = calibrateReplaceOne(target, delta, n, K));
  } else {
    if (!(q > 0)) requirePositive("samplingProbability", q);
    const accountant = options.accountant ?? "pld";
    z = calibrateNoiseMultiplier({ targetEpsilon: target, targetDelta: delta, samplingProbability: q, steps: 1, accountant });
    claimed = computeDpSgdEpsilon({ samplingProbability: q, noiseMultiplier: z, steps: 1, targetDelta: delta, accountant });
  }
  const expected = fixed ? K : q * n;
  // The broken variants are mis-set parameters of the real aggregator and selection.
  const aggregator = (): DpFedAvgAggregator => {
    // allowInsecureRng: an audit measures the mechanism with the auditor's (possibly seeded) randomness; it releases no one's data.
    if (brk === "clipping")
      return new DpFedAvgAggregator({
        noiseMultiplier: z / canaryNorm,
        l2NormClip: C * canaryNorm,
        noisePlacement: placement,
        allowInsecureRng: true,
      });
    const zz = brk === "noise" ? z / 2 : brk === "division" ? z / expected : z;
    return new DpFedAvgAggregator({ noiseMultiplier: zz, l2NormClip: C, noisePlacement: placement, allowInsecureRng: true });
  };
  const actualQ = brk === "sampling" ? Math.min(1, SAMPLING_MISREPORT * q) : q;
  const actualK = brk === "sampling" ? Math.min(n, SAMPLING_MISREPORT * K) : K;
  const spike = (id: string, v: number): ClientUpdate => {
    const delta0 = new Float32Array(d);
    delta0[0] = v;
    return { clientId: id, delta: delta0, numExamples: 1 };
  };
  const zeros = Array.from({ length: n }, (_, i) => spike(`c${i}`, 0));
  const ctx: AggregationContext = {
    round: 0,
    dimension: d,
    totalClients: n,
    selectedClients: 0,
    expectedClients: expected,
    selection: fixed ? { kind: "fixed", sampleSize: K } : { kind: "poisson", samplingProbability: q },
    rng: options.rng,
  };
  const rounds = (withCanary: boolean): Float32Array => {
    const agg = aggregator();
    const canary = spike("canary", (withCanary ? 1 : -1) * canaryNorm * C);
    const population = fixed ? [...zeros.slice(0, n - 1), canary] : withCanary ? [...zeros, canary] : zeros;
    const out = new Float32Array(trials);
    for (let t = 0; t < trials; t++) {
      const selected = fixed ? selectClientsFixed(n, actualK, options.rng) : selectClientsPoisson(population.length, actualQ, options.rng);
      // Each client applies the aggregator's client plan in client code (clip, noise share).
      const uploads = selected.map((i) => {
        const u = population[i];
        const plan = agg.clientPlan({ round: 0, dimension: d, expectedClients: expected, rng: options.rng });
        return { ...u, delta: privatizeUpload(u.delta, plan, options.rng) };
      });
      out[t] = agg.aggregate(uploads, ctx).delta[0] * expected;
    }
    return out;
  };
  const {
    scoresIn: _in,
    scoresOut: _out,
    ...result
  } = boundWhiteBoxAudit(options, { claimed, delta, noiseMultiplier: z, brk, trials }, rounds);
  return { mechanism: "dpfedavg-round", noisePlacement: placement, ...result };
}
