/**
 * The RAPPOR client (Erlingsson, Pihur & Korolova 2014), hash-compatible with the reference
 * client google/rappor client/python/rappor.py: Bloom filter from MD5, permanent randomized
 * response (PRR) from HMAC-SHA256 of the client secret, instantaneous randomized response
 * (IRR) from dpkit's secure random source.
 *
 * @see https://arxiv.org/abs/1407.6981
 * @see https://github.com/google/rappor/blob/master/client/python/rappor.py
 * @module
 */
import { DpError, describeValue, requireInteger, requireObject } from "../../errors.js";
import type { EpsilonDeltaEvent, NonPrivateEvent } from "../../accounting/events.js";
import { bernoulli } from "../../random/bernoulli.js";
import { uniformInt } from "../../random/uniform.js";
import { requireSecureRng, resolveRng, type Rng } from "../../random/rng.js";
import { rapporBloomFilter, rapporPermanentResponse, type RapporValue } from "./hashing.js";
import { rapporEvents, rapporPermanentEpsilon, rapporReportEpsilon, validateRapporParams, type RapporParams } from "./params.js";
import { memoryRapporStore, type RapporClientStore } from "./store.js";

/** Length of a freshly drawn client secret, in bytes. */
export const RAPPOR_SECRET_BYTES = 32;

/**
 * The shortest client secret accepted, in bytes (128 bits): the PRR is HMAC(secret, value), so a
 * secret that can be guessed lets anyone recompute the permanent response and undo it.
 */
export const RAPPOR_MIN_SECRET_BYTES = 16;

/** Options for {@link createRapporEncoder}. */
export interface RapporEncoderOptions {
  /** RAPPOR parameters (validated). */
  params: RapporParams;
  /** Where the secret, cohort and memoised PRRs live; default a new in-memory store. */
  store?: RapporClientStore;
  /**
   * The client secret (strings are UTF-8 encoded), at least {@link RAPPOR_MIN_SECRET_BYTES}
   * bytes. Default: the store's, else 32 bytes drawn from `rng` and saved in the store. Give one
   * only to reproduce a reference client.
   */
  secret?: RapporValue;
  /** The cohort in [0, numCohorts). Default: the store's, else drawn uniformly and saved. */
  cohort?: number;
  /**
   * `false` for one-time RAPPOR: report the PRR itself, with no instantaneous randomized
   * response (only for clients that report a value once). Default `true`.
   */
  instantaneous?: boolean;
  /**
   * Basic RAPPOR: values are bit indices in [0, numBits) encoded as a single set bit, with no
   * Bloom filter hashing (needs `numHashes = 1`; the map is the identity). Default `false`.
   */
  basic?: boolean;
  /** Randomness for the secret, the cohort and the IRR; defaults to the secure source. A source that is not `secure` is refused unless `allowInsecureRng` is set. */
  rng?: Rng;
  /**
   * A simulation that is NOT private: accept an insecure (seeded) `rng` and secrets shorter than
   * {@link RAPPOR_MIN_SECRET_BYTES}, as the reference simulator does. The encoder then reports
   * `secure: false`, and never writes a secret, cohort or PRR it made to the given `store` (it
   * keeps them in memory), so a later secure client cannot reuse a predictable secret. Default false.
   */
  allowInsecureRng?: boolean;
}

/** What a client sends: its cohort and the IRR bits (bit i = 2^i). */
export interface RapporReport {
  /** The client's cohort. */
  cohort: number;
  /** The reported bits (the IRR; the PRR for one-time RAPPOR). */
  irr: number;
}

/** A report with the intermediate values, for simulations and tests: `bloom` and `prr` must never be sent. */
export interface RapporDetailedReport extends RapporReport {
  /** The Bloom filter of the value (private). */
  bloom: number;
  /** The permanent randomized response (private: the same for every report of the value). */
  prr: number;
}

/** A RAPPOR client (see {@link createRapporEncoder}). */
export interface RapporEncoder {
  /** The validated parameters. */
  readonly params: RapporParams;
  /** The client's cohort. */
  readonly cohort: number;
  /** Whether reports go through the instantaneous randomized response. */
  readonly instantaneous: boolean;
  /** `false` for a simulation accepted with `allowInsecureRng` (insecure rng or short secret): the reports are NOT private. */
  readonly secure: boolean;
  /** Epsilon bounding all reports of one value (the PRR's, `2h ln((1-f/2)/(f/2))`). */
  readonly permanentEpsilon: number;
  /** Epsilon of one report seen alone (`h ln(q*(1-p*)/(p*(1-q*)))`; the PRR's for one-time RAPPOR). */
  readonly reportEpsilon: number;
  /** What the client spends on one value over its lifetime: epsilonDelta(permanentEpsilon, 0). */
  readonly event: EpsilonDeltaEvent | NonPrivateEvent;
  /** What one report spends seen alone: epsilonDelta(reportEpsilon, 0). */
  readonly reportEvent: EpsilonDeltaEvent | NonPrivateEvent;
  /** Encodes a value: a string/bytes, or for basic RAPPOR a bit index. */
  encode(value: RapporValue | number): RapporReport;
  /** Encodes a value and also returns the private Bloom filter and PRR (simulation only). */
  encodeDetailed(value: RapporValue | number): RapporDetailedReport;
  /** Encodes a ready-made Bloom filter (the reference's `encode_bits`). */
  encodeBits(bloom: number): RapporReport;
}

/**
 * Creates a RAPPOR client.
 *
 * @remarks
 * Privacy: for any two values of this client, everything it ever reports about one value is
 * `permanentEpsilon`-DP (`2h ln((1 - f/2)/(f/2))`): the PRR is a deterministic function of the
 * secret and the Bloom filter (HMAC-SHA256, as in the reference) and is also memoised in the
 * store, so repeated reports cannot be averaged away. One report alone is `reportEpsilon`-DP.
 * The guarantee assumes the secret is uniformly random, never leaves the client, and that
 * HMAC-SHA256 behaves as a random function. The IRR bits are exact Bernoulli(p)/Bernoulli(q)
 * draws from `rng`. Note the reference compares 7-bit values with `128 f`, so f is effectively
 * rounded up to a multiple of 1/128 (see `effectiveProbPrr`), which only adds noise.
 *
 * @param options - {@link RapporEncoderOptions}
 * @returns a {@link RapporEncoder}
 * @throws {@link DpError} `invalid_parameter` for bad parameters, a cohort out of range or a
 *   bad basic-RAPPOR value; `invalid_state` when the store holds a cohort out of range
 * @example
 * ```ts
 * import { createRapporEncoder, DEFAULT_RAPPOR_PARAMS, rapporBitString } from "dpkit/ldp";
 * const client = createRapporEncoder({ params: DEFAULT_RAPPOR_PARAMS });
 * const { cohort, irr } = client.encode("https://www.example.com/");
 * console.log(cohort, rapporBitString(irr, 16), client.permanentEpsilon); // ..., 4.394
 * ```
 * @see https://arxiv.org/abs/1407.6981
 */
export function createRapporEncoder(options: RapporEncoderOptions): RapporEncoder {
  requireObject("options", options);
  const params = validateRapporParams(options.params);
  const { numBits: k, numHashes: h, numCohorts: m, probPrr: f, probIrr0: p, probIrr1: q } = params;
  const instantaneous = options.instantaneous ?? true;
  const basic = options.basic ?? false;
  if (basic && h !== 1) {
    throw new DpError("invalid_parameter", `\`numHashes\` must be 1 for basic RAPPOR. Found ${h}.`, "numHashes");
  }
  const rng = options.rng;
  const allowInsecure = options.allowInsecureRng === true;
  let secure = requireSecureRng(rng, allowInsecure);

  let given: Uint8Array | undefined;
  if (options.secret !== undefined) {
    if (typeof options.secret === "string") given = new TextEncoder().encode(options.secret);
    else if (options.secret instanceof Uint8Array) given = options.secret.slice();
    else
      throw new DpError(
        "invalid_parameter",
        `\`secret\` must be a string or a Uint8Array. Found ${describeValue(options.secret)}.`,
        "secret",
      );
    if (given.length < RAPPOR_MIN_SECRET_BYTES) {
      if (!allowInsecure) {
        throw new DpError(
          "invalid_parameter",
          `\`secret\` must be at least ${RAPPOR_MIN_SECRET_BYTES} bytes (a guessable secret lets anyone recompute the permanent response). Found ${given.length} bytes.`,
          "secret",
        );
      }
      secure = false;
    }
  }
  // An insecure client never writes to the caller's store: a predictable secret saved there
  // would be reused by a later, secure client as if it were secret.
  const store = secure ? (options.store ?? memoryRapporStore()) : memoryRapporStore();

  let secret: Uint8Array;
  if (given !== undefined) {
    secret = given;
    store.setSecret(secret);
  } else {
    const stored = secure ? options.store?.getSecret() : undefined;
    if (stored && stored.length < RAPPOR_MIN_SECRET_BYTES) {
      throw new DpError(
        "invalid_state",
        `The store's secret is ${stored.length} bytes, shorter than ${RAPPOR_MIN_SECRET_BYTES}: it cannot protect the permanent response. Start a new store.`,
        "store",
      );
    }
    if (stored) secret = stored;
    else {
      secret = new Uint8Array(RAPPOR_SECRET_BYTES);
      resolveRng(rng).fillBytes(secret);
      store.setSecret(secret);
    }
  }

  let cohort: number;
  if (options.cohort !== undefined) {
    cohort = requireInteger("cohort", options.cohort, { min: 0, max: m - 1 });
    store.setCohort(cohort);
  } else {
    const stored = secure ? options.store?.getCohort() : undefined;
    if (stored !== undefined) {
      if (!(Number.isInteger(stored) && stored >= 0 && stored < m)) {
        throw new DpError(
          "invalid_state",
          `The store's cohort ${stored} is outside [0, ${m - 1}]: it was made with other parameters.`,
          "store",
        );
      }
      cohort = stored;
    } else {
      cohort = uniformInt(m, resolveRng(rng));
      store.setCohort(cohort);
    }
  }

  const permanentEpsilon = rapporPermanentEpsilon(params);
  const reportEpsilon = instantaneous ? Math.min(permanentEpsilon, rapporReportEpsilon(params)) : permanentEpsilon;
  const events = rapporEvents(params);
  const reportEvent = instantaneous ? events.report : events.permanent;
  const prefix = `k=${k};h=${h};f=${f};c=${cohort};${basic ? "basic" : "bloom"};`;

  const bloomOf = (value: RapporValue | number): number => {
    if (basic) {
      const i = requireInteger("value", value, { min: 0, max: k - 1 });
      return (1 << i) >>> 0;
    }
    if (typeof value === "number") {
      throw new DpError("invalid_parameter", "`value` must be a string or a Uint8Array (numbers are for basic RAPPOR).", "value");
    }
    return rapporBloomFilter(value, cohort, h, k);
  };

  const prrOf = (bloom: number): number => {
    const key = prefix + bloom.toString(16);
    const memo = store.getPrr(key);
    if (memo !== undefined) return memo;
    const prr = rapporPermanentResponse(secret, bloom, f, k);
    store.setPrr(key, prr);
    return prr;
  };

  const irrOf = (prr: number): number => {
    if (!instantaneous) return prr;
    const r = resolveRng(rng);
    let irr = 0;
    for (let i = 0; i < k; i++) {
      const bit = (prr >>> i) & 1 ? bernoulli(q, r) : bernoulli(p, r);
      if (bit) irr |= 1 << i;
    }
    return irr >>> 0;
  };

  const encodeBits = (bloom: number): RapporDetailedReport => {
    const b = requireInteger("bloom", bloom, { min: 0, max: k === 32 ? 0xffffffff : 2 ** k - 1 });
    const prr = prrOf(b);
    return { cohort, bloom: b, prr, irr: irrOf(prr) };
  };

  return {
    params,
    cohort,
    instantaneous,
    secure,
    permanentEpsilon,
    reportEpsilon,
    event: events.permanent,
    reportEvent,
    encode(value) {
      const r = encodeBits(bloomOf(value));
      return { cohort: r.cohort, irr: r.irr };
    },
    encodeDetailed(value) {
      return encodeBits(bloomOf(value));
    },
    encodeBits(bloom) {
      const r = encodeBits(bloom);
      return { cohort: r.cohort, irr: r.irr };
    },
  };
}
