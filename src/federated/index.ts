/**
 * `dpkit/federated`: federated averaging with differential privacy, compression and secure aggregation.
 * @module
 */
export * from "./secagg/index.js";
