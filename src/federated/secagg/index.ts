/**
 * Secure aggregation (Bonawitz et al. 2017; SecAgg+, Bell et al. 2020): the server learns only
 * the sum of the clients' inputs. Plus the integer encoding of float updates and the
 * distributed discrete Gaussian mechanism (Kairouz, Liu & Steinke 2021) for client-side noise.
 * @module
 */
export * from "./shamir.js";
export {
  addChaChaMask,
  deriveSecAggKey,
  generateSecAggKeyPair,
  secAggPublicKey,
  secAggSharedSecret,
  type SecAggKeyPair,
} from "./primitives.js";
export * from "./graph.js";
export * from "./messages.js";
export * from "./config.js";
export * from "./client.js";
export * from "./server.js";
export * from "./simulate.js";
export * from "./encoding.js";
export * from "./ddg.js";
export * from "./aggregator.js";
