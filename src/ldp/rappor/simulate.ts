/**
 * Simulated RAPPOR populations, for tests, benchmarks, the CLI and the notebook.
 *
 * @module
 */
import { DpError, requireInteger, requireObject, requireOneOf } from "../../errors.js";
import { binomial } from "../../random/binomial.js";
import { uniformInt } from "../../random/uniform.js";
import { resolveRng, type Rng } from "../../random/rng.js";
import type { RapporCounts, RapporMap } from "./aggregate.js";
import { createRapporEncoder, type RapporDetailedReport } from "./encoder.js";
import { rapporBitProbabilities, requireCandidateCount, validateRapporParams, type RapporParams } from "./params.js";

/** Options for {@link simulateRapporCounts}. */
export interface SimulateRapporCountsOptions {
  /** RAPPOR parameters. */
  params: RapporParams;
  /** The map of the candidates whose reports are simulated (from `hashRapporCandidates`). */
  map: RapporMap;
  /** Number of reports of each candidate (one client each, reporting once). */
  trueCounts: ArrayLike<number>;
  /** Randomness (cohorts, PRR and IRR bits); defaults to the secure source. A seeded Rng is insecure (tests only). */
  rng?: Rng;
}

/**
 * Simulates the per-cohort bit counts of a population without encoding every report: each
 * client gets a uniform cohort; given the true Bloom-bit counts t of a cohort with N reports,
 * the reported count of a bit is `Binomial(t, q*) + Binomial(N - t, p*)` — exactly the
 * distribution of summing PRR + IRR reports of clients with independent secrets.
 *
 * @param options - {@link SimulateRapporCountsOptions}
 * @returns the counts, as `sumRapporBits` of the encoded reports would give
 * @throws {@link DpError} `invalid_parameter` for mismatched shapes or non-integer counts
 * @example
 * ```ts
 * import { hashRapporCandidates, simulateRapporCounts, DEFAULT_RAPPOR_PARAMS } from "dpkit/ldp";
 * const map = hashRapporCandidates(["a", "b"], DEFAULT_RAPPOR_PARAMS);
 * const counts = simulateRapporCounts({ params: DEFAULT_RAPPOR_PARAMS, map, trueCounts: [900, 100] });
 * ```
 */
export function simulateRapporCounts(options: SimulateRapporCountsOptions): RapporCounts {
  requireObject("options", options);
  const P = validateRapporParams(options.params);
  const { map, trueCounts } = options;
  const { numBits: k, numCohorts: m, numHashes: h } = P;
  if (map.numBits !== k || map.numCohorts !== m || map.numHashes !== h) {
    throw new DpError("invalid_parameter", "`map` was hashed with other parameters.", "map");
  }
  const S = map.candidates.length;
  if (trueCounts.length !== S) {
    throw new DpError(
      "invalid_parameter",
      `\`trueCounts\` must have one entry per candidate (${S}). Found ${trueCounts.length}.`,
      "trueCounts",
    );
  }
  const rng = resolveRng(options.rng);
  const { trueOne, trueZero } = rapporBitProbabilities(P);
  const reports = new Float64Array(m);
  const truth = new Float64Array(m * k);
  const perCohort = new Float64Array(m);
  const mark = new Int32Array(k);
  for (let j = 0; j < S; j++) {
    const n = requireInteger(`trueCounts[${j}]`, trueCounts[j], { min: 0 });
    perCohort.fill(0);
    for (let i = 0; i < n; i++) perCohort[uniformInt(m, rng)]++;
    for (let c = 0; c < m; c++) {
      const nc = perCohort[c];
      if (nc === 0) continue;
      reports[c] += nc;
      mark.fill(0);
      for (let t = 0; t < h; t++) mark[map.bits[(j * m + c) * h + t]] = 1;
      for (let i = 0; i < k; i++) if (mark[i]) truth[c * k + i] += nc;
    }
  }
  const bitSums = new Float64Array(m * k);
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < k; i++) {
      const t = truth[c * k + i];
      bitSums[c * k + i] = binomial(t, trueOne, rng) + binomial(reports[c] - t, trueZero, rng);
    }
  }
  return { numCohorts: m, numBits: k, reports, bitSums };
}

/** Options for {@link simulateRapporReports}. */
export interface SimulateRapporReportsOptions {
  /** RAPPOR parameters. */
  params: RapporParams;
  /** One value per client; each client gets a fresh secret and cohort and reports once. */
  values: readonly string[];
  /** Randomness; defaults to the secure source. A seeded Rng is insecure (tests only). */
  rng?: Rng;
  /** Prefix of the client names; default "client". */
  clientPrefix?: string;
}

/**
 * Encodes one report per client with the real encoder (fresh secret and cohort per client).
 * @returns rows with client name, cohort, Bloom filter, PRR and IRR (as the reference's simulator writes)
 * @example
 * ```ts
 * import { simulateRapporReports, DEFAULT_RAPPOR_PARAMS } from "dpkit/ldp";
 * const rows = simulateRapporReports({ params: DEFAULT_RAPPOR_PARAMS, values: ["a", "b", "a"] });
 * ```
 */
export function simulateRapporReports(options: SimulateRapporReportsOptions): (RapporDetailedReport & { client: string })[] {
  requireObject("options", options);
  const params = validateRapporParams(options.params);
  const prefix = options.clientPrefix ?? "client";
  return options.values.map((v, i) => {
    // Simulated clients hold made-up values: a seeded source is fine here (reproducible, not private).
    const client = createRapporEncoder({ params, rng: options.rng, allowInsecureRng: true });
    return { client: `${prefix}${i + 1}`, ...client.encodeDetailed(v) };
  });
}

/** Shapes of simulated value distributions. */
export type RapporSimulationDistribution = "exponential" | "zipf" | "uniform";

/**
 * Splits `numReports` among `numCandidates` candidates by a distribution shape (largest
 * remainder, deterministic): exponential (weight e^{-5 j / n}), Zipf (1 / (j + 1)) or uniform.
 * @example
 * ```ts
 * import { rapporSimulationCounts } from "dpkit/ldp";
 * rapporSimulationCounts({ numCandidates: 3, numReports: 10, distribution: "uniform" }); // [4, 3, 3]
 * ```
 */
export function rapporSimulationCounts(options: {
  numCandidates: number;
  numReports: number;
  distribution?: RapporSimulationDistribution;
}): number[] {
  const n = requireCandidateCount("numCandidates", requireInteger("numCandidates", options.numCandidates, { min: 1 }));
  const total = requireInteger("numReports", options.numReports, { min: 0 });
  const dist = requireOneOf("distribution", options.distribution ?? "exponential", ["exponential", "zipf", "uniform"] as const);
  const weights = Array.from({ length: n }, (_, j) =>
    dist === "exponential" ? Math.exp((-5 * j) / n) : dist === "zipf" ? 1 / (j + 1) : 1,
  );
  const sum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (w / sum) * total);
  const counts = exact.map(Math.floor);
  let left = total - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((e, j) => [e - Math.floor(e), j] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let i = 0; left > 0; i++, left--) counts[order[i % n][1]]++;
  return counts;
}
