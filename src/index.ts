/**
 * `dpkit`: the parts that need no TensorFlow.js — errors, randomness, mechanisms, accounting and
 * local DP. Import `dpkit/dpsgd`, `dpkit/federated`, `dpkit/attacks` and `dpkit/backend` for the rest.
 * @module
 */
export * from "./errors.js";
export * from "./random/index.js";
export * from "./mechanisms/index.js";
export * from "./accounting/index.js";
export * from "./ldp/index.js";
