/**
 * `dpkit/federated`: federated averaging with differential privacy, compression and secure aggregation.
 * @module
 */
export * from "./core/aggregator.js";
export * from "./core/vector.js";
export * from "./core/weighted-mean.js";
export * from "./core/dp-aggregator.js";
export * from "./client/weights.js";
export * from "./client/local-training.js";
export * from "./core/selection.js";
export * from "./core/server-optimizer.js";
export * from "./core/fedavg.js";
export * from "./simulation/simulated-clients.js";
export * from "./simulation/partitions.js";
export * from "./core/accounting.js";
export * from "./client/example-level.js";
export * from "../experiments/federated-mnist.js";
export * from "./simulation/worker-pool.js";
export * from "./compression/index.js";
export * from "./secagg/index.js";
export * from "./protocol/index.js";
export * from "./transport/memory.js";
export * from "./transport/http-server.js";
export * from "./server/index.js";

// The error type every function here throws, so callers of this entry point can catch it.
export { DpError, type DpErrorCode } from "../errors.js";
