/**
 * RAPPOR parameters, their validation, and the privacy they give
 * (Erlingsson, Pihur & Korolova 2014, "RAPPOR: Randomized Aggregatable Privacy-Preserving
 * Ordinal Response", CCS, Section 3 and Theorems 1–2).
 *
 * Field names follow the reference implementation's JSON (`numBits`, `numHashes`,
 * `numCohorts`, `probPrr`, `probIrr0`, `probIrr1`); its CSV header is `k,h,m,p,q,f`.
 *
 * @see https://arxiv.org/abs/1407.6981
 * @see https://github.com/google/rappor
 * @module
 */
import { DpError, requireInteger, requireObject, requireProbability } from "../../errors.js";
import { epsilonDeltaEvent, nonPrivateEvent, type EpsilonDeltaEvent, type NonPrivateEvent } from "../../accounting/events.js";

/** RAPPOR encoding parameters (the reference's `k, h, m, p, q, f`). */
export interface RapporParams {
  /** k: Bloom filter size in bits, 1 … 32 (the reference hashes the filter as a 4-byte integer). */
  numBits: number;
  /** h: hash functions per value, 1 … min(k, 16) (one MD5 byte each). */
  numHashes: number;
  /** m: number of cohorts (each with its own hash functions), >= 1. */
  numCohorts: number;
  /** f: probability that a Bloom bit is replaced by a fair coin in the permanent randomized response. */
  probPrr: number;
  /** p: probability that an IRR bit is 1 when the PRR bit is 0. */
  probIrr0: number;
  /** q: probability that an IRR bit is 1 when the PRR bit is 1 (q > p). */
  probIrr1: number;
}

/**
 * The most candidate strings a map or a decode may hold: the decoder's design matrix has
 * (numCohorts · numBits) rows and one column per candidate, so this bounds its memory and time.
 */
export const MAX_RAPPOR_CANDIDATES = 10_000;

/** Checks a number of candidates against {@link MAX_RAPPOR_CANDIDATES}. @internal */
export function requireCandidateCount(name: string, n: number): number {
  if (!(Number.isSafeInteger(n) && n >= 1 && n <= MAX_RAPPOR_CANDIDATES)) {
    throw new DpError("invalid_parameter", `\`${name}\` must hold between 1 and ${MAX_RAPPOR_CANDIDATES} candidates. Found ${n}.`, name);
  }
  return n;
}

/** The reference's defaults: k = 16, h = 2, m = 64, p = 0.5, q = 0.75, f = 0.5. */
export const DEFAULT_RAPPOR_PARAMS: Readonly<RapporParams> = Object.freeze({
  numBits: 16,
  numHashes: 2,
  numCohorts: 64,
  probPrr: 0.5,
  probIrr0: 0.5,
  probIrr1: 0.75,
});

/**
 * Checks RAPPOR parameters and returns a clean copy.
 *
 * @remarks
 * Rejects settings that cannot work: a Bloom filter too small to hold h distinct bits
 * (`numHashes > numBits`), more than 32 bits (the reference's PRR hashes the filter as a 4-byte
 * integer and takes one HMAC-SHA256 byte per bit), more than 16 hashes (one MD5 byte each),
 * f outside [0, 1], and `probIrr0 >= probIrr1` (the IRR would carry no or inverted signal).
 *
 * @param params - candidate parameters
 * @returns the validated parameters
 * @throws {@link DpError} `invalid_parameter` naming the offending field
 * @example
 * ```ts
 * import { validateRapporParams } from "dpkit/ldp";
 * validateRapporParams({ numBits: 16, numHashes: 2, numCohorts: 64, probPrr: 0.5, probIrr0: 0.5, probIrr1: 0.75 });
 * ```
 * @see https://github.com/google/rappor/blob/master/client/python/rappor.py
 */
export function validateRapporParams(params: RapporParams): RapporParams {
  requireObject("params", params);
  const numBits = requireInteger("numBits", params.numBits, { min: 1, max: 32 });
  const numHashes = requireInteger("numHashes", params.numHashes, { min: 1, max: 16 });
  if (numHashes > numBits) {
    throw new DpError(
      "invalid_parameter",
      `\`numHashes\` must be <= \`numBits\`: a Bloom filter of ${numBits} bits cannot hold ${numHashes} distinct bits. Found ${numHashes}.`,
      "numHashes",
    );
  }
  const numCohorts = requireInteger("numCohorts", params.numCohorts, { min: 1, max: 2 ** 32 });
  const probPrr = requireProbability("probPrr", params.probPrr);
  const probIrr0 = requireProbability("probIrr0", params.probIrr0);
  const probIrr1 = requireProbability("probIrr1", params.probIrr1);
  if (!(probIrr0 < probIrr1)) {
    throw new DpError(
      "invalid_parameter",
      `\`probIrr0\` (p) must be < \`probIrr1\` (q). Found p = ${probIrr0} >= q = ${probIrr1}.`,
      "probIrr0",
    );
  }
  return { numBits, numHashes, numCohorts, probPrr, probIrr0, probIrr1 };
}

/**
 * The effective PRR probability of the reference client: it compares 7 bits of an HMAC byte
 * with `128 f`, so f is rounded up to a multiple of 1/128: `min(128, ceil(128 f)) / 128`.
 *
 * @param probPrr - f in [0, 1]
 * @returns the probability with which a PRR bit is actually replaced by a coin
 * @example
 * ```ts
 * import { effectiveProbPrr } from "dpkit/ldp";
 * effectiveProbPrr(0.5); // 0.5
 * effectiveProbPrr(0.3); // 39/128 ≈ 0.3047
 * ```
 */
export function effectiveProbPrr(probPrr: number): number {
  const f = requireProbability("probPrr", probPrr);
  return Math.min(128, Math.ceil(128 * f)) / 128;
}

/** Probabilities that a reported bit is 1 given the true Bloom bit (f, p, q combined). */
export interface RapporBitProbabilities {
  /** P(report 1 | Bloom bit 1) = q (1 - f/2) + p f / 2 (the paper's q*). */
  trueOne: number;
  /** P(report 1 | Bloom bit 0) = p (1 - f/2) + q f / 2 (the paper's p*). */
  trueZero: number;
}

/**
 * The per-bit report probabilities q* and p* (Erlingsson et al. 2014, Section 3.1).
 * @param params - validated RAPPOR parameters
 * @returns q* and p*
 * @example
 * ```ts
 * import { DEFAULT_RAPPOR_PARAMS, rapporBitProbabilities } from "dpkit/ldp";
 * rapporBitProbabilities(DEFAULT_RAPPOR_PARAMS); // { trueOne: 0.6875, trueZero: 0.5625 }
 * ```
 */
export function rapporBitProbabilities(params: RapporParams): RapporBitProbabilities {
  const { probPrr: f, probIrr0: p, probIrr1: q } = params;
  return { trueOne: q * (1 - f / 2) + (p * f) / 2, trueZero: p * (1 - f / 2) + (q * f) / 2 };
}

/**
 * Epsilon of the permanent randomized response: `2 h ln((1 - f/2) / (f/2))` (Theorem 1).
 *
 * @remarks
 * This bounds everything a client ever reports about one value, however many reports it sends
 * (the PRR is memoised). Neighbouring relation: any two values of one client, whose Bloom
 * filters differ in at most 2h bits. Uses the stated f, which is conservative when the client
 * rounds f up (see {@link effectiveProbPrr}). f = 0 gives Infinity.
 *
 * @param params - RAPPOR parameters
 * @returns epsilon_infinity
 * @example
 * ```ts
 * import { DEFAULT_RAPPOR_PARAMS, rapporPermanentEpsilon } from "dpkit/ldp";
 * rapporPermanentEpsilon(DEFAULT_RAPPOR_PARAMS); // 4 ln 3 ≈ 4.394
 * ```
 * @see https://arxiv.org/abs/1407.6981
 */
export function rapporPermanentEpsilon(params: RapporParams): number {
  const { numHashes: h, probPrr: f } = validateRapporParams(params);
  if (f === 0) return Infinity;
  if (f === 1) return 0;
  return 2 * h * Math.log((1 - f / 2) / (f / 2));
}

/**
 * Epsilon of a single report (PRR then IRR): `h ln(q* (1 - p*) / (p* (1 - q*)))` (Theorem 2).
 *
 * @remarks
 * The privacy of one report seen alone, against a collector that never sees a second report of
 * the same value. Neighbouring relation as for {@link rapporPermanentEpsilon}. For one-time
 * RAPPOR (no IRR) use `p = 0, q = 1`, which gives the permanent epsilon.
 *
 * @param params - RAPPOR parameters
 * @returns epsilon_1
 * @example
 * ```ts
 * import { DEFAULT_RAPPOR_PARAMS, rapporReportEpsilon } from "dpkit/ldp";
 * rapporReportEpsilon(DEFAULT_RAPPOR_PARAMS); // ≈ 1.0743
 * ```
 * @see https://arxiv.org/abs/1407.6981
 */
export function rapporReportEpsilon(params: RapporParams): number {
  const v = validateRapporParams(params);
  const { trueOne: qs, trueZero: ps } = rapporBitProbabilities(v);
  if (ps === 0 || qs === 1) return Infinity;
  const e = v.numHashes * Math.log((qs * (1 - ps)) / (ps * (1 - qs)));
  return Math.abs(e);
}

/**
 * The DpEvents of a RAPPOR client: `permanent` bounds every report of one value
 * (epsilonDelta(epsilon_inf, 0); nonPrivate when f = 0, as nothing then bounds repeated
 * reports), `report` is one report seen alone (epsilonDelta(epsilon_1, 0)).
 * @param params - RAPPOR parameters
 * @returns the two events
 * @example
 * ```ts
 * import { DEFAULT_RAPPOR_PARAMS, rapporEvents } from "dpkit/ldp";
 * const { permanent, report } = rapporEvents(DEFAULT_RAPPOR_PARAMS);
 * ```
 */
export function rapporEvents(params: RapporParams): {
  permanent: EpsilonDeltaEvent | NonPrivateEvent;
  report: EpsilonDeltaEvent | NonPrivateEvent;
} {
  const inf = rapporPermanentEpsilon(params);
  const one = Math.min(inf, rapporReportEpsilon(params));
  return {
    permanent: Number.isFinite(inf) ? epsilonDeltaEvent(inf, 0) : nonPrivateEvent(),
    report: Number.isFinite(one) ? epsilonDeltaEvent(one, 0) : nonPrivateEvent(),
  };
}
