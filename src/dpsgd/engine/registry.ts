/**
 * The registry of per-layer rules, keyed by tfjs class name, and the list of stateless layers
 * (no trainable weights, each example's output depends only on that example's input) that the
 * engine runs as they are.
 * @module
 */
import { DpError } from "../../errors.js";
import type { LayerRule } from "./layer-rule.js";
import { conv1dRule, conv2dRule } from "./layers/conv.js";
import { denseRule } from "./layers/dense.js";
import { depthwiseConv2dRule } from "./layers/depthwise-conv2d.js";
import { embeddingRule } from "./layers/embedding.js";
import { layerNormalizationRule } from "./layers/layer-normalization.js";
import { bidirectionalRule, recurrentRule } from "./layers/recurrent.js";
import { perExampleVjpRule, timeDistributedRule } from "./layers/wrappers.js";

const rules = new Map<string, LayerRule>();
for (const rule of [
  denseRule,
  conv2dRule,
  conv1dRule,
  depthwiseConv2dRule,
  embeddingRule,
  layerNormalizationRule,
  recurrentRule,
  bidirectionalRule,
  timeDistributedRule,
  perExampleVjpRule,
]) {
  for (const name of rule.classNames) rules.set(name, rule);
}

/**
 * Layers without trainable weights that act on each example separately: run as they are.
 * (Dropout-like layers draw their masks from tfjs's own generator: that randomness is part of
 * the model, not privacy noise.) UpSampling2D is left out: tfjs 4.22's gradient of
 * nearest-neighbour resizing disagrees with batch-size-1 gradients for batches of several examples.
 */
const statelessLayers = new Set<string>([
  "InputLayer",
  "Masking",
  "Activation",
  "ReLU",
  "LeakyReLU",
  "ELU",
  "ThresholdedReLU",
  "Softmax",
  "Flatten",
  "Reshape",
  "Permute",
  "RepeatVector",
  "Dropout",
  "SpatialDropout1D",
  "AlphaDropout",
  "GaussianDropout",
  "GaussianNoise",
  "MaxPooling1D",
  "MaxPooling2D",
  "AveragePooling1D",
  "AveragePooling2D",
  "GlobalAveragePooling1D",
  "GlobalAveragePooling2D",
  "GlobalMaxPooling1D",
  "GlobalMaxPooling2D",
  "ZeroPadding2D",
  "Add",
  "Average",
  "Concatenate",
  "Maximum",
  "Minimum",
  "Multiply",
  "Cropping2D",
]);

/** Layers refused in every strategy because they mix examples of a batch. */
const mixingLayers: Record<string, string> = {
  BatchNormalization:
    "BatchNormalization mixes the examples of a batch (its statistics are batch means), so one example's gradient depends on the others and per-example clipping no longer bounds its influence. Use LayerNormalization (or a GroupNorm-style normalisation within each example) instead.",
};

/**
 * Registers a per-example gradient rule for a layer class (e.g. a custom layer), replacing any
 * built-in rule for the same class name.
 *
 * @remarks
 * Privacy rests on the rule being right: it must treat examples independently and return each
 * example's exact gradient norm. Test a new rule against batch-size-1 gradients (as dpkit's own
 * rules are) before training on private data.
 *
 * @param rule - the rule; `rule.classNames` lists the tfjs class names it handles
 * @throws DpError `invalid_parameter` if the rule names BatchNormalization or no class
 * @example
 * ```ts
 * import { registerLayerRule, denseRule } from "dpkit/dpsgd";
 * registerLayerRule({ ...denseRule, classNames: ["MyDense"] });
 * ```
 */
export function registerLayerRule(rule: LayerRule): void {
  if (!rule || !Array.isArray(rule.classNames) || rule.classNames.length === 0) {
    throw new DpError("invalid_parameter", "`rule.classNames` must list at least one layer class name.", "rule");
  }
  for (const name of rule.classNames) {
    if (name in mixingLayers) throw new DpError("invalid_parameter", `\`rule\` cannot cover ${name}: ${mixingLayers[name]}`, "rule");
  }
  for (const name of rule.classNames) rules.set(name, rule);
}

/** The rule for a tfjs class name, if any. @internal */
export function layerRuleFor(className: string): LayerRule | undefined {
  return rules.get(className);
}

/** Whether a class is a known stateless, per-example layer. @internal */
export function isStatelessLayer(className: string): boolean {
  return statelessLayers.has(className);
}

/** Why a class is refused in every strategy, or undefined. @internal */
export function mixingLayerReason(className: string): string | undefined {
  return mixingLayers[className];
}

/** Class names with a per-example rule (for error messages and docs). */
export function supportedLayerClasses(): { withWeights: string[]; stateless: string[] } {
  return { withWeights: [...rules.keys()].sort(), stateless: [...statelessLayers].sort() };
}
