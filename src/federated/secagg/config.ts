/**
 * Validation of a secure-aggregation session's public parameters, shared by clients and server.
 *
 * @see K. Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving Machine Learning", CCS 2017.
 * @module
 */
import { DpError, requireInteger, requireObject } from "../../errors.js";
import { randomBytes } from "./primitives.js";
import { secAggMinimumThreshold } from "./graph.js";
import type { SecAggSessionConfig } from "./messages.js";
import type { Rng } from "../../random/index.js";

/** Labels for key derivation (domain separation). */
export const SECAGG_LABELS = {
  shareEncryption: (from: number, to: number): string => `dpkit/secagg/v1/share-encryption/${from}>${to}`,
  pairwiseMask: (a: number, b: number): string => `dpkit/secagg/v1/pairwise-mask/${Math.min(a, b)}-${Math.max(a, b)}`,
  selfMask: "dpkit/secagg/v1/self-mask",
  selfMaskCommitment: "dpkit/secagg/v1/self-mask-commitment",
} as const;

/** A validated config with derived facts. */
export interface ResolvedSecAggConfig extends SecAggSessionConfig {
  /** Share holders per client when nobody drops: n (complete) or degree + 1 (SecAgg+). */
  holders: number;
  /** Whether the graph is SecAgg+'s sparse one. */
  sparse: boolean;
}

/**
 * Checks a session config: ids, dimension, modulus, degree, and the threshold against the number
 * of share holders (a majority threshold floor(h / 2) + 1 <= t <= h, so a server that lies about
 * who dropped cannot gather both kinds of share of one client).
 *
 * @param config - the session's public parameters
 * @returns the config with `holders` and `sparse` added
 * @throws {@link DpError} `invalid_parameter` naming the offending field
 * @example
 * ```ts
 * import { validateSecAggConfig } from "dpkit/federated";
 * validateSecAggConfig({ sessionId: new Uint8Array(16), clientIds: [1, 2, 3], threshold: 2, dimension: 4, modulusBits: 16 });
 * ```
 * @see K. Bonawitz et al., CCS 2017; J. Bell et al., CCS 2020.
 */
export function validateSecAggConfig(config: SecAggSessionConfig): ResolvedSecAggConfig {
  requireObject("config", config);
  if (!(config.sessionId instanceof Uint8Array) || config.sessionId.length < 16 || config.sessionId.length > 64) {
    throw new DpError("invalid_parameter", "`sessionId` must be 16 to 64 bytes.", "sessionId");
  }
  if (!Array.isArray(config.clientIds) || config.clientIds.length < 2) {
    throw new DpError("invalid_parameter", "`clientIds` must list at least 2 clients.", "clientIds");
  }
  const seen = new Set<number>();
  for (const id of config.clientIds) {
    requireInteger("clientIds", id, { min: 1, max: 0xffffffff });
    if (seen.has(id)) throw new DpError("invalid_parameter", `\`clientIds\` must be distinct. Found ${id} twice.`, "clientIds");
    seen.add(id);
  }
  const n = config.clientIds.length;
  requireInteger("dimension", config.dimension, { min: 1 });
  requireInteger("modulusBits", config.modulusBits, { min: 1, max: 32 });
  let sparse = false;
  if (config.degree !== undefined) {
    requireInteger("degree", config.degree, { min: 2 });
    sparse = config.degree < n - 1; // a degree of n - 1 or more is the complete graph
    if (sparse && config.degree % 2 !== 0)
      throw new DpError("invalid_parameter", `\`degree\` must be even. Found ${config.degree}.`, "degree");
  }
  const holders = sparse ? config.degree! + 1 : n;
  const minimum = secAggMinimumThreshold(holders);
  requireInteger("threshold", config.threshold);
  if (config.threshold < minimum || config.threshold > holders) {
    throw new DpError(
      "invalid_parameter",
      `\`threshold\` must be in [${minimum}, ${holders}] for ${holders} share holders per client (a majority, at most all of them). Found ${config.threshold}.`,
      "threshold",
    );
  }
  return { ...config, holders, sparse };
}

/** A fresh random 32-byte session id (a seeded Rng makes it predictable). */
export function newSecAggSessionId(rng?: Rng): Uint8Array {
  return randomBytes(32, rng);
}
