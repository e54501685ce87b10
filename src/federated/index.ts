/**
 * `dpkit/federated`: federated averaging with differential privacy, compression and secure aggregation.
 * @module
 */
export * from "./aggregator.js";
export * from "./vector.js";
export * from "./weighted-mean.js";
export * from "./dp-aggregator.js";
export * from "./weights.js";
export * from "./local-training.js";
export * from "./selection.js";
export * from "./server-optimizer.js";
export * from "./fedavg.js";
export * from "./simulated-clients.js";
export * from "./partitions.js";
export * from "./accounting.js";
export * from "./example-level.js";
export * from "./mnist-experiment.js";
export * from "./worker-pool.js";
export * from "./compression/index.js";
export * from "./secagg/index.js";

// The error type every function here throws, so callers of this entry point can catch it.
export { DpError, type DpErrorCode } from "../errors.js";
