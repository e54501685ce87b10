/**
 * `dpkit/dpsgd`: DP-SGD for TensorFlow.js models.
 *
 * Two ways to make existing tfjs training private: {@link makePrivate} wraps a model with a
 * `model.fit`-like API that samples, clips, noises and accounts every step; {@link dpGradients}
 * replaces `tf.variableGrads` in a custom loop, with {@link dpApplyGradients} /
 * {@link DpOptimizer} applying the result through any tfjs optimizer.
 * @module
 */
export * from "./engine/index.js";
export * from "./privatize.js";
export * from "./sampling.js";
export {
  dpGradients,
  dpApplyGradients,
  DpOptimizer,
  type DpGradientsOptions,
  type DpGradientsResult,
  type DpOptimizerOptions,
  type EventSink,
} from "./gradients.js";
export * from "./adaptiveClipping.js";
export * from "./metrics.js";
export * from "./makePrivate.js";
export * from "./mnistModels.js";

// The error type every function here throws, so callers of this entry point can catch it.
export { DpError, type DpErrorCode } from "../errors.js";
