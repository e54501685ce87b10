/**
 * Checking a model before training: every layer must have a per-example rule (or be a known
 * stateless layer), no layer may mix examples, and there must be something to train.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DpError, requireOneOf } from "../../errors.js";
import type { LayerRule } from "./layer-rule.js";
import { isStatelessLayer, layerRuleFor, mixingLayerReason, supportedLayerClasses } from "./registry.js";
import type { ClippingStrategy } from "./types.js";

/** One layer of the model in execution order, with the rule that handles it. @internal */
export interface PlanStep {
  layer: tf.layers.Layer;
  /** Rule for a layer whose weights are trained; undefined: run the layer as it is. */
  rule?: LayerRule;
  /** Graph models: ids of the symbolic tensors this layer reads (chains: the previous output). */
  inputIds?: number[];
  /** Graph models: id of the symbolic tensor this layer writes. */
  outputId?: number;
}

/** Execution plan: the steps and, for graph models, the ids of the model's input and output. @internal */
export interface ModelPlan {
  steps: PlanStep[];
  graph?: { inputId: number; outputId: number };
}

interface NodeLike {
  inboundLayers: tf.layers.Layer[];
  inputTensors: { id: number }[];
  outputTensors: { id: number }[];
}

function inboundNodes(layer: tf.layers.Layer): NodeLike[] {
  return (layer as unknown as { inboundNodes?: NodeLike[] }).inboundNodes ?? [];
}

/** Options for {@link checkModelSupported}. */
export interface CheckModelOptions {
  /** The strategy that will be used; `"naive"` accepts layers without a rule. Default `"auto"`. */
  strategy?: ClippingStrategy;
}

const STRATEGIES: readonly ClippingStrategy[] = ["auto", "ghost", "materialize", "naive"];

function isModel(layer: unknown): layer is tf.LayersModel {
  return layer instanceof tf.LayersModel;
}

/** The model's layers in execution order, nested models expanded; undefined if not a chain. */
function chainLayers(model: tf.LayersModel): tf.layers.Layer[] | undefined {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return undefined;
  const out: tf.layers.Layer[] = [];
  // Layers the next layer may be connected to (a nested model, or its last layer, which is what
  // tf.sequential connects to when a model is added as a layer).
  let previous: tf.layers.Layer[] | undefined;
  for (const layer of model.layers) {
    const nodes = inboundNodes(layer);
    const isInput = layer.getClassName() === "InputLayer";
    if (!isInput) {
      if (nodes.length !== 1) return undefined;
      const inbound = nodes[0].inboundLayers;
      if (previous !== undefined && (inbound.length !== 1 || !previous.includes(inbound[0]))) return undefined;
    }
    if (isModel(layer)) {
      const inner = chainLayers(layer);
      if (!inner) return undefined;
      out.push(...inner);
      previous = inner.length ? [layer, inner[inner.length - 1]] : [layer];
    } else {
      if (!isInput) out.push(layer);
      previous = [layer];
    }
  }
  return out;
}

/**
 * A functional model that is a DAG of single-use layers (branches and merges allowed, no shared
 * layers, no nested models): its layers in topological order with their tensor ids.
 */
function graphLayers(
  model: tf.LayersModel,
): { layers: { layer: tf.layers.Layer; inputIds: number[]; outputId: number }[]; inputId: number; outputId: number } | undefined {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return undefined;
  const out: { layer: tf.layers.Layer; inputIds: number[]; outputId: number }[] = [];
  for (const layer of model.layers) {
    if (layer.getClassName() === "InputLayer") continue;
    if (isModel(layer)) return undefined;
    const nodes = inboundNodes(layer);
    if (nodes.length !== 1 || nodes[0].outputTensors.length !== 1) return undefined;
    out.push({ layer, inputIds: nodes[0].inputTensors.map((t) => t.id), outputId: nodes[0].outputTensors[0].id });
  }
  return {
    layers: out,
    inputId: (model.inputs[0] as unknown as { id: number }).id,
    outputId: (model.outputs[0] as unknown as { id: number }).id,
  };
}

function layerLabel(layer: tf.layers.Layer): string {
  return `"${layer.name}" (${layer.getClassName()})`;
}

function hasTrainableWeights(layer: tf.layers.Layer): boolean {
  return layer.trainable && layer.trainableWeights.length > 0;
}

function refuseMixing(model: tf.LayersModel): void {
  const visit = (layers: tf.layers.Layer[]) => {
    for (const layer of layers) {
      if (isModel(layer)) {
        visit(layer.layers);
        continue;
      }
      const reason = mixingLayerReason(layer.getClassName());
      if (reason) throw new DpError("unsupported_layer", `Layer ${layerLabel(layer)} is not supported: ${reason}`, "model");
      if ((layer as unknown as { stateful?: boolean }).stateful === true) {
        throw new DpError(
          "unsupported_layer",
          `Layer ${layerLabel(layer)} is stateful: its state is carried from one batch to the next, so one example's data influences the gradients of later examples and per-example clipping no longer bounds it. Use stateful: false.`,
          "model",
        );
      }
    }
  };
  visit(model.layers);
}

/**
 * The execution plan for the fast engine: the chain of layers, each with its rule.
 * @throws DpError as {@link checkModelSupported}
 * @internal
 */
export function planModel(model: tf.LayersModel): ModelPlan {
  refuseMixing(model);
  const chain = chainLayers(model);
  const graph = chain ? undefined : graphLayers(model);
  if (!chain && !graph) {
    throw new DpError(
      "unsupported_layer",
      `Model "${model.name}" is neither a chain of layers nor a graph of single-use layers with one input and one output (shared layers, several inputs/outputs and models nested in a graph are not supported). Use strategy "naive" for this model.`,
      "model",
    );
  }
  const entries = chain ? chain.map((layer) => ({ layer, inputIds: undefined, outputId: undefined })) : graph!.layers;
  const plan: PlanStep[] = [];
  for (const { layer, inputIds, outputId } of entries) {
    const className = layer.getClassName();
    const rule = layerRuleFor(className);
    if (hasTrainableWeights(layer)) {
      if (!rule) {
        const { withWeights } = supportedLayerClasses();
        throw new DpError(
          "unsupported_layer",
          `Layer ${layerLabel(layer)} has trainable weights but no per-example gradient rule (rules exist for ${withWeights.join(", ")}). Freeze it (layer.trainable = false), replace it, or use strategy "naive" (slow: one backward pass per example).`,
          "model",
        );
      }
      rule.check?.(layer);
      const trainable = new Set(layer.trainableWeights);
      const frozen = rule.weights(layer).filter((w) => !trainable.has(w));
      if (frozen.length > 0) {
        throw new DpError(
          "unsupported_layer",
          `Layer ${layerLabel(layer)} has both trainable and frozen weights (${frozen.map((w) => w.name).join(", ")} frozen); per-example norms would count the frozen ones. Freeze the whole layer (layer.trainable = false) or use strategy "naive".`,
          "model",
        );
      }
      if (inputIds && inputIds.length !== 1) {
        throw new DpError("unsupported_layer", `Layer ${layerLabel(layer)} has ${inputIds.length} inputs; rules handle one.`, "model");
      }
      plan.push({ layer, rule, inputIds, outputId });
    } else if (rule || isStatelessLayer(className)) {
      plan.push({ layer, inputIds, outputId });
    } else {
      throw new DpError(
        "unsupported_layer",
        `Layer ${layerLabel(layer)} is not known to treat examples independently, so dpkit cannot run it in the per-example engine. Use strategy "naive" (slow: one backward pass per example) if it does.`,
        "model",
      );
    }
  }
  return { steps: plan, graph: graph ? { inputId: graph.inputId, outputId: graph.outputId } : undefined };
}

/**
 * Checks, before any training work, that dpkit can compute per-example clipped gradients for a
 * model.
 *
 * @remarks
 * DP-SGD's guarantee (for add/remove-one neighbouring datasets) needs each example's influence on
 * a step bounded by `l2NormClip`; that holds only if every layer treats examples independently and
 * the engine computes each example's exact gradient norm. BatchNormalization is always refused
 * (it mixes examples); with the default strategies every layer must have a per-example rule or be
 * a known stateless layer; with `strategy: "naive"` any other layer is accepted.
 *
 * @param model - the model to train
 * @param options - the strategy that will be used (default `"auto"`)
 * @throws DpError `unsupported_layer` naming the first unsupported layer; `invalid_parameter` if
 * the model has no trainable weights or the strategy is unknown
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { checkModelSupported } from "dpkit/dpsgd";
 * const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 2 })] });
 * checkModelSupported(model); // passes
 * ```
 * @see Abadi et al. 2016, "Deep Learning with Differential Privacy", https://arxiv.org/abs/1607.00133
 */
export function checkModelSupported(model: tf.LayersModel, options: CheckModelOptions = {}): void {
  if (!(model instanceof tf.LayersModel)) {
    throw new DpError("invalid_parameter", "`model` must be a tf.LayersModel (tf.sequential or tf.model).", "model");
  }
  const strategy = requireOneOf("strategy", options.strategy ?? "auto", STRATEGIES);
  if (model.trainableWeights.length === 0) {
    throw new DpError("invalid_parameter", `\`model\` must have trainable weights. Found none in model "${model.name}".`, "model");
  }
  if (strategy === "naive") refuseMixing(model);
  else planModel(model);
}
