/**
 * Per-example gradient engine: per-layer rules for per-example norms and clipped sums, and the
 * wasm kernels tfjs lacks.
 * @module
 */
export type {
  PerExampleLoss,
  PerExampleLossName,
  LogitsLoss,
  ClippingStrategy,
  ClippedGradientsOptions,
  ClippedGradients,
} from "./types.js";
export type { LayerRule, PerExampleTerms, PerExampleInput, NormMode } from "./layer-rule.js";
export { clippedGradients } from "./clipped-gradients.js";
export { checkModelSupported, type CheckModelOptions } from "./check-model.js";
export { perExampleLoss, checkLossMatchesOutput } from "./losses.js";
export { registerLayerRule, supportedLayerClasses } from "./registry.js";
export { denseRule } from "./layers/dense.js";
export { conv2dRule, conv1dRule } from "./layers/conv.js";
export { depthwiseConv2dRule } from "./layers/depthwise-conv2d.js";
export { embeddingRule } from "./layers/embedding.js";
export { layerNormalizationRule } from "./layers/layer-normalization.js";
export { recurrentRule, bidirectionalRule } from "./layers/recurrent.js";
export { timeDistributedRule, perExampleVjpRule } from "./layers/wrappers.js";
export { registerDpkitWasmKernels, DPKIT_WASM_KERNELS } from "../kernels/index.js";
