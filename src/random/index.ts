/**
 * `dpkit/random`: the only place randomness comes from.
 * @module
 */
export * from "./rng.js";
export * from "./samplers.js";
