/**
 * `dpkit/experiments`: ready-made experiments and demos built on the library (Node only) — the
 * federated MNIST experiment and its worker-thread client pool, the Netflix-style linkage demo
 * and its charts, and a ScatterNet-style feature extractor for MNIST (scatter-net.ts). They are what the CLI, the benchmarks and the notebooks run; the concept entry
 * points (`dpkit/federated`, `dpkit/attacks`, `dpkit/dpsgd`) do not export them.
 * @module
 */
export {
  checkMnistFederatedOptions,
  FEDERATED_DP_MODES,
  FEDERATED_MODELS,
  mcmahanMnistCnn,
  FEDERATED_PARTITIONS,
  parseCompressionSpec,
  runMnistFederated,
  type FederatedDpMode,
  type FederatedModelKind,
  type FederatedPartitionKind,
  type MnistFederatedOptions,
  type MnistFederatedResult,
} from "./federated-mnist.js";
export { startMnistFederatedService, type MnistFederatedService, type MnistFederatedServiceOptions } from "./federated-service.js";
export { createWorkerPoolClients, type WorkerPoolClients, type WorkerPoolClientsOptions } from "../federated/simulation/worker-pool.js";
export {
  PAPER_SCENARIOS,
  renderLinkageDemo,
  runLinkageDemo,
  type LinkageDemoOptions,
  type LinkageDemoResult,
  type LinkageRow,
  type PaperScenario,
} from "./linkage-demo.js";
export { linkageEpsilonPlot, linkageKnownCurvePlot, type KnownCurvePoint } from "./linkage-plots.js";

// The error type every function here throws, so callers of this entry point can catch it.
export { DpError, type DpErrorCode } from "../errors.js";
export {
  groupNormalize,
  mnistScatterFeatures,
  Scattering2D,
  scatterHeadModel,
  type MnistScatterFeaturesOptions,
  type Scattering2DOptions,
  type ScatterHeadKind,
} from "./scatter-net.js";
