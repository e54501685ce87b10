/**
 * `dpkit/federated`: federated averaging with differential privacy, compression and secure aggregation.
 * @module
 */
export {
  type AggregationContext,
  type AggregationResult,
  type ClientUpdate,
  type ClientUploadContext,
  type FederatedAggregator,
  isSumFinalizingAggregator,
  type NoisePlacement,
  type RejectedUpdate,
  type SumFinalizingAggregator,
  validateClientUpdate,
} from "./core/aggregator.js";
export { clipToL2Norm, l2NormOf } from "./core/vector.js";
export { WeightedMeanAggregator } from "./core/weighted-mean.js";
export {
  type AdaptiveClippingOptions,
  deltaNoiseMultiplier,
  DP_NOISE_PLACEMENTS,
  DpFedAvgAggregator,
  type DpFedAvgOptions,
  dpFedAvgRoundEvent,
  type DpNoisePlacement,
} from "./core/dp-aggregator.js";
export { flattenWeights, setFlatWeights, unflattenWeights, type WeightShapes, weightShapesOf } from "./client/weights.js";
export {
  type ClientDataset,
  type FederatedLoss,
  type LocalTrainingOptions,
  type LocalTrainingResult,
  probabilityCrossEntropyLoss,
  softmaxCrossEntropyLoss,
  trainLocalUpdate,
} from "./client/local-training.js";
export { type ClientSelection, selectClients, selectClientsFixed, selectClientsPoisson } from "./core/selection.js";
export { createServerOptimizer, type ServerOptimizer, type ServerOptimizerOptions } from "./core/server-optimizer.js";
export {
  type ClientExecutor,
  type ClientOutcome,
  type ClientPrivatizer,
  concurrentExecutor,
  type FedAvgHistory,
  FedAvgServer,
  type FedAvgServerOptions,
  type FederatedClient,
  randomDropouts,
  type RoundReport,
  runFedAvg,
  type RunFedAvgOptions,
  sequentialExecutor,
  type SimulatedFault,
  type TrainRequest,
} from "./core/fedavg.js";
export { createSimulatedClients, type LocalTrainer, type SimulatedClientsOptions } from "./simulation/simulated-clients.js";
export {
  type DirichletPartitionOptions,
  type Partition,
  partitionDirichlet,
  partitionIid,
  partitionShards,
  partitionToDatasets,
  partitionUnbalanced,
  sampleDirichlet,
  sampleGamma,
  type ShardPartitionOptions,
  type UnbalancedPartitionOptions,
} from "./simulation/partitions.js";
export {
  createFederatedAccountant,
  defaultClientDelta,
  deltaWarning,
  federatedNeighboringRelation,
  MAX_REASONABLE_DELTA,
} from "./core/accounting.js";
export { dpSgdLocalEvent, dpSgdLocalTrainer, type DpSgdLocalTrainerOptions, ExampleLevelDpAggregator } from "./client/example-level.js";
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
