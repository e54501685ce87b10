/**
 * `dpkit/federated`: federated averaging with differential privacy, compression and secure aggregation.
 * @module
 */
export * from "./aggregator.js";
export * from "./vector.js";
export * from "./weighted-mean.js";
export * from "./dp-aggregator.js";
export * from "./secagg/index.js";
