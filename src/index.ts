/**
 * `dpkit`: the parts that need no TensorFlow.js — errors, randomness, mechanisms, accounting and
 * local DP. Import `dpkit/dpsgd`, `dpkit/federated`, `dpkit/attacks`, `dpkit/backend` and `dpkit/data` for
 * the rest; `dpkit/experiments` holds the ready-made experiments and demos.
 * @module
 */
export * from "./errors.js";
export * from "./random/index.js";
export * from "./mechanisms/index.js";
export * from "./accounting/index.js";
export * from "./ldp/index.js";
