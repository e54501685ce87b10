/**
 * `dpkit/dpsgd`: DP-SGD for TensorFlow.js models.
 *
 * Two ways to make existing tfjs training private: {@link makePrivate} wraps a model with a
 * `model.fit`-like API that samples, clips, noises and accounts every step; {@link dpGradients}
 * replaces `tf.variableGrads` in a custom loop, with {@link dpApplyGradients} /
 * {@link DpOptimizer} applying the result through any tfjs optimizer.
 * @module
 */
// Side effect (declared in package.json `sideEffects`, so bundlers keep it even for a bare
// `import "dpkit/dpsgd"`): registers dpkit's wasm kernels whenever a backend is activated.
import "./kernels/register.js";

export * from "./engine/index.js";
export {
  clipAndSum,
  type ClipAndSumOptions,
  type ClipAndSumResult,
  clipFactors,
  privatizeClippedSum,
  type PrivatizeClippedSumOptions,
} from "./privatize.js";
export { poissonSampleIndices, uniformSampleIndices, type PoissonSampleOptions, type UniformSampleOptions } from "../random/subsampling.js";
export {
  dpGradients,
  dpApplyGradients,
  DpOptimizer,
  type DpGradientsOptions,
  type DpGradientsResult,
  type DpOptimizerOptions,
} from "./gradients.js";
export { type AdaptiveClippingOptions, AdaptiveClipState, gradientNoiseMultiplier } from "./adaptive-clipping.js";
export { type EmaOptions } from "./ema.js";
export { type EvaluateOptions, evaluatePrivateModel, type EvaluateResult } from "./metrics.js";
export {
  makePrivate,
  type MakePrivateOptions,
  type PrivateEpochLogs,
  type PrivateFitArgs,
  type PrivateFitCallbacks,
  type PrivateFitDatasetArgs,
  type PrivateHistory,
  type PrivateModel,
} from "./make-private.js";
export { createDpWorkerPool, DpWorkerPool, type DpWorkerPoolOptions } from "./workers/pool.js";
export { MNIST_MODEL_KINDS, mnistInputShape, mnistModel, type MnistModelKind } from "./mnist-models.js";

// The error type every function here throws, so callers of this entry point can catch it.
export { DpError, type DpErrorCode } from "../errors.js";
