/**
 * Collector-side aggregation for RAPPOR: summing reports into per-cohort bit counts (the
 * reference's `sum_bits.py`) and hashing candidate strings into the map (`hash_candidates.py`).
 *
 * @see https://github.com/google/rappor/tree/master/analysis/tools
 * @module
 */
import { DpError, requireInteger } from "../../errors.js";
import { rapporBloomBits } from "./hashing.js";
import { requireCandidateCount, validateRapporParams, type RapporParams } from "./params.js";

/** Per-cohort report counts and bit sums (the counts file of the reference pipeline). */
export interface RapporCounts {
  /** m. */
  numCohorts: number;
  /** k. */
  numBits: number;
  /** Number of reports in each cohort (length m). */
  reports: Float64Array;
  /** Bit sums, cohort-major: `bitSums[c * k + i]` = reports of cohort c with bit i set (bit 0 = least significant). */
  bitSums: Float64Array;
}

/** Candidate strings and their Bloom bits in every cohort (the map file of the reference pipeline). */
export interface RapporMap {
  /** The candidate strings. */
  candidates: string[];
  /** m. */
  numCohorts: number;
  /** h. */
  numHashes: number;
  /** k. */
  numBits: number;
  /** Bit indices in [0, k): `bits[(j * m + c) * h + i]` is hash i of candidate j in cohort c. */
  bits: Int32Array;
}

/**
 * Sums reports into per-cohort bit counts (the reference's `sum_bits.py`).
 *
 * @param reports - reports with a cohort and IRR bits
 * @param params - RAPPOR parameters
 * @returns the counts
 * @throws {@link DpError} `invalid_parameter` for a cohort out of range or bits beyond k
 * @example
 * ```ts
 * import { sumRapporBits, DEFAULT_RAPPOR_PARAMS } from "dpkit/ldp";
 * const counts = sumRapporBits([{ cohort: 0, irr: 0b101 }], DEFAULT_RAPPOR_PARAMS);
 * counts.bitSums[0]; // 1
 * ```
 */
export function sumRapporBits(reports: Iterable<{ cohort: number; irr: number }>, params: RapporParams): RapporCounts {
  const { numBits: k, numCohorts: m } = validateRapporParams(params);
  const counts: RapporCounts = { numCohorts: m, numBits: k, reports: new Float64Array(m), bitSums: new Float64Array(m * k) };
  const limit = k === 32 ? 0xffffffff : 2 ** k - 1;
  let row = 0;
  for (const r of reports) {
    const c = r.cohort;
    if (!(Number.isInteger(c) && c >= 0 && c < m)) requireInteger(`reports[${row}].cohort`, c, { min: 0, max: m - 1 });
    const irr = r.irr;
    if (!(Number.isInteger(irr) && irr >= 0 && irr <= limit)) requireInteger(`reports[${row}].irr`, irr, { min: 0, max: limit });
    counts.reports[c]++;
    const base = c * k;
    for (let i = 0; i < k; i++) if ((irr >>> i) & 1) counts.bitSums[base + i]++;
    row++;
  }
  return counts;
}

/**
 * Hashes candidate strings into the map (the reference's `hash_candidates.py`): the Bloom bits
 * of every candidate in every cohort.
 *
 * @param candidates - candidate strings (distinct)
 * @param params - RAPPOR parameters
 * @returns the map
 * @throws {@link DpError} `invalid_parameter` for a repeated candidate
 * @example
 * ```ts
 * import { hashRapporCandidates, DEFAULT_RAPPOR_PARAMS } from "dpkit/ldp";
 * const map = hashRapporCandidates(["a", "b"], DEFAULT_RAPPOR_PARAMS);
 * ```
 */
export function hashRapporCandidates(candidates: readonly string[], params: RapporParams): RapporMap {
  const { numBits: k, numHashes: h, numCohorts: m } = validateRapporParams(params);
  if (!Array.isArray(candidates)) throw new DpError("invalid_parameter", "`candidates` must be an array of strings.", "candidates");
  requireCandidateCount("candidates", candidates.length);
  const seen = new Set<string>();
  const bits = new Int32Array(candidates.length * m * h);
  candidates.forEach((s, j) => {
    if (typeof s !== "string") throw new DpError("invalid_parameter", `\`candidates[${j}]\` must be a string.`, `candidates[${j}]`);
    if (seen.has(s)) throw new DpError("invalid_parameter", `\`candidates\` repeats ${JSON.stringify(s)}.`, "candidates");
    seen.add(s);
    for (let c = 0; c < m; c++) {
      const b = rapporBloomBits(s, c, h, k);
      for (let i = 0; i < h; i++) bits[(j * m + c) * h + i] = b[i];
    }
  });
  return { candidates: [...candidates], numCohorts: m, numHashes: h, numBits: k, bits };
}

/**
 * The map of basic RAPPOR (no Bloom filter: candidate j is bit j in every cohort), for
 * decoding reports of an encoder created with `basic: true`.
 *
 * @param candidates - at most k candidate names; candidate j is the value j
 * @param params - RAPPOR parameters with `numHashes = 1`
 * @returns the identity map
 * @throws {@link DpError} `invalid_parameter` for more candidates than bits or h != 1
 * @example
 * ```ts
 * import { basicRapporMap } from "dpkit/ldp";
 * const map = basicRapporMap(["no", "yes"], { numBits: 2, numHashes: 1, numCohorts: 1, probPrr: 0.5, probIrr0: 0.25, probIrr1: 0.75 });
 * ```
 */
export function basicRapporMap(candidates: readonly string[], params: RapporParams): RapporMap {
  const { numBits: k, numHashes: h, numCohorts: m } = validateRapporParams(params);
  if (h !== 1) throw new DpError("invalid_parameter", `\`numHashes\` must be 1 for basic RAPPOR. Found ${h}.`, "numHashes");
  if (!Array.isArray(candidates) || candidates.length > k) {
    throw new DpError("invalid_parameter", `\`candidates\` must be an array of at most k = ${k} names.`, "candidates");
  }
  if (new Set(candidates).size !== candidates.length)
    throw new DpError("invalid_parameter", "`candidates` has repeated names.", "candidates");
  const bits = new Int32Array(candidates.length * m);
  for (let j = 0; j < candidates.length; j++) for (let c = 0; c < m; c++) bits[j * m + c] = j;
  return { candidates: [...candidates], numCohorts: m, numHashes: 1, numBits: k, bits };
}
