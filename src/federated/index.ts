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
export * from "./compression/index.js";
export * from "./secagg/index.js";
export * from "./protocol/index.js";
export * from "./transport/memory.js";
export * from "./transport/http-server.js";
export * from "./server/index.js";
export * from "./simulation/service-simulation.js";
export * from "./client/example-store.js";
export * from "./client/sqlite-example-store.js";
export * from "./client/memory-example-store.js";
export * from "./client/indexeddb-example-store.js";
export * from "./client/privatize.js";
export {
  FederatedClient as FederatedClientRuntime,
  runFederatedClient,
  type FederatedClientEvent,
  type FederatedClientOptions,
  type FederatedClientRound,
  type FederatedClientState,
  type FederatedClientSummary,
  type LocalUpdateResult,
  type PlanTrainer,
} from "./client/runtime.js";
export * from "./client/demo-data.js";
export * from "./client/browser/assets.js";
export * from "./transport/http-client.js";

// The error type every function here throws, so callers of this entry point can catch it.
export { DpError, type DpErrorCode } from "../errors.js";
