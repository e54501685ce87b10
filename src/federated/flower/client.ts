/**
 * A Flower client for any tfjs LayersModel: the four calls of Flower's `NumPyClient`
 * (get_properties, get_parameters, fit, evaluate) with dpkit's client-side privacy applied in
 * fit before the weights leave the device.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { DpEvent } from "../../accounting/events.js";
import { composedEvent } from "../../accounting/events.js";
import { RdpAccountant } from "../../accounting/rdp/accountant.js";
import { DpError, requireInteger, requireNonNegative, requireOneOf, requireOpenProbability, requirePositive } from "../../errors.js";
import type { Rng } from "../../random/rng.js";
import { dpSgdLocalEvent, runLocalDpSgd } from "../client/example-level.js";
import {
  gatherBatch,
  probabilityCrossEntropyLoss,
  softmaxCrossEntropyLoss,
  trainLocalUpdate,
  type ClientDataset,
} from "../client/local-training.js";
import { flattenWeights, setFlatWeights } from "../client/weights.js";
import { FLOWER_CLIPPING_NORM_KEY, FLOWER_NORM_BIT_KEY, type FlowerScalar, type FlowerScalars } from "./messages.js";
import type { NpyArray } from "./npy.js";
import { clipModelUpdate, localDpEvent, localDpUpdate } from "./privacy.js";

/** What a fit returns (Flower's `FitRes` without the status). */
export interface FlowerFitResult {
  /** The weights to send, in `getWeights()` order. */
  parameters: NpyArray[];
  /** Number of local training examples. */
  numExamples: number;
  /** Metrics (e.g. `train_loss`, `norm_bit`). */
  metrics: FlowerScalars;
}

/** What an evaluate returns (Flower's `EvaluateRes` without the status). */
export interface FlowerEvaluateResult {
  /** Mean loss on the local evaluation data. */
  loss: number;
  /** Number of evaluation examples. */
  numExamples: number;
  /** Metrics (`accuracy`). */
  metrics: FlowerScalars;
}

/**
 * The four calls a Flower server makes of a client (Flower's `NumPyClient`). Implement it for
 * any model, or build one for a tfjs model with {@link createTfjsFlowerClient}.
 */
export interface FlowerClient {
  /** Answers `get_properties_ins`. */
  getProperties(config: FlowerScalars): FlowerScalars | Promise<FlowerScalars>;
  /** Answers `get_parameters_ins`: the current weights. */
  getParameters(config: FlowerScalars): NpyArray[] | Promise<NpyArray[]>;
  /** Answers `fit_ins`: train from `parameters`, return the new weights. */
  fit(parameters: NpyArray[], config: FlowerScalars): FlowerFitResult | Promise<FlowerFitResult>;
  /** Answers `evaluate_ins`: evaluate `parameters` on local data. */
  evaluate(parameters: NpyArray[], config: FlowerScalars): FlowerEvaluateResult | Promise<FlowerEvaluateResult>;
}

/** Client-side privacy of {@link createTfjsFlowerClient}. */
export type FlowerClientPrivacy =
  | { kind: "none" }
  /** Clip the update to C and add N(0, (zC)²) on the client (Flower's `LocalDpMod`). */
  | { kind: "local"; l2NormClip: number; noiseMultiplier: number }
  /** Example-level DP-SGD for local training: Poisson sampling at q = batch/n, per-example clip C, noise zC. */
  | { kind: "dpsgd"; l2NormClip: number; noiseMultiplier: number };

/** Options for {@link createTfjsFlowerClient}. */
export interface TfjsFlowerClientOptions {
  /** Any tfjs LayersModel; its weights are exchanged in `getWeights()` order. */
  model: tf.LayersModel;
  /** Shape of one example (without the batch axis). */
  inputShape: number[];
  /** Local training data (integer class labels). */
  train: ClientDataset;
  /** Local evaluation data; default the training data. */
  test?: ClientDataset;
  /** `"probabilities"` (softmax output, default) or `"logits"`. */
  outputs?: "probabilities" | "logits";
  /** Client-side privacy; default none. `clipping_norm` from the server is honoured in every case. */
  privacy?: FlowerClientPrivacy;
  /** Defaults when the server's config does not set them. */
  defaults?: { localEpochs?: number; batchSize?: number; learningRate?: number };
  /** δ at which the client reports its own ε (local DP and DP-SGD). Default 1e-5. */
  targetDelta?: number;
  /** Extra properties for get_properties. */
  properties?: FlowerScalars;
  /** Randomness (shuffling, sampling, noise). Defaults to the secure source; a source that is not `secure` is refused for noise unless `allowInsecureRng` is set. */
  rng?: Rng;
  /** Accept an insecure (seeded) `rng` for the client's DP noise: reproducible, NOT private (tests only). Default false. */
  allowInsecureRng?: boolean;
}

/** What the client has done so far ({@link TfjsFlowerClient.summary}). */
export interface FlowerClientSummary {
  /** fit_ins answered. */
  fitRounds: number;
  /** evaluate_ins answered. */
  evaluateRounds: number;
  /** Local training examples. */
  examples: number;
  /** The client's own ε over all fits so far (local DP / DP-SGD only), at `delta`. */
  epsilon?: number;
  /** δ of `epsilon`. */
  delta?: number;
  /** Every fit's privacy event, composed. */
  event: DpEvent;
}

/** A {@link FlowerClient} for a tfjs model, with a running privacy account. */
export interface TfjsFlowerClient extends FlowerClient {
  /** As {@link FlowerClient.getProperties}, synchronous. */
  getProperties(config: FlowerScalars): FlowerScalars;
  /** As {@link FlowerClient.getParameters}, synchronous. */
  getParameters(config: FlowerScalars): NpyArray[];
  /** As {@link FlowerClient.fit}, synchronous. */
  fit(parameters: NpyArray[], config: FlowerScalars): FlowerFitResult;
  /** As {@link FlowerClient.evaluate}, synchronous. */
  evaluate(parameters: NpyArray[], config: FlowerScalars): FlowerEvaluateResult;
  /** Rounds answered, examples and the client's ε so far. */
  summary(): FlowerClientSummary;
}

const MAX_EPOCHS = 1000;

function asNumber(config: FlowerScalars, keys: readonly string[]): { key: string; value: number } | undefined {
  for (const key of keys) {
    if (!Object.prototype.hasOwnProperty.call(config, key)) continue;
    const v: FlowerScalar = config[key];
    const n = typeof v === "bigint" ? Number(v) : typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
    if (!Number.isFinite(n))
      throw new DpError(
        "protocol_error",
        `The server's config \`${key}\` must be a finite number. Found ${typeof v === "string" ? JSON.stringify(v) : String(v)}.`,
        key,
      );
    return { key, value: n };
  }
  return undefined;
}

/**
 * The fit settings a server's config asks for (the keys Flower's examples use):
 * `local_epochs` (or `epochs`), `batch_size`, `lr` (or `learning_rate`) and `clipping_norm`
 * (from `DifferentialPrivacyClientSide*Clipping`).
 * @param config - the fit_ins config
 * @param defaults - values for absent keys
 * @returns the settings
 * @throws {@link DpError} `protocol_error` for a value of the wrong type or out of range
 * @example
 * ```ts
 * import { fitSettingsFromConfig } from "dpkit/flower";
 * fitSettingsFromConfig({ local_epochs: 2n, lr: 0.1 }, {}).localEpochs; // 2
 * ```
 */
export function fitSettingsFromConfig(
  config: FlowerScalars,
  defaults: { localEpochs?: number; batchSize?: number; learningRate?: number },
): { localEpochs: number; batchSize: number; learningRate: number; clippingNorm?: number } {
  const range = (key: string, v: number, lo: number, hi: number, integer: boolean): number => {
    if (v < lo || v > hi || (integer && !Number.isInteger(v))) {
      throw new DpError(
        "protocol_error",
        `The server's config \`${key}\` must be ${integer ? "an integer " : ""}in [${lo}, ${hi}]. Found ${v}.`,
        key,
      );
    }
    return v;
  };
  const e = asNumber(config, ["local_epochs", "epochs"]);
  const b = asNumber(config, ["batch_size"]);
  const lr = asNumber(config, ["lr", "learning_rate"]);
  const c = asNumber(config, [FLOWER_CLIPPING_NORM_KEY]);
  return {
    localEpochs: e ? range(e.key, e.value, 1, MAX_EPOCHS, true) : (defaults.localEpochs ?? 1),
    batchSize: b ? range(b.key, b.value, 1, 1_000_000, true) : (defaults.batchSize ?? 32),
    learningRate: lr ? range(lr.key, lr.value, 1e-12, 1000, false) : (defaults.learningRate ?? 0.05),
    clippingNorm: c ? range(c.key, c.value, Number.MIN_VALUE, Number.MAX_VALUE, false) : undefined,
  };
}

/**
 * Checks the server's arrays against the model's weight shapes and flattens them to float32.
 * @param arrays - decoded tensors from the server
 * @param shapes - the model's weight shapes in `getWeights()` order
 * @returns the flat weight vector
 * @throws {@link DpError} `protocol_error` for a wrong count, shape or dtype; `non_finite` for NaN/Infinity
 * @example
 * ```ts
 * import { arraysToFlatWeights } from "dpkit/flower";
 * arraysToFlatWeights([{ dtype: "float32", shape: [2], data: new Float32Array([1, 2]) }], [[2]]); // Float32Array [1, 2]
 * ```
 */
export function arraysToFlatWeights(arrays: readonly NpyArray[], shapes: readonly number[][]): Float32Array {
  if (arrays.length !== shapes.length) {
    throw new DpError(
      "protocol_error",
      `The server sent ${arrays.length} tensors; the model has ${shapes.length} weights.`,
      "parameters.tensors",
    );
  }
  let total = 0;
  for (let i = 0; i < shapes.length; i++) {
    const a = arrays[i];
    const want = shapes[i];
    if (a.shape.length !== want.length || a.shape.some((d, k) => d !== want[k])) {
      throw new DpError(
        "protocol_error",
        `Tensor ${i} has shape (${a.shape.join(", ")}); the model's weight ${i} has shape (${want.join(", ")}).`,
        "parameters.tensors",
      );
    }
    if (a.dtype !== "float32" && a.dtype !== "float64") {
      throw new DpError(
        "protocol_error",
        `Tensor ${i} has dtype ${a.dtype}; model weights must be float32 or float64.`,
        "parameters.tensors",
      );
    }
    total += a.data.length;
  }
  const out = new Float32Array(total);
  let off = 0;
  for (let i = 0; i < arrays.length; i++) {
    const d = arrays[i].data as Float32Array | Float64Array;
    for (let j = 0; j < d.length; j++) {
      if (!Number.isFinite(d[j]))
        throw new DpError("non_finite", `Tensor ${i} holds a non-finite value (${d[j]}) at element ${j}.`, "parameters.tensors");
      out[off + j] = d[j];
    }
    off += d.length;
  }
  return out;
}

/** Splits a flat float32 vector into float32 arrays of the given shapes. @internal */
export function flatWeightsToArrays(flat: Float32Array, shapes: readonly number[][]): NpyArray[] {
  const out: NpyArray[] = [];
  let off = 0;
  for (const shape of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    out.push({ dtype: "float32", shape: shape.slice(), data: flat.slice(off, off + n) });
    off += n;
  }
  return out;
}

function checkDataset(name: string, d: ClientDataset, width: number): void {
  requireInteger(`${name}.count`, d.count, { min: 0 });
  if (d.x.length !== d.count * width || d.y.length !== d.count) {
    throw new DpError(
      "invalid_parameter",
      `\`${name}\` must hold count × ${width} features and count labels. Found ${d.x.length} and ${d.y.length} for count ${d.count}.`,
      name,
    );
  }
}

/**
 * Builds a {@link FlowerClient} for a tfjs model: get_parameters returns `model.getWeights()`
 * as float32 `.npy` tensors; fit loads the server's weights, trains E local epochs of
 * minibatch SGD (or DP-SGD), applies the client-side privacy and returns the weights, the
 * example count and `train_loss` (plus `norm_bit` when the server sent `clipping_norm`);
 * evaluate returns the mean cross-entropy and `accuracy`.
 *
 * @remarks
 * Privacy, all computed on the device before the upload:
 * - `clipping_norm` in a fit config (Flower's `DifferentialPrivacyClientSideFixedClipping` and
 *   `…AdaptiveClipping`): the update is clipped to it ({@link clipModelUpdate}) and the metric
 *   `norm_bit` reports whether it was clipped. The guarantee is central DP, from the server's
 *   noise; the client spends nothing of its own.
 * - `privacy.kind = "local"`: clip to C and add N(0, (zC)²) ({@link localDpUpdate}); ε per
 *   fit from `gaussian(z/2)` (replace-one client data, sensitivity 2C), composed over fits with
 *   the RDP accountant.
 * - `privacy.kind = "dpsgd"`: local training is DP-SGD with Poisson sampling at q = B/n, T =
 *   E·⌈n/B⌉ steps, per-example clip C and noise zC; example-level ε from
 *   `selfComposed(poissonSampled(q, gaussian(z)), T)` per fit, composed over fits.
 * Order when several apply: DP-SGD training, then `clipping_norm`, then local DP noise.
 *
 * @param options - model, data, privacy and defaults
 * @returns the client (pass it to {@link runFlowerClient})
 * @throws {@link DpError} `invalid_parameter` for bad options
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createTfjsFlowerClient } from "dpkit/flower";
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [2], activation: "softmax" })] });
 * const client = createTfjsFlowerClient({ model, inputShape: [2],
 *   train: { x: new Float32Array([0, 1, 1, 0]), y: new Uint8Array([0, 1]), count: 2 } });
 * client.getParameters({}).length; // 2 (kernel and bias)
 * ```
 */
export function createTfjsFlowerClient(options: TfjsFlowerClientOptions): TfjsFlowerClient {
  const { model, inputShape } = options;
  const width = inputShape.reduce((a, b) => a * b, 1);
  checkDataset("train", options.train, width);
  const test = options.test ?? options.train;
  checkDataset("test", test, width);
  const outputs = requireOneOf("outputs", options.outputs ?? "probabilities", ["probabilities", "logits"] as const);
  const privacy: FlowerClientPrivacy = options.privacy ?? { kind: "none" };
  requireOneOf("privacy.kind", privacy.kind, ["none", "local", "dpsgd"] as const);
  if (privacy.kind !== "none") {
    requirePositive("privacy.l2NormClip", privacy.l2NormClip);
    requireNonNegative("privacy.noiseMultiplier", privacy.noiseMultiplier);
    if (privacy.kind === "dpsgd" && outputs !== "probabilities") {
      throw new DpError("invalid_parameter", '`privacy.kind` "dpsgd" needs a model with probability outputs (softmax).', "privacy.kind");
    }
  }
  const delta = requireOpenProbability("targetDelta", options.targetDelta ?? 1e-5);
  const defaults = options.defaults ?? {};
  const loss = outputs === "probabilities" ? probabilityCrossEntropyLoss : softmaxCrossEntropyLoss;
  const shapes = (): number[][] => model.getWeights().map((w) => w.shape.slice());
  const events: DpEvent[] = [];
  let fitRounds = 0;
  let evaluateRounds = 0;

  const dpSgdTrain = (
    global: Float32Array,
    s: { localEpochs: number; batchSize: number; learningRate: number },
    clip: number,
    z: number,
  ): { trained: Float32Array; meanLoss: number; event: DpEvent } => {
    const n = options.train.count;
    const b = Math.min(s.batchSize, Math.max(n, 1));
    const q = n > 0 ? Math.min(1, b / n) : 1;
    const steps = s.localEpochs * Math.max(1, Math.ceil(n / b));
    const plan = { inputShape, loss: "sparseCategoricalCrossentropy" as const, steps, q, clip, z, learningRate: s.learningRate };
    const { trained, meanLoss } = runLocalDpSgd(model, options.train, plan, global, options.rng, options.allowInsecureRng);
    return {
      trained,
      meanLoss,
      event: dpSgdLocalEvent({ localSamplingProbability: q, localSteps: steps, noiseMultiplier: z }),
    };
  };

  const epsilonNow = (): number | undefined => {
    if (privacy.kind === "none" || events.length === 0) return undefined;
    const acc = new RdpAccountant();
    for (const e of events) acc.compose(e);
    return acc.getEpsilon(delta);
  };

  return {
    getProperties(): FlowerScalars {
      return {
        framework: "dpkit",
        model_parameters: BigInt(model.countParams()),
        num_examples: BigInt(options.train.count),
        dp: privacy.kind,
        ...(options.properties ?? {}),
      };
    },

    getParameters(): NpyArray[] {
      return flatWeightsToArrays(flattenWeights(model), shapes());
    },

    fit(parameters: NpyArray[], config: FlowerScalars): FlowerFitResult {
      const sh = shapes();
      const global = arraysToFlatWeights(parameters, sh);
      const s = fitSettingsFromConfig(config, defaults);
      let trained: Float32Array;
      let meanLoss: number;
      if (privacy.kind === "dpsgd") {
        const r = dpSgdTrain(global, s, privacy.l2NormClip, privacy.noiseMultiplier);
        trained = r.trained;
        meanLoss = r.meanLoss;
        events.push(r.event);
      } else {
        const r = trainLocalUpdate({
          model,
          globalWeights: global,
          data: options.train,
          inputShape,
          localEpochs: s.localEpochs,
          localBatchSize: s.batchSize,
          learningRate: s.learningRate,
          loss,
          rng: options.rng,
        });
        trained = new Float32Array(r.delta.length);
        for (let i = 0; i < trained.length; i++) trained[i] = global[i] + r.delta[i];
        meanLoss = r.meanLoss;
      }
      const metrics: FlowerScalars = {};
      if (Number.isFinite(meanLoss)) metrics.train_loss = meanLoss;
      if (s.clippingNorm !== undefined) {
        const c = clipModelUpdate(trained, global, s.clippingNorm);
        trained = c.weights;
        metrics[FLOWER_NORM_BIT_KEY] = c.clipped;
      }
      if (privacy.kind === "local") {
        trained = localDpUpdate(trained, global, {
          l2NormClip: privacy.l2NormClip,
          noiseMultiplier: privacy.noiseMultiplier,
          rng: options.rng,
          allowInsecureRng: options.allowInsecureRng,
        }).weights;
        events.push(localDpEvent(privacy.noiseMultiplier));
      }
      fitRounds++;
      const eps = epsilonNow();
      if (eps !== undefined && Number.isFinite(eps)) metrics.epsilon = eps;
      return { parameters: flatWeightsToArrays(trained, sh), numExamples: options.train.count, metrics };
    },

    evaluate(parameters: NpyArray[], config: FlowerScalars): FlowerEvaluateResult {
      const global = arraysToFlatWeights(parameters, shapes());
      setFlatWeights(model, global);
      const steps = asNumber(config, ["val_steps"]);
      const limit = steps ? Math.min(test.count, Math.max(0, Math.floor(steps.value)) * 32) : test.count;
      let lossSum = 0;
      let correct = 0;
      for (let start = 0; start < limit; start += 256) {
        const end = Math.min(limit, start + 256);
        const idx = Int32Array.from({ length: end - start }, (_, k) => start + k);
        const [l, c] = tf.tidy(() => {
          const { x, y } = gatherBatch(test, inputShape, idx);
          const out = model.predict(x) as tf.Tensor;
          const batchLoss = loss(y, out).mul(end - start);
          const hits = out.argMax(-1).equal(y.cast("int32")).sum();
          return [batchLoss.dataSync()[0], hits.dataSync()[0]];
        });
        lossSum += l;
        correct += c;
      }
      evaluateRounds++;
      return { loss: limit > 0 ? lossSum / limit : 0, numExamples: limit, metrics: { accuracy: limit > 0 ? correct / limit : 0 } };
    },

    summary(): FlowerClientSummary {
      const epsilon = epsilonNow();
      return {
        fitRounds,
        evaluateRounds,
        examples: options.train.count,
        ...(epsilon !== undefined ? { epsilon, delta } : {}),
        event: composedEvent(events),
      };
    },
  };
}
